/**
 * What the dispatcher and the requests it hands on (play_request.ts) work with: the server's
 * parts, given once. Its own module so that neither of those two imports the other for it.
 * @module
 */

import type { SegmentStore } from "../video/segment_store.ts";
import type { VideoLibrary } from "../video/video_library.ts";
import type { ServerClient } from "./member.ts";
import type { Community } from "./community/community.ts";
import type { LeadGate } from "./streaming/lead_gate.ts";
import type { ServerLimits } from "./limits.ts";
import type { ServerLog } from "./ops/server_log.ts";
import type { ServerStats } from "./ops/server_stats.ts";
import type { RoomContext } from "./room_context.ts";

/** What the dispatcher works with. */
export interface DispatchContext {
  /** The limits. */
  readonly limits: ServerLimits;
  /** The log. */
  readonly log: ServerLog;
  /** Presence, names and the relay of sealed messages (this process, or a cluster node). */
  readonly community: Community<ServerClient>;
  /** Segments shared by every viewer. */
  readonly store: SegmentStore;
  /** The shared write backlog that puts urgent segments ahead of lead filling. */
  readonly leadGate: LeadGate;
  /** The video library. @throws {PeerstreamError} `VIDEO_NOT_READY` or `VIDEO_FAILED`. */
  videos(): VideoLibrary;
  /** The counters of `--metrics`. */
  readonly stats: ServerStats;
  /** Resolves once the library is open; rejects when it cannot be. @default {never, when absent} */
  videosLoaded?(): Promise<VideoLibrary>;
  /** The rooms (issue 20); absent in a server started without them, which refuses room requests. */
  readonly rooms?: RoomContext;
}
