/**
 * One HLS load viewer: fetches a media playlist, then its segments over its own keep-alive
 * connection at real-time pace, never more than peerstream's lead ahead of its playhead, and
 * judges real time exactly as the peerstream viewer does ({@linkcode WatchRecord}; the playlist's
 * answer stands in for `stream-start`).
 * @module
 */

import { concat } from "../protocol/e2e.ts";
import type { HttpConnection } from "./_http.ts";
import { WatchRecord } from "./_viewer.ts";

/** How far ahead of its playhead a viewer fetches, seconds: peerstream's lead (`leadSeconds`). */
export const LEAD_SECONDS = 6;

/** One segment of a media playlist. */
export interface PlaylistSegment {
  /** Its URI, as written in the playlist. */
  uri: string;
  /** Media start, seconds (sum of the durations before it). */
  start: number;
  /** Duration, seconds (`#EXTINF`). */
  duration: number;
}

/**
 * Parses an HLS media playlist: every `#EXTINF:<duration>,` line and the URI after it.
 *
 * @param text The playlist.
 * @returns The segments in order.
 * @throws {SyntaxError} When it is not a playlist or lists no segment.
 */
export function parseMediaPlaylist(text: string): PlaylistSegment[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== "#EXTM3U") throw new SyntaxError("Invalid playlist: no #EXTM3U first line");
  const segments: PlaylistSegment[] = [];
  let duration: number | null = null;
  let start = 0;
  for (const line of lines.slice(1)) {
    if (line.startsWith("#EXTINF:")) {
      duration = Number(/^#EXTINF:([0-9.]+)/.exec(line)?.[1] ?? NaN);
      if (!Number.isFinite(duration)) throw new SyntaxError(`Invalid playlist line "${line}"`);
    } else if (line !== "" && !line.startsWith("#") && duration !== null) {
      segments.push({ uri: line, start, duration });
      start += duration;
      duration = null;
    }
  }
  if (segments.length === 0) throw new SyntaxError("Invalid playlist: no segments");
  return segments;
}

/** Drives one HLS stream on its own connection. */
export class HlsViewer extends WatchRecord {
  readonly conn: HttpConnection;
  #stopped = false;
  #wake: (() => void) | null = null;

  /** @param conn The viewer's own connection. */
  constructor(conn: HttpConnection) {
    super();
    this.conn = conn;
  }

  /**
   * Fetches the playlist, then its segments paced to real time; resolves when the title ends,
   * the viewer is stopped, or a request fails (recorded as the viewer's error).
   *
   * @param playlist The media playlist's path.
   */
  async play(playlist: string): Promise<void> {
    this.playSentAt = performance.now();
    try {
      const chunks: Uint8Array[] = [];
      const answer = await this.conn.get(playlist, (chunk) => chunks.push(chunk.slice()));
      if (answer.status !== 200) throw new Error(`GET ${playlist}: HTTP ${answer.status}`);
      // The playlist stands in for peerstream's stream-start.
      this.startAt = performance.now();
      const list = parseMediaPlaylist(new TextDecoder().decode(concat(chunks)));
      for (const segment of list) {
        await this.#waitUntilDue(segment.start);
        if (this.#stopped) return;
        const got = await this.conn.get(segment.uri, (chunk, now, remaining) => {
          if (chunk.length > 0 && Number.isNaN(this.firstByteAt)) this.firstByteAt = now;
          this.mediaBytes += chunk.length;
          if (remaining === 0) this.completeSegment(now, segment.start + segment.duration);
        });
        if (got.status !== 200) throw new Error(`GET ${segment.uri}: HTTP ${got.status}`);
      }
    } catch (error) {
      if (!this.#stopped) this.error ??= (error as Error)?.message ?? String(error);
    }
  }

  /** Stops fetching and closes the connection. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.conn.close();
  }

  /** Waits until a segment starting at `start` is at most the lead ahead of the playhead. */
  async #waitUntilDue(start: number) {
    while (!this.#stopped) {
      const playhead = Number.isNaN(this.firstByteAt)
        ? 0
        : (performance.now() - this.firstByteAt) / 1000;
      const wait = (start - LEAD_SECONDS - playhead) * 1000;
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }
}
