/**
 * A `play` request: finds the title (by name, or the reference's `dog_720p.mp4` form), checks it
 * is ready and has the quality asked, and starts the viewer's stream session.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { logText } from "../protocol/text.ts";
import type { PlayMessage, Quality } from "../protocol/messages.ts";
import { normalizePlayArgument, suggestTitles } from "../video/catalog.ts";
import type { PreparedTitle } from "../video/segmenter.ts";
import type { VideoLibrary } from "../video/videos.ts";
import { within } from "./_async.ts";
import type { ServerClient } from "./client.ts";
import type { DispatchContext } from "./dispatch.ts";
import { StreamSession } from "./stream_session.ts";

/**
 * Starts a stream for a `play` request; a running stream is replaced.
 *
 * @param client The viewer.
 * @param message The request.
 * @param ctx The server's parts.
 * @throws {PeerstreamError} `VIDEO_NOT_FOUND`, `VIDEO_NOT_READY`, `VIDEO_FAILED` or
 * `RENDITION_NOT_FOUND`.
 */
export function startPlay(client: ServerClient, message: PlayMessage, ctx: DispatchContext): void {
  const { prepared, quality } = findTitle(ctx.videos(), message);
  // A PLAY replaces the running stream: it ends with stream-end "stopped" before the new start.
  client.stream?.replace();
  const session = new StreamSession(client.conn, {
    streamId: client.nextStreamId++,
    requestId: message.id,
    prepared,
    store: ctx.store,
    leadGate: ctx.leadGate,
    quality,
    position: message.position,
    maxUnackedBytes: ctx.limits.maxUnackedMediaBytes,
    stallStepDownMs: ctx.limits.stallStepDownMs,
    stallStopMs: ctx.limits.stallStopMs,
    pauseTimeoutMs: ctx.limits.pauseTimeoutMs,
    onSegment: (lag) => ctx.stats.segment(lag),
    onEnd: (reason, detail) => {
      if (client.stream === session) client.stream = undefined;
      ctx.log.limited(
        client.id,
        `stream #${client.id} "${client.name}" ${prepared.name}: ${reason}${
          detail ? ` (${detail})` : ""
        }`,
        { event: "stream-end", fields: { reason } },
      );
      // Let stream-end reach the viewer if it can still take it, then drop the viewer.
      if (detail?.startsWith("SLOW_CONSUMER")) {
        ctx.stats.limit("slow_consumer");
        client.closeWhy ??= "SLOW_CONSUMER: it did not read its stream";
        within(client.conn.flush(), 500).then(() => client.conn.close("SLOW_CONSUMER"));
      }
    },
  });
  client.stream = session;
  ctx.log.limited(client.id, `play #${client.id} "${client.name}" ${prepared.name} ${quality}`, {
    event: "play",
  });
  session.start();
}

/** The client's title in an error message: quoted, escaped and cut. */
function quoted(title: string): string {
  return logText(title, 64);
}

function findTitle(
  videos: VideoLibrary,
  message: PlayMessage,
): { prepared: PreparedTitle; quality: Quality } {
  const title = message.title;
  let entry = videos.get(title);
  let quality = message.quality;
  if (entry === null) {
    // The reference's form: PLAY dog_720p.mp4 names the title "dog" at 720p.
    const target = normalizePlayArgument(title);
    if (target !== null) {
      entry = videos.get(target.title);
      if (target.height !== null && quality === "auto") quality = target.height;
    }
  }
  if (entry === null) {
    const close = suggestTitles(title, videos.list().map((v) => v.title));
    throw new PeerstreamError(
      "VIDEO_NOT_FOUND",
      `Cannot play ${quoted(title)}: no such title; ${
        close.length > 0
          ? `did you mean ${close.map((t) => `"${t}"`).join(", ")}?`
          : "run LIST to see titles"
      }`,
    );
  }
  if (entry.status.state === "failed") {
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot play ${quoted(title)}: ${entry.status.message}`,
    );
  }
  if (entry.status.state === "preparing" || entry.prepared === null) {
    const percent = entry.status.state === "preparing"
      ? ` (${Math.round(entry.status.progress * 100)}%)`
      : "";
    throw new PeerstreamError(
      "VIDEO_NOT_READY",
      `Cannot play ${quoted(title)} yet: it is being prepared${percent}; try again shortly`,
    );
  }
  const prepared = entry.prepared;
  if (quality !== "auto" && !prepared.renditions.some((r) => r.height === quality)) {
    throw new PeerstreamError(
      "RENDITION_NOT_FOUND",
      `Cannot play "${prepared.name}" at ${quality}p; available: ${
        prepared.renditions.map((r) => `${r.height}p`).join(", ")
      } or auto`,
    );
  }
  return { prepared, quality };
}
