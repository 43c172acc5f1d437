/**
 * The preparation cache's keys and folders: a title is prepared into
 * `${cacheDir}/prepared/<key>/` (key = SHA-256 of {@linkcode PREPARATION_VERSION}, the codec, the
 * segment length, the encoder settings and each source's path, size and mtime), built under a
 * `.tmp-*` name that is touched while its preparation runs; one left behind by a server that died
 * (SIGKILL, a closed terminal) is removed by the next {@linkcode sweepStaleFolders}.
 * @module
 */

import { ladderArgs, remuxArgs } from "./ffmpeg_args.ts";
import { maxBitrateFor, planLadder } from "./ladder.ts";
import type { Title } from "./library_scan.ts";
import type { VideoCodec } from "./prepared_title.ts";

/**
 * The version of what preparation writes. Bump it when a change to this module or to the ffmpeg
 * arguments it builds changes the segments, so that caches prepared by older code are not served
 * (the encoder settings themselves are part of the key as well).
 */
export const PREPARATION_VERSION = 3;

/** The ffmpeg arguments a title would be prepared with, with placeholder paths. */
function _encoderSettings(title: Title, codec: VideoCodec, seg: number): string[][] {
  const steps = planLadder(title.renditions.map((r) => r.height));
  const inputs = title.renditions.map((_, i) => `input${i}`);
  const outputs = steps.map((s, i) => ({
    input: s.source,
    height: s.height,
    dir: `output${i}`,
    maxBitrate: maxBitrateFor(s.height),
  }));
  const fps = Math.min(...title.renditions.map((r) => r.probe.fps || 25));
  const audio = codec === "h264" && title.hasAudio;
  const settings = [ladderArgs({ inputs, outputs, codec, segmentSeconds: seg, fps, audio })];
  if (codec === "h264" && steps.length === inputs.length) {
    const dirs = outputs.map((o) => o.dir);
    for (const a of ["copy", "aac", "none"] as const) {
      settings.push(remuxArgs({ inputs, dirs, segmentSeconds: seg, audio: a }));
    }
  }
  return settings;
}

/**
 * The cache key of a title: SHA-256 (hex) of {@linkcode PREPARATION_VERSION}, the codec, the
 * segment length, the ffmpeg arguments it would be prepared with, and each source's path, size
 * and modification time. Code or settings that change the segments change the key.
 *
 * @param title The title.
 * @param codec The codec.
 * @param segmentSeconds The segment length.
 * @returns 64 hex digits.
 */
export async function preparationKey(
  title: Title,
  codec: VideoCodec,
  segmentSeconds: number,
): Promise<string> {
  const sources = [];
  for (const r of title.renditions) {
    const info = await Deno.stat(r.path);
    sources.push({ path: r.path, size: info.size, mtime: info.mtime?.getTime() ?? 0 });
  }
  const text = JSON.stringify({
    v: PREPARATION_VERSION,
    codec,
    segmentSeconds,
    settings: _encoderSettings(title, codec, segmentSeconds),
    sources,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}

/** How often a running preparation touches its temporary folder, ms. */
export const HEARTBEAT_MS = 10_000;

/** A temporary folder untouched this long belongs to a preparation that died, ms. */
export const STALE_FOLDER_MS = 120_000;

/**
 * Removes the temporary folders of preparations that died (a server killed mid-preparation):
 * `.tmp-*` folders under `${cacheDir}/prepared` untouched for `staleMs`. A running preparation,
 * in this process or another sharing the cache, touches its folder every 10 s and is kept.
 *
 * @param cacheDir The cache folder.
 * @param options The age after which a folder is stale, and the current time.
 * @returns The names of the folders removed.
 */
export async function sweepStaleFolders(
  cacheDir: string,
  options: { staleMs?: number; now?: number } = {},
): Promise<string[]> {
  const staleMs = options.staleMs ?? STALE_FOLDER_MS;
  const now = options.now ?? Date.now();
  const root = `${cacheDir}/prepared`;
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (!entry.isDirectory || !entry.name.startsWith(".tmp-")) continue;
      const info = await Deno.stat(`${root}/${entry.name}`).catch(() => null);
      const touched = info?.mtime?.getTime() ?? now;
      if (now - touched < staleMs) continue;
      await Deno.remove(`${root}/${entry.name}`, { recursive: true }).catch(() => {});
      removed.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed.sort();
}

/**
 * A fresh temporary folder name for preparing the title with this key, beside its final folder.
 *
 * @param root `${cacheDir}/prepared`.
 * @param key The title's {@linkcode preparationKey}.
 * @returns The path (not created).
 */
export function temporaryFolder(root: string, key: string): string {
  return `${root}/.tmp-${key.slice(0, 16)}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Touches a temporary folder every {@linkcode HEARTBEAT_MS} while its preparation runs, so that a
 * sweep by another server never takes a live folder.
 *
 * @param dir The temporary folder.
 * @returns Stops touching it.
 */
export function keepTouched(dir: string): () => void {
  const timer = setInterval(() => {
    const now = new Date();
    Deno.utime(dir, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  return () => clearInterval(timer);
}
