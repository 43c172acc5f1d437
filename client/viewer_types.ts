/**
 * What the viewer takes and tells: the session it drives, its options, its notices and its status
 * line. Re-exported by `client/viewer.ts`.
 * @module
 */

import type { Quality, StreamSeekMessage, StreamStartMessage } from "../protocol/messages.ts";
import type { Player, PlayerStart, PlayerStats } from "./player.ts";
import type { PlayoutConfig } from "./playout.ts";
import type { MediaSink } from "./session.ts";

/** What the viewer needs of a session (a {@linkcode ClientSession} has it). */
export interface ViewerSession {
  /** The server's running stream, if any. */
  readonly stream: StreamStartMessage | undefined;
  /** Starts a stream (replacing one that runs). */
  play(
    title: string,
    options: { quality: Quality; position?: number; sink: (info: StreamStartMessage) => MediaSink },
  ): Promise<StreamStartMessage>;
  /** Stops the running stream. */
  stop(): Promise<void>;
  /** Holds the running stream. */
  pause(): Promise<void>;
  /** Continues it. */
  resume(): Promise<void>;
  /** Jumps. */
  seek(position: number): Promise<StreamSeekMessage>;
  /** Changes quality, jumping when a position is given. */
  setQuality(quality: Quality, options?: { position?: number }): Promise<StreamSeekMessage | null>;
}

/** Something the person should be told. */
export type ViewerEvent =
  /** A stream started (the player opens). */
  | { kind: "playing"; info: StreamStartMessage }
  /** A rendition reached the screen. */
  | { kind: "rendition"; title: string; height: number; bitrate: number }
  /** A jump landed: the new epoch starts at `position`. */
  | { kind: "moved"; title: string; position: number; paused: boolean }
  /** The player showed the end. */
  | { kind: "finished"; title: string; stats?: PlayerStats }
  /** STOP took effect. */
  | { kind: "stopped"; title: string; stats?: PlayerStats }
  /** The player exited before the end (its window was closed): the stream is stopped. */
  | { kind: "player-closed"; title: string; why?: string }
  /** The stream failed (server error, no player, a server ignoring the hold). */
  | { kind: "failed"; title: string; message: string; stats?: PlayerStats }
  /** The player stopped taking the video (paused in its own window, or too slow): held. */
  | { kind: "held"; title: string }
  /** The player takes the video again: the stream continues. */
  | { kind: "released"; title: string };

/** The status line: what is on screen now. */
export interface ViewerStatus {
  /** The title. */
  title: string;
  /** The second on screen. */
  position: number;
  /** The title's length, seconds. */
  duration: number;
  /** The height on screen (0 before the first frame). */
  height: number;
  /** Its bit rate. */
  bitrate: number;
  /** PAUSE is in effect. */
  paused: boolean;
  /** The stream is held on the server because the player is not reading. */
  waiting: boolean;
}

/** Options for {@linkcode Viewer}. */
export interface ViewerOptions {
  /** The session whose streams are shown. */
  session: ViewerSession;
  /**
   * Starts a player for a stream, or for a jump's new epoch (where it starts in it); throws when it
   * cannot (e.g. no display).
   */
  openPlayer: (info: StreamStartMessage, start: PlayerStart) => Player;
  /** Where notices go. */
  onEvent: (event: ViewerEvent) => void;
  /** The clock, ms. @default {performance.now} */
  now?: () => number;
  /** The playout queue's bounds. @default {PLAYOUT_DEFAULTS} */
  playout?: Readonly<PlayoutConfig>;
}
