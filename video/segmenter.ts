/**
 * Preparation of a title into aligned segments: every rendition is cut at the same times and every
 * segment starts with a keyframe, so a viewer can switch rendition at any segment boundary. The
 * cache's keys and folders are `video/prep_cache.ts`'s; what is written is read back by
 * `video/prepared_title.ts`.
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
import { type LadderStep, maxBitrateFor, planLadder } from "./ladder.ts";
import { checkAlignment, remuxProblem } from "./alignment.ts";
import { keepTouched, preparationKey, temporaryFolder } from "./prep_cache.ts";
import {
  fromManifest,
  type Manifest,
  MANIFEST_NAME,
  type PreparedTitle,
  type PrepareMethod,
  readManifest,
  type VideoCodec,
} from "./prepared_title.ts";

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
  const cached = await readManifest(finalDir);
  if (cached !== null) {
    options.onProgress?.(1);
    return { ...fromManifest(finalDir, cached), cached: true };
  }
  await Deno.mkdir(root, { recursive: true });
  // Servers sharing the cache prepare a title once: the others wait, then read the result.
  const locks = `${options.cacheDir}/locks`;
  await Deno.mkdir(locks, { recursive: true });
  const lock = await lockPreparation(locks, key, {
    signal,
    onWait: () => log(`Waiting for another server that is preparing "${title.name}"`),
  });
  const tmpDir = temporaryFolder(root, key);
  let stopTouching = () => {};
  try {
    // Prepared by another server while this one waited for the lock.
    const done = await readManifest(finalDir);
    if (done !== null) {
      options.onProgress?.(1);
      return { ...fromManifest(finalDir, done), cached: true };
    }
    await Deno.mkdir(tmpDir);
    // Touched while it runs, so that a sweep by another server never takes a live folder.
    stopTouching = keepTouched(tmpDir);
    const manifest = await _prepareInto(tmpDir, title, { ...options, codec, segmentSeconds: seg });
    await Deno.writeTextFile(`${tmpDir}/${MANIFEST_NAME}`, JSON.stringify(manifest, null, 1));
    await Deno.remove(finalDir, { recursive: true }).catch(() => {});
    await Deno.rename(tmpDir, finalDir);
    options.onProgress?.(1);
    return fromManifest(finalDir, manifest);
  } catch (error) {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    if (error instanceof PeerstreamError || signal?.aborted) throw error;
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot prepare "${title.name}": ${(error as Error).message}; see the server log`,
      { cause: error },
    );
  } finally {
    stopTouching();
    await lock.release();
  }
}

/** Makes the segments of every rendition in `tmpDir` and describes them. */
async function _prepareInto(
  tmpDir: string,
  title: Title,
  options: PrepareOptions & { codec: VideoCodec; segmentSeconds: number },
): Promise<Manifest> {
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
  const manifest: Manifest = {
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
): Promise<Manifest["renditions"][number]> {
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
