/**
 * Preparation of a title into aligned segments: every rendition is cut at the same times and every
 * segment starts with a keyframe, so a viewer can switch rendition at any segment boundary.
 *
 * Results are cached in `${cacheDir}/prepared/<key>/` (key = SHA-256 of
 * {@linkcode PREPARATION_VERSION}, the codec, the segment length, the encoder settings and each
 * source's path, size and mtime) and reused across restarts; `manifest.json` is written last and
 * the folder is built under a temporary name, so an incomplete folder is never used. A temporary
 * folder is touched while its preparation runs; one left behind by a server that died (SIGKILL, a
 * closed terminal) is removed by the next {@linkcode sweepStaleFolders}.
 *
 * Sources that are already aligned H.264 (one file per rendition, keyframes at the same times in
 * every file, spaced about one segment apart) are remuxed with `-c:v copy`; all others are encoded
 * once (FIELD_NOTES: a remux is about 100× faster but can only cut at existing keyframes).
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import {
  keyframeTimesArgs,
  ladderArgs,
  type LadderOutput,
  PLAYLIST_NAME,
  remuxArgs,
  SEGMENT_LIST_NAME,
} from "./ffmpeg_args.ts";
import {
  type ListedSegment,
  parseHlsPlaylist,
  parseKeyframeTimes,
  parseProgressLine,
  parseSegmentCsv,
} from "./ffmpeg_parse.ts";
import { probe, runTool } from "./ffmpeg.ts";
import { resolutionLabel } from "./catalog.ts";
import type { Title } from "./library_scan.ts";
import { lockPreparation } from "./prep_lock.ts";

/** Codecs a title can be prepared in. */
export type VideoCodec = "h264" | "mjpeg";

/** How a title was prepared: sources remuxed without re-encoding, or encoded. */
export type PrepareMethod = "remux" | "encode";

/** One prepared segment of a rendition. */
export interface PreparedSegment {
  /** Position in the rendition, from 0. */
  index: number;
  /** Start time in seconds from the start of the title. */
  start: number;
  /** Duration in seconds. */
  duration: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Absolute path of the segment file. */
  path: string;
}

/** One prepared rendition. */
export interface PreparedRendition {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Measured bit rate over its segments, in bits/s. */
  bitrate: number;
  /** Its segments, with the same count and boundaries as every other rendition of the title. */
  segments: PreparedSegment[];
}

/** A title prepared for streaming. */
export interface PreparedTitle {
  /** The title. */
  name: string;
  /** The video codec of the segments. */
  codec: VideoCodec;
  /** `mpegts` for H.264 + AAC; `mjpeg` for raw JPEG streams (no timestamps: tell players `fps`). */
  container: "mpegts" | "mjpeg";
  /** Sum of segment durations in seconds. */
  duration: number;
  /** Whether the segments carry audio. */
  hasAudio: boolean;
  /** Frames per second. */
  fps: number;
  /** Renditions in ascending height. */
  renditions: PreparedRendition[];
  /** How it was prepared (`encode` for folders prepared before remuxing existed). */
  method?: PrepareMethod;
  /** Whether it was found prepared in the cache rather than prepared now. */
  cached?: boolean;
  /** Its prepared folder (where `video/poster.ts` keeps its poster). */
  dir?: string;
}

/** Options for {@linkcode prepareTitle}. */
export interface PrepareOptions {
  /** Cache folder; output goes to `${cacheDir}/prepared/<key>/`. */
  cacheDir: string;
  /** Codec of the segments. @default {"h264"} */
  codec?: VideoCodec;
  /** Segment length in seconds. @default {2} */
  segmentSeconds?: number;
  /** Aborting kills ffmpeg and removes the partial output. */
  signal?: AbortSignal;
  /** Called with the fraction done, from 0 to 1. */
  onProgress?: (fraction: number) => void;
  /** Called with a line saying whether the title is remuxed or encoded, and why. */
  onLog?: (line: string) => void;
}

/** Heights a single source may be scaled down to. */
export const LADDER_HEIGHTS: readonly number[] = [240, 360, 480, 720, 1080];
/** Most renditions derived from a single source. */
export const MAX_DERIVED_RENDITIONS = 3;

/**
 * Peak H.264 bit rate (`-maxrate`) for a height, in bits/s: about 0.1 bit per pixel at 25 fps,
 * at least 300 kbit/s.
 *
 * @param height Height in pixels.
 * @returns Bits per second.
 */
export function maxBitrateFor(height: number): number {
  const width = (height * 16) / 9;
  return Math.max(300_000, Math.round((width * height * 25 * 0.1) / 1000) * 1000);
}

/** A rendition to produce: which source and which height. */
export interface LadderStep {
  /** Index in the title's source renditions. */
  source: number;
  /** Output height. */
  height: number;
}

/**
 * Plan the renditions of a title. Several sources: one rendition each, at its own height. A single
 * source: the heights of {@linkcode LADDER_HEIGHTS} up to its height (never upscaled), at most
 * {@linkcode MAX_DERIVED_RENDITIONS} (the lowest, the highest and one between), or just its own
 * height when it is below 240p.
 *
 * @param sourceHeights Heights of the sources in ascending order.
 * @returns The renditions in ascending height.
 */
export function planLadder(sourceHeights: readonly number[]): LadderStep[] {
  if (sourceHeights.length !== 1) {
    return sourceHeights.map((height, source) => ({ source, height: height - (height % 2) }));
  }
  const top = sourceHeights[0];
  const fits = LADDER_HEIGHTS.filter((h) => h <= top);
  if (fits.length === 0) return [{ source: 0, height: top - (top % 2) }];
  let picked = fits;
  if (fits.length > MAX_DERIVED_RENDITIONS) {
    picked = [fits[0], fits[Math.floor(fits.length / 2)], fits[fits.length - 1]];
  }
  return picked.map((height) => ({ source: 0, height }));
}

interface _Manifest {
  version: 1;
  name: string;
  codec: VideoCodec;
  container: "mpegts" | "mjpeg";
  duration: number;
  hasAudio: boolean;
  fps: number;
  method?: PrepareMethod;
  renditions: {
    height: number;
    width: number;
    bitrate: number;
    segments: { index: number; start: number; duration: number; bytes: number; file: string }[];
  }[];
}

/** Name of the manifest file of a prepared folder. */
export const MANIFEST_NAME = "manifest.json";

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
const HEARTBEAT_MS = 10_000;

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

function _fromManifest(dir: string, m: _Manifest): PreparedTitle {
  return {
    name: m.name,
    dir,
    codec: m.codec,
    container: m.container,
    duration: m.duration,
    hasAudio: m.hasAudio,
    fps: m.fps,
    method: m.method ?? "encode",
    renditions: m.renditions.map((r) => ({
      height: r.height,
      width: r.width,
      bitrate: r.bitrate,
      segments: r.segments.map((s) => ({
        index: s.index,
        start: s.start,
        duration: s.duration,
        bytes: s.bytes,
        path: `${dir}/${s.file}`,
      })),
    })),
  };
}

async function _readManifest(dir: string): Promise<_Manifest | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${MANIFEST_NAME}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
  try {
    const m = JSON.parse(text) as _Manifest;
    if (m.version !== 1 || !Array.isArray(m.renditions) || m.renditions.length === 0) return null;
    return m;
  } catch {
    return null;
  }
}

/**
 * Check that every rendition has the same segment count and boundaries.
 *
 * @param lists Segment lists, one per rendition.
 * @param tolerance Largest accepted difference of a start or duration, in seconds.
 * @returns `null` when aligned, else a description of the first difference.
 */
export function checkAlignment(
  lists: readonly (readonly { duration: number }[])[],
  tolerance: number,
): string | null {
  const first = lists[0] ?? [];
  for (let r = 1; r < lists.length; r++) {
    const other = lists[r];
    if (other.length !== first.length) {
      return `rendition ${r} has ${other.length} segments, rendition 0 has ${first.length}`;
    }
    let a = 0;
    let b = 0;
    for (let i = 0; i < first.length; i++) {
      if (
        Math.abs(a - b) > tolerance || Math.abs(first[i].duration - other[i].duration) > tolerance
      ) {
        return `segment ${i} of rendition ${r} starts at ${b.toFixed(3)} s for ${
          other[i].duration.toFixed(3)
        } s, in rendition 0 at ${a.toFixed(3)} s for ${first[i].duration.toFixed(3)} s`;
      }
      a += first[i].duration;
      b += other[i].duration;
    }
  }
  return null;
}

/** Largest difference between the keyframe times of two renditions that still counts as equal. */
export const KEYFRAME_TOLERANCE = 0.001;

/**
 * Predict the segments the `hls` muxer cuts from a stream copied with `-c:v copy`: it starts a new
 * segment at the first keyframe at least `n × segmentSeconds` after the start, where `n` is the
 * number of segments cut so far (so a late cut is followed by a short segment).
 *
 * @param keyframes Keyframe times in seconds, ascending; the first is the start of the stream.
 * @param duration Length of the stream in seconds from its first keyframe (the last segment runs to
 * its end).
 * @param segmentSeconds Target segment length.
 * @returns Segment durations in seconds.
 */
export function predictSegments(
  keyframes: readonly number[],
  duration: number,
  segmentSeconds: number,
): number[] {
  if (keyframes.length === 0) return [];
  const start = keyframes[0];
  const cuts = [start];
  for (const k of keyframes.slice(1)) {
    if (k - start >= cuts.length * segmentSeconds - 1e-6) cuts.push(k);
  }
  const out = cuts.slice(1).map((c, i) => c - cuts[i]);
  const tail = start + duration - cuts[cuts.length - 1];
  if (tail > 1e-6) out.push(tail);
  return out;
}

/**
 * Check that sources can be remuxed into aligned segments without re-encoding: every rendition has
 * its keyframes at the same times (within {@linkcode KEYFRAME_TOLERANCE}), and cutting at them (see
 * {@linkcode predictSegments}) gives segments of roughly the target length: none longer than twice
 * `segmentSeconds` and none but the last shorter than 1 s (or `segmentSeconds` when shorter).
 *
 * @param keyframes Keyframe times of each rendition, in seconds.
 * @param duration Duration of the title in seconds.
 * @param segmentSeconds Target segment length.
 * @param names Names of the renditions for the message. @default {["rendition 0", ...]}
 * @returns `null` when the sources can be remuxed, else the reason they cannot.
 */
export function remuxProblem(
  keyframes: readonly (readonly number[])[],
  duration: number,
  segmentSeconds: number,
  names: readonly string[] = keyframes.map((_, i) => `rendition ${i}`),
): string | null {
  const first = keyframes[0] ?? [];
  for (let r = 0; r < keyframes.length; r++) {
    const other = keyframes[r];
    if (other.length === 0) return `${names[r]} has no keyframes`;
    if (other.length !== first.length) {
      return `${names[r]} has ${other.length} keyframes, ${names[0]} has ${first.length}`;
    }
    const i = other.findIndex((t, i) => Math.abs(t - first[i]) > KEYFRAME_TOLERANCE);
    if (i >= 0) {
      return `keyframe ${i} of ${names[r]} is at ${other[i].toFixed(3)} s, in ${names[0]} at ${
        first[i].toFixed(3)
      } s`;
    }
  }
  const slack = 0.05;
  const longest = 2 * segmentSeconds;
  const shortest = Math.min(1, segmentSeconds);
  const segments = predictSegments(first, duration, segmentSeconds);
  for (const [i, d] of segments.entries()) {
    const start = first[0] + segments.slice(0, i).reduce((n, x) => n + x, 0);
    if (d > longest + slack) {
      return `its keyframes are too far apart to cut ${segmentSeconds} s segments without re-encoding (${
        d.toFixed(2)
      } s from ${start.toFixed(2)} s; at most ${longest} s)`;
    }
    if (i < segments.length - 1 && d < shortest - slack) {
      return `its keyframes are too close together to cut ${segmentSeconds} s segments without re-encoding (${
        d.toFixed(2)
      } s from ${start.toFixed(2)} s; at least ${shortest} s)`;
    }
  }
  return null;
}

function _baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Why a title cannot be remuxed, or `null` when it can: H.264 segments, one source per rendition
 * kept at its own height, all H.264 yuv420p at the same frame rate, with keyframes that line up.
 */
async function _whyNotRemux(
  title: Title,
  codec: VideoCodec,
  steps: readonly LadderStep[],
  seg: number,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  if (codec !== "h264") return `${codec.toUpperCase()} segments are always encoded`;
  const sources = title.renditions;
  if (steps.length > sources.length) return "its lower renditions are derived from one source";
  const scaled = steps.find((s) => s.height !== sources[s.source].height);
  if (scaled !== undefined) {
    return `"${_baseName(sources[scaled.source].path)}" is scaled to ${scaled.height}p`;
  }
  for (const r of sources) {
    const name = `"${_baseName(r.path)}"`;
    if (r.probe.videoCodec !== "h264") return `${name} is ${r.probe.videoCodec}, not H.264`;
    if (r.probe.pixFmt !== "yuv420p") {
      return `${name} is ${r.probe.pixFmt ?? "unknown"}, not yuv420p`;
    }
    if (Math.abs(r.probe.fps - sources[0].probe.fps) > 0.01) {
      return `${name} is ${r.probe.fps} fps, "${_baseName(sources[0].path)}" ${
        sources[0].probe.fps
      } fps`;
    }
  }
  const names = sources.map((r) => `"${_baseName(r.path)}"`);
  const keyframes: number[][] = [];
  // One source at a time: a source that cannot be cut well ends the check without probing the rest.
  for (const [i, r] of sources.entries()) {
    const result = await runTool("ffprobe", keyframeTimesArgs(r.path), { signal });
    if (result.code !== 0) return `cannot list the keyframes of ${names[i]}`;
    keyframes.push(parseKeyframeTimes(new TextDecoder().decode(result.stdout)));
    const problem = remuxProblem(keyframes, title.duration, seg, names);
    if (problem !== null) return problem;
  }
  return null;
}

/** Run ffmpeg with progress; returns `null` on success, else why it failed. */
async function _runFfmpeg(
  args: string[],
  duration: number,
  options: PrepareOptions,
): Promise<string | null> {
  const result = await runTool("ffmpeg", args, {
    signal: options.signal,
    onStdoutLine: (line) => {
      const t = parseProgressLine(line);
      if (t !== null) options.onProgress?.(Math.min(0.99, Math.max(0, t / duration)));
    },
  });
  if (result.code === 0) return null;
  const detail = result.stderr.trim().split("\n").pop()?.trim();
  return `ffmpeg exited with code ${result.code}${detail ? ` (${detail})` : ""}`;
}

/** Read each output's segment list and check the alignment; returns the lists or the problem. */
async function _readLists(
  dirs: readonly string[],
  codec: VideoCodec,
  fps: number,
): Promise<ListedSegment[][] | string> {
  const lists: ListedSegment[][] = [];
  for (const dir of dirs) {
    const text = await Deno.readTextFile(
      `${dir}/${codec === "h264" ? PLAYLIST_NAME : SEGMENT_LIST_NAME}`,
    );
    lists.push(codec === "h264" ? parseHlsPlaylist(text) : parseSegmentCsv(text));
  }
  const problem = checkAlignment(lists, 0.5 / fps);
  if (problem !== null || lists[0].length === 0) {
    return `renditions are not aligned (${problem ?? "no segments"})`;
  }
  return lists;
}

async function _emptyDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir);
  }
}

/**
 * Prepare a title: make every rendition into aligned segments (or reuse the cached result).
 *
 * H.264 renditions are MPEG-TS segments with AAC audio when every source has audio; MJPEG
 * renditions are raw JPEG streams without audio. Sources that are already aligned H.264 (see
 * {@linkcode remuxProblem}; one source per rendition, none scaled) are remuxed without re-encoding
 * the video (AAC audio is copied, other audio encoded); when that fails or the result is not
 * aligned, or for any other title, the sources are encoded once. `onLog` says which and why;
 * {@linkcode PreparedTitle.method} records it.
 *
 * @param title The title, from {@linkcode scanLibrary}.
 * @param options The cache folder, the codec, the segment length, a signal, progress and log
 * callbacks.
 * @returns The prepared title.
 * @throws {PeerstreamError} `VIDEO_FAILED` when ffmpeg is missing or fails, or the renditions do
 * not line up.
 */
export async function prepareTitle(title: Title, options: PrepareOptions): Promise<PreparedTitle> {
  const codec = options.codec ?? "h264";
  const seg = options.segmentSeconds ?? 2;
  const { signal } = options;
  const log = options.onLog ?? (() => {});
  if (!(seg > 0) || title.renditions.length === 0) {
    throw new RangeError(`Cannot prepare "${title.name}": no sources or bad segment length ${seg}`);
  }
  const key = await preparationKey(title, codec, seg);
  const root = `${options.cacheDir}/prepared`;
  const finalDir = `${root}/${key}`;
  const cached = await _readManifest(finalDir);
  if (cached !== null) {
    options.onProgress?.(1);
    return { ..._fromManifest(finalDir, cached), cached: true };
  }
  await Deno.mkdir(root, { recursive: true });
  // Servers sharing the cache prepare a title once: the others wait, then read the result.
  const locks = `${options.cacheDir}/locks`;
  await Deno.mkdir(locks, { recursive: true });
  const lock = await lockPreparation(locks, key, {
    signal,
    onWait: () => log(`Waiting for another server that is preparing "${title.name}"`),
  });
  const tmpDir = `${root}/.tmp-${key.slice(0, 16)}-${crypto.randomUUID().slice(0, 8)}`;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  try {
    // Prepared by another server while this one waited for the lock.
    const done = await _readManifest(finalDir);
    if (done !== null) {
      options.onProgress?.(1);
      return { ..._fromManifest(finalDir, done), cached: true };
    }
    await Deno.mkdir(tmpDir);
    // Touched while it runs, so that a sweep by another server never takes a live folder.
    heartbeat = setInterval(() => {
      const now = new Date();
      Deno.utime(tmpDir, now, now).catch(() => {});
    }, HEARTBEAT_MS);
    const manifest = await _prepareInto(tmpDir, title, { ...options, codec, segmentSeconds: seg });
    await Deno.writeTextFile(`${tmpDir}/${MANIFEST_NAME}`, JSON.stringify(manifest, null, 1));
    await Deno.remove(finalDir, { recursive: true }).catch(() => {});
    await Deno.rename(tmpDir, finalDir);
    options.onProgress?.(1);
    return _fromManifest(finalDir, manifest);
  } catch (error) {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    if (error instanceof PeerstreamError || signal?.aborted) throw error;
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot prepare "${title.name}": ${(error as Error).message}; see the server log`,
      { cause: error },
    );
  } finally {
    clearInterval(heartbeat);
    await lock.release();
  }
}

/** Makes the segments of every rendition in `tmpDir` and describes them. */
async function _prepareInto(
  tmpDir: string,
  title: Title,
  options: PrepareOptions & { codec: VideoCodec; segmentSeconds: number },
): Promise<_Manifest> {
  const { codec } = options;
  const steps = planLadder(title.renditions.map((r) => r.height));
  const fps = Math.min(...title.renditions.map((r) => r.probe.fps || 25));
  const hasAudio = codec === "h264" && title.hasAudio;
  const outputs: LadderOutput[] = steps.map((s, i) => ({
    input: s.source,
    height: s.height,
    dir: `${tmpDir}/r${i}`,
    maxBitrate: maxBitrateFor(s.height),
  }));
  for (const o of outputs) await Deno.mkdir(o.dir);
  const { lists, method } = await _makeSegments(title, {
    ...options,
    steps,
    outputs,
    fps,
    hasAudio,
  });
  const manifest: _Manifest = {
    version: 1,
    name: title.name,
    codec,
    container: codec === "h264" ? "mpegts" : "mjpeg",
    duration: lists[0].reduce((n, s) => n + s.duration, 0),
    hasAudio,
    fps,
    method,
    renditions: [],
  };
  for (let i = 0; i < outputs.length; i++) {
    manifest.renditions.push(await _describeRendition(outputs[i].dir, `r${i}`, lists[i], options));
  }
  // Reuse the starts of rendition 0 everywhere so the boundaries are identical, not just close.
  for (const r of manifest.renditions) {
    r.segments.forEach((s, i) => {
      s.start = manifest.renditions[0].segments[i].start;
    });
  }
  return manifest;
}

/**
 * Remuxes aligned H.264 sources, or encodes (when remuxing does not apply or fails).
 *
 * @returns Each rendition's segment list, and how they were made.
 * @throws {PeerstreamError} `VIDEO_FAILED` when encoding fails.
 */
async function _makeSegments(
  title: Title,
  options: PrepareOptions & {
    codec: VideoCodec;
    segmentSeconds: number;
    steps: LadderStep[];
    outputs: LadderOutput[];
    fps: number;
    hasAudio: boolean;
  },
): Promise<{ lists: ListedSegment[][]; method: PrepareMethod }> {
  const { codec, segmentSeconds: seg, outputs, fps, hasAudio, signal } = options;
  const log = options.onLog ?? (() => {});
  const dirs = outputs.map((o) => o.dir);
  const inputs = title.renditions.map((r) => r.path);
  const duration = title.duration > 0 ? title.duration : 1;
  const why = await _whyNotRemux(title, codec, options.steps, seg, signal);
  if (why === null) {
    log(`Preparing "${title.name}" by remuxing (no re-encode): its sources are aligned H.264`);
    const audio = !hasAudio
      ? "none"
      : title.renditions.every((r) => r.probe.audioCodec === "aac")
      ? "copy"
      : "aac";
    const failure = await _runFfmpeg(
      remuxArgs({ inputs, dirs, segmentSeconds: seg, audio }),
      duration,
      options,
    );
    const lists = failure ??
      await _readLists(dirs, codec, fps).catch((e: Error) => `no segment list (${e.message})`);
    if (typeof lists !== "string") return { lists, method: "remux" };
    log(`Cannot remux "${title.name}": ${lists}; encoding it instead`);
    await _emptyDirs(dirs);
  } else {
    log(`Preparing "${title.name}" by encoding: ${why}`);
  }
  const failure = await _runFfmpeg(
    ladderArgs({ inputs, outputs, codec, segmentSeconds: seg, fps, audio: hasAudio }),
    duration,
    options,
  );
  if (failure !== null) {
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot prepare "${title.name}": ${failure}; see the server log`,
    );
  }
  const lists = await _readLists(dirs, codec, fps);
  if (typeof lists === "string") {
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot prepare "${title.name}": ${lists}; report this with the source files`,
    );
  }
  return { lists, method: "encode" };
}

/** One rendition's manifest entry: its size, bit rate and segments (files under `prefix/`). */
async function _describeRendition(
  dir: string,
  prefix: string,
  list: ListedSegment[],
  options: { signal?: AbortSignal },
): Promise<_Manifest["renditions"][number]> {
  const first = await probe(`${dir}/${list[0].file}`, { signal: options.signal });
  const segments = [];
  let start = 0;
  let total = 0;
  for (const [index, s] of list.entries()) {
    const bytes = (await Deno.stat(`${dir}/${s.file}`)).size;
    segments.push({ index, start, duration: s.duration, bytes, file: `${prefix}/${s.file}` });
    start += s.duration;
    total += bytes;
  }
  return {
    // The label, by the same rule as the sources' (a portrait 1080x1920 rendition is 1080p).
    height: resolutionLabel(first.width, first.height),
    width: first.width,
    bitrate: start > 0 ? Math.round((total * 8) / start) : 0,
    segments,
  };
}
