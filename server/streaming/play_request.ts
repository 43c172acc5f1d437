/**
 * A `play` request: finds the title (by name, or the reference's `dog_720p.mp4` form), checks it
 * is ready and has the quality asked, and starts the viewer's stream session.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { quoted } from "../../protocol/text.ts";
import type { PlayMessage, Quality, VideoSummary } from "../../protocol/messages.ts";
import { normalizePlayArgument, suggestTitles } from "../../video/catalog.ts";
import type { PreparedTitle } from "../../video/prepared_title.ts";
import type { VideoLibrary } from "../../video/video_library.ts";
import { within } from "../_async.ts";
import type { ServerClient } from "../member.ts";
import type { DispatchContext } from "../dispatch_context.ts";
import { StreamSession, switchText } from "./stream_session.ts";

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
  let videos: VideoLibrary;
  try {
    videos = ctx.videos();
  } catch (error) {
    // The library is still loading: tell the client once it is open and the title ready.
    const loaded = ctx.videosLoaded?.();
    if (_isNotReady(error) && loaded !== undefined) _tellWhenReady(client, loaded, message);
    throw error;
  }
  const { prepared, quality } = findTitle(videos, message, () => {
    _tellWhenReady(client, Promise.resolve(videos), message);
  });
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
    onSwitch: (change) =>
      ctx.log.limited(client.id, `auto #${client.id} ${switchText(change)}`, {
        event: "auto",
        fields: { from: change.from, to: change.to, segment: change.index },
      }),
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

/** Most titles one client waits on at once (a title is waited on once, however often asked). */
export const MAX_READY_WAITS = 16;

/**
 * The list as `videos` carries it, from the library.
 *
 * @param library The video library.
 * @returns One summary per title.
 */
export function listVideos(library: VideoLibrary): VideoSummary[] {
  return library.list().map((v) => ({
    title: v.title,
    heights: v.heights,
    duration: v.duration,
    hasAudio: v.hasAudio,
    state: v.status.state,
    progress: v.status.state === "preparing" ? v.status.progress : 1,
  }));
}

function _isNotReady(error: unknown): boolean {
  return error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY";
}

/**
 * A `play` found its title (or the library) still being prepared: once it is ready (or failed),
 * the client gets the list unprompted, as a `videos` whose `re` is that `play`'s id. A client that
 * no longer waits on that id (an older one) ignores it as an answer to nothing (docs/PROTOCOL.md).
 */
function _tellWhenReady(client: ServerClient, loaded: Promise<VideoLibrary>, message: PlayMessage) {
  const waits = client.readyWaits;
  if (waits.has(message.title) || waits.size >= MAX_READY_WAITS) return;
  waits.add(message.title);
  const settled = loaded.then(async (library) => {
    const found = _lookup(library, message.title);
    if (found !== null) await library.ready(found.entry.title.name).catch(() => {});
    return library;
  });
  settled.then((library) => {
    waits.delete(message.title);
    if (client.state !== "registered") return;
    client.conn.send({ type: "videos", re: message.id, videos: listVideos(library) });
  }, () => waits.delete(message.title));
}

/** A title by name, or by the reference's `dog_720p.mp4` form with its height. */
function _lookup(videos: VideoLibrary, title: string) {
  const entry = videos.get(title);
  if (entry !== null) return { entry, height: null };
  // The reference's form: PLAY dog_720p.mp4 names the title "dog" at 720p.
  const target = normalizePlayArgument(title);
  if (target === null) return null;
  const named = videos.get(target.title);
  return named === null ? null : { entry: named, height: target.height };
}

/**
 * A title a room may start (watching together): found as `play` finds it, and ready.
 *
 * @param videos The library.
 * @param title The title asked for.
 * @returns The library's name of the title and its length, seconds.
 * @throws {PeerstreamError} `VIDEO_NOT_FOUND`, `VIDEO_NOT_READY` or `VIDEO_FAILED`.
 */
export function findPlayable(
  videos: VideoLibrary,
  title: string,
): { name: string; duration: number } {
  const message: PlayMessage = { type: "play", id: 0, title, quality: "auto" };
  const { prepared } = findTitle(videos, message, () => {});
  return { name: prepared.name, duration: prepared.duration };
}

function findTitle(
  videos: VideoLibrary,
  message: PlayMessage,
  onPreparing: (title: string) => void,
): { prepared: PreparedTitle; quality: Quality } {
  const title = message.title;
  const found = _lookup(videos, title);
  const entry = found?.entry ?? null;
  const height = found?.height ?? null;
  const quality = height !== null && message.quality === "auto" ? height : message.quality;
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
    onPreparing(entry.title.name);
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
