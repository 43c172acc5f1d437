/**
 * ffmpeg and ffprobe: pure argument builders and parsers, plus one thin runner ({@linkcode runTool})
 * with a clear error when the tool is missing.
 *
 * The binaries can be overridden with the `PEERSTREAM_FFMPEG` and `PEERSTREAM_FFPROBE` variables.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";

/** What ffprobe says about a media file. */
export interface ProbeInfo {
  /** Duration in seconds. */
  duration: number;
  /** Width of the first video stream in pixels. */
  width: number;
  /** Height of the first video stream in pixels. */
  height: number;
  /** Codec name of the first video stream, e.g. `h264`. */
  videoCodec: string;
  /** Codec name of the first audio stream, or `null` without audio. */
  audioCodec: string | null;
  /** Frames per second of the first video stream. */
  fps: number;
  /** Overall bit rate in bits/s (0 when unknown). */
  bitrate: number;
  /** Pixel format of the first video stream, e.g. `yuv420p`, when ffprobe reports one. */
  pixFmt?: string;
}

/**
 * Arguments for ffprobe to describe a file as JSON (for {@linkcode parseProbe}).
 *
 * @param path The media file.
 * @returns The arguments.
 */
export function ffprobeArgs(path: string): string[] {
  return ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", path];
}

function _rate(text: unknown): number {
  if (typeof text !== "string") return 0;
  const [num, den] = text.split("/").map(Number);
  if (!Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return den > 0 && Number.isFinite(den) ? num / den : 0;
}

function _number(value: unknown): number {
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) ? n : 0;
}

/**
 * Parse the JSON that ffprobe prints for {@linkcode ffprobeArgs}.
 *
 * @param json ffprobe's standard output.
 * @returns The metadata of the first video and audio streams.
 * @throws {SyntaxError} When the text is not ffprobe JSON or has no video stream.
 */
export function parseProbe(json: string): ProbeInfo {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    throw new SyntaxError("Cannot parse ffprobe output: not JSON", { cause: error });
  }
  if (typeof data !== "object" || data === null) {
    throw new SyntaxError("Cannot parse ffprobe output: not an object");
  }
  const root = data as { streams?: unknown; format?: unknown };
  const streams = Array.isArray(root.streams) ? root.streams as Record<string, unknown>[] : [];
  const format =
    (typeof root.format === "object" && root.format !== null ? root.format : {}) as Record<
      string,
      unknown
    >;
  const video = streams.find((s) =>
    s?.codec_type === "video" &&
    (s.disposition as Record<string, unknown> | undefined)?.attached_pic !== 1
  );
  if (video === undefined) {
    throw new SyntaxError("Cannot parse ffprobe output: no video stream");
  }
  const audio = streams.find((s) => s?.codec_type === "audio");
  const width = _number(video.width);
  const height = _number(video.height);
  if (width <= 0 || height <= 0) {
    throw new SyntaxError("Cannot parse ffprobe output: video stream has no size");
  }
  const fps = _rate(video.avg_frame_rate) || _rate(video.r_frame_rate);
  return {
    duration: _number(format.duration) || _number(video.duration),
    width,
    height,
    videoCodec: typeof video.codec_name === "string" ? video.codec_name : "unknown",
    audioCodec: audio && typeof audio.codec_name === "string" ? audio.codec_name : null,
    fps: Math.round(fps * 1000) / 1000,
    bitrate: _number(format.bit_rate) || _number(video.bit_rate),
    ...(typeof video.pix_fmt === "string" ? { pixFmt: video.pix_fmt } : {}),
  };
}

/**
 * Arguments for ffprobe to list the keyframe times of the first video stream, one per line.
 *
 * @param path The media file.
 * @returns The arguments; parse the output with {@linkcode parseKeyframeTimes}.
 */
export function keyframeTimesArgs(path: string): string[] {
  return [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-skip_frame",
    "nokey",
    "-show_entries",
    "frame=pts_time",
    "-of",
    "csv=p=0",
    "--",
    path,
  ];
}

/**
 * Parse the output of {@linkcode keyframeTimesArgs}.
 *
 * @param text ffprobe's standard output.
 * @returns Keyframe times in seconds, in stream order.
 */
export function parseKeyframeTimes(text: string): number[] {
  return text.split(/\r?\n/).map((line) => line.split(",")[0].trim()).filter((s) =>
    s !== "" && s !== "N/A"
  ).map(Number).filter(Number.isFinite);
}

/** One output of a rendition ladder. */
export interface LadderOutput {
  /** Index of the input (in {@linkcode LadderOptions.inputs}) this rendition is made from. */
  input: number;
  /** Output height in pixels (the width keeps the aspect ratio, rounded to even). */
  height: number;
  /** Folder for this rendition's segments and playlist. */
  dir: string;
  /** Peak video bit rate in bits/s for H.264 (`-maxrate`). */
  maxBitrate: number;
}

/** Options for {@linkcode ladderArgs}. */
export interface LadderOptions {
  /** Source files. */
  inputs: string[];
  /** Renditions to produce, any order. */
  outputs: LadderOutput[];
  /** The codec: H.264 + AAC in MPEG-TS, or MJPEG in raw `mjpeg` segments. */
  codec: "h264" | "mjpeg";
  /** Segment length in seconds. */
  segmentSeconds: number;
  /** Frame rate used for the GOP size, and forced on every output when there are several inputs. */
  fps: number;
  /** Whether to encode audio (H.264 only; every input must have audio). */
  audio: boolean;
}

/** Name of the segment playlist written in each rendition folder. */
export const PLAYLIST_NAME = "index.m3u8";
/** Name of the segment list written in each MJPEG rendition folder. */
export const SEGMENT_LIST_NAME = "segments.csv";

/**
 * A scale filter that makes the picture's shorter side `label` pixels (see `resolutionLabel`):
 * the height of a landscape picture, the width of a portrait one, the other side even and in
 * proportion.
 */
function _scaleShorterSide(label: number): string {
  return `scale=w='if(gte(iw\\,ih)\\,-2\\,${label})':h='if(gte(iw\\,ih)\\,${label}\\,-2)'`;
}

/**
 * Arguments for one ffmpeg process that encodes every rendition of a title with aligned segment
 * boundaries: each input is decoded once and `split` into its outputs (FIELD_NOTES: one process is
 * faster than one per rendition). Progress goes to stdout (`-progress pipe:1`).
 *
 * H.264 renditions force a keyframe at every multiple of the segment length
 * (`-force_key_frames expr:gte(t,n_forced*SEG)`, `-sc_threshold 0`) and are cut by the `hls` muxer
 * into MPEG-TS segments that each start with PAT/PMT and a keyframe. MJPEG renditions (every frame a
 * keyframe) are cut by the `segment` muxer into raw JPEG streams.
 *
 * @param options What to encode.
 * @returns The arguments.
 */
export function ladderArgs(options: LadderOptions): string[] {
  const { inputs, outputs, codec, segmentSeconds: seg, fps, audio } = options;
  const args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"];
  args.push("-progress", "pipe:1");
  for (const input of inputs) args.push("-i", input);
  const filters: string[] = [];
  const labels: string[] = [];
  const pixFmt = codec === "h264" ? "yuv420p" : "yuvj420p";
  // When renditions come from different files, force one frame rate so frame times match.
  const fpsFilter = inputs.length > 1 ? `fps=${fps},` : "";
  inputs.forEach((_, i) => {
    const mine = outputs.map((o, j) => ({ o, j })).filter(({ o }) => o.input === i);
    if (mine.length === 0) return;
    const splitLabels = mine.map(({ j }) => `[s${j}]`);
    filters.push(
      mine.length === 1
        ? `[${i}:v:0]null${splitLabels[0]}`
        : `[${i}:v:0]split=${mine.length}${splitLabels.join("")}`,
    );
    for (const { o, j } of mine) {
      filters.push(
        `[s${j}]${fpsFilter}${_scaleShorterSide(o.height)},setsar=1,format=${pixFmt}[v${j}]`,
      );
    }
  });
  outputs.forEach((_, j) => labels.push(`[v${j}]`));
  args.push("-filter_complex", filters.join(";"));
  const gop = Math.max(1, Math.round(fps * seg));
  outputs.forEach((o, j) => {
    args.push("-map", labels[j]);
    if (codec === "h264") {
      args.push(
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-maxrate",
        String(o.maxBitrate),
        "-bufsize",
        String(o.maxBitrate * 2),
        "-pix_fmt",
        "yuv420p",
        "-force_key_frames",
        `expr:gte(t,n_forced*${seg})`,
        "-g",
        String(gop),
        "-keyint_min",
        String(gop),
        "-sc_threshold",
        "0",
        // Same colour tags on every rendition, so players do not shift colours at a switch.
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
      );
      if (audio) {
        args.push("-map", `${o.input}:a:0`, "-c:a", "aac", "-b:a", "128k", "-ar", "48000");
        args.push("-ac", "2");
      } else {
        args.push("-an");
      }
      args.push(..._hlsOutputArgs(seg, o.dir));
    } else {
      args.push("-c:v", "mjpeg", "-q:v", "5", "-an");
      args.push(
        "-f",
        "segment",
        "-segment_time",
        String(seg),
        "-segment_format",
        "mjpeg",
        "-segment_list",
        `${o.dir}/${SEGMENT_LIST_NAME}`,
        "-segment_list_type",
        "csv",
        `${o.dir}/seg_%05d.mjpeg`,
      );
    }
  });
  return args;
}

function _hlsOutputArgs(seg: number, dir: string): string[] {
  return [
    "-f",
    "hls",
    "-hls_time",
    String(seg),
    "-hls_list_size",
    "0",
    "-hls_playlist_type",
    "vod",
    "-hls_segment_type",
    "mpegts",
    "-hls_segment_filename",
    `${dir}/seg_%05d.ts`,
    `${dir}/${PLAYLIST_NAME}`,
  ];
}

/** Options for {@linkcode remuxArgs}. */
export interface RemuxOptions {
  /** Source files, one per rendition, all H.264 with keyframes at the same times. */
  inputs: string[];
  /** Folder for each input's segments and playlist (same order as `inputs`). */
  dirs: string[];
  /** Segment length in seconds (segments are cut at the first keyframe after each multiple). */
  segmentSeconds: number;
  /** Audio: `copy` the AAC stream, encode it to `aac`, or `none`. */
  audio: "copy" | "aac" | "none";
}

/**
 * Arguments for one ffmpeg process that remuxes already aligned H.264 sources into MPEG-TS segments
 * without re-encoding the video (`-c:v copy`), through the same `hls` muxer settings as
 * {@linkcode ladderArgs}. The muxer can only cut at existing keyframes, so the segments line up only
 * when the sources' keyframes do (check with {@linkcode keyframeTimesArgs} first). Progress goes to
 * stdout (`-progress pipe:1`).
 *
 * @param options What to remux.
 * @returns The arguments.
 */
export function remuxArgs(options: RemuxOptions): string[] {
  const { inputs, dirs, segmentSeconds: seg, audio } = options;
  if (dirs.length !== inputs.length) {
    throw new RangeError(`Cannot remux: ${inputs.length} inputs but ${dirs.length} folders`);
  }
  const args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"];
  args.push("-progress", "pipe:1");
  for (const input of inputs) args.push("-i", input);
  inputs.forEach((_, i) => {
    args.push("-map", `${i}:v:0`, "-c:v", "copy");
    if (audio === "none") {
      args.push("-an");
    } else {
      args.push("-map", `${i}:a:0`);
      if (audio === "copy") args.push("-c:a", "copy");
      else args.push("-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2");
    }
    args.push(..._hlsOutputArgs(seg, dirs[i]));
  });
  return args;
}

/** A segment as listed by a playlist. */
export interface ListedSegment {
  /** File name relative to the playlist. */
  file: string;
  /** Duration in seconds. */
  duration: number;
}

/**
 * Parse the media playlist written by the `hls` muxer (`#EXTINF:<seconds>,` then a file name).
 *
 * @param text The playlist.
 * @returns The segments in order.
 * @throws {SyntaxError} When an `#EXTINF` has no valid duration or no file line.
 */
export function parseHlsPlaylist(text: string): ListedSegment[] {
  const out: ListedSegment[] = [];
  let pending: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#EXTINF:")) {
      const duration = Number(line.slice(8).split(",")[0]);
      if (!Number.isFinite(duration) || duration < 0) {
        throw new SyntaxError(`Cannot parse playlist: bad line "${line}"`);
      }
      pending = duration;
    } else if (!line.startsWith("#")) {
      if (pending === null) {
        throw new SyntaxError(`Cannot parse playlist: "${line}" has no #EXTINF`);
      }
      out.push({ file: line, duration: pending });
      pending = null;
    }
  }
  if (pending !== null) throw new SyntaxError("Cannot parse playlist: last #EXTINF has no file");
  return out;
}

/**
 * Parse the CSV segment list of the `segment` muxer (`file,start,end` per line).
 *
 * @param text The list.
 * @returns The segments in order.
 * @throws {SyntaxError} When a line does not have a file, a start and an end.
 */
export function parseSegmentCsv(text: string): ListedSegment[] {
  const out: ListedSegment[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const parts = line.split(",");
    const start = Number(parts[1]);
    const end = Number(parts[2]);
    if (parts.length !== 3 || !Number.isFinite(start) || !Number.isFinite(end) || end < start) {
      throw new SyntaxError(`Cannot parse segment list: bad line "${line}"`);
    }
    out.push({ file: parts[0], duration: end - start });
  }
  return out;
}

/**
 * Read the encoded time from ffmpeg `-progress` output lines (`out_time_us=` or `out_time_ms=`,
 * both in microseconds).
 *
 * @param line One line of progress output.
 * @returns Seconds encoded so far, or `null` for other lines.
 */
export function parseProgressLine(line: string): number | null {
  const m = /^out_time_(?:us|ms)=(\d+)$/.exec(line.trim());
  return m ? Number(m[1]) / 1_000_000 : null;
}

/** Options for {@linkcode sampleArgs}. */
export interface SampleOptions {
  /** Which lavfi source to draw. @default {"testsrc2"} */
  pattern?: "testsrc2" | "smptebars" | "testsrc" | "mandelbrot";
  /** Length in seconds. */
  seconds: number;
  /** Heights to write; each goes to the path at the same index of `outputs`. */
  heights: number[];
  /** Output files (MP4), written with `-f mp4` so the name may be a temporary one. */
  outputs: string[];
  /** Sine tone frequency in Hz, or `null` for no audio. @default {440} */
  toneHz?: number | null;
  /** Frames per second. @default {25} */
  fps?: number;
}

/**
 * Arguments for ffmpeg to generate a synthetic test title: one lavfi source split to several
 * heights (16:9), H.264 `ultrafast` with an AAC sine tone, one MP4 per height.
 *
 * @param options What to draw and where to write it.
 * @returns The arguments.
 */
export function sampleArgs(options: SampleOptions): string[] {
  const { seconds, heights, outputs } = options;
  const pattern = options.pattern ?? "testsrc2";
  const fps = options.fps ?? 25;
  const tone = options.toneHz === undefined ? 440 : options.toneHz;
  const top = Math.max(...heights);
  const topWidth = Math.round((top * 16) / 9 / 2) * 2;
  const args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"];
  args.push(
    "-f",
    "lavfi",
    "-i",
    `${pattern}=size=${topWidth}x${top}:rate=${fps}:duration=${seconds}`,
  );
  if (tone !== null) {
    args.push("-f", "lavfi", "-i", `sine=frequency=${tone}:sample_rate=48000:duration=${seconds}`);
  }
  const labels = heights.map((_, i) => `[o${i}]`);
  const filters = [
    heights.length === 1
      ? `[0:v]null[s0]`
      : `[0:v]split=${heights.length}${heights.map((_, i) => `[s${i}]`).join("")}`,
    ...heights.map((h, i) => `[s${i}]scale=-2:${h},setsar=1,format=yuv420p${labels[i]}`),
  ];
  args.push("-filter_complex", filters.join(";"));
  heights.forEach((_, i) => {
    args.push("-map", labels[i], "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28");
    if (tone !== null) args.push("-map", "1:a:0", "-c:a", "aac", "-b:a", "64k");
    args.push("-movflags", "+faststart", "-f", "mp4", outputs[i]);
  });
  return args;
}

/** Options for {@linkcode runTool}. */
export interface RunToolOptions {
  /** Aborting kills the child; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called for each line of standard error (split on `\n` and `\r`). */
  onStderrLine?: (line: string) => void;
  /** Called for each line of standard output (e.g. `-progress pipe:1`). */
  onStdoutLine?: (line: string) => void;
}

/** What a finished tool run produced. */
export interface RunToolResult {
  /** The exit code (non-zero when killed by a signal). */
  code: number;
  /** All of standard output. */
  stdout: Uint8Array;
  /** The last 64 KiB of standard error, as text. */
  stderr: string;
}

/** Most bytes of standard error kept by {@linkcode runTool}. */
export const MAX_STDERR_CHARS = 65536;

/**
 * The binary to run for a tool: `PEERSTREAM_FFMPEG` / `PEERSTREAM_FFPROBE` when set, else the name.
 *
 * @param cmd The tool.
 * @returns A path or a name to look up on PATH.
 */
export function toolPath(cmd: "ffmpeg" | "ffprobe"): string {
  const name = cmd === "ffmpeg" ? "PEERSTREAM_FFMPEG" : "PEERSTREAM_FFPROBE";
  let value: string | undefined;
  try {
    value = Deno.env.get(name);
  } catch {
    value = undefined; // no --allow-env: use the default
  }
  return value !== undefined && value !== "" ? value : cmd;
}

async function _readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: ((line: string) => void) | undefined,
  keep: "all" | "tail",
): Promise<Uint8Array | string> {
  const chunks: Uint8Array[] = [];
  let text = "";
  let partial = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    if (keep === "all") chunks.push(chunk);
    const s = decoder.decode(chunk, { stream: true });
    if (keep === "tail") {
      text += s;
      if (text.length > MAX_STDERR_CHARS * 2) text = text.slice(-MAX_STDERR_CHARS);
    }
    if (onLine) {
      const parts = (partial + s).split(/\r\n|\r|\n/);
      partial = parts.pop()!;
      for (const p of parts) if (p !== "") onLine(p);
    }
  }
  if (onLine && partial !== "") onLine(partial);
  if (keep === "tail") return text.slice(-MAX_STDERR_CHARS);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Run ffmpeg or ffprobe to completion, collecting its output.
 *
 * @param cmd The tool (see {@linkcode toolPath} for overrides).
 * @param args Its arguments.
 * @param options A signal and line callbacks.
 * @returns The exit code, standard output and the tail of standard error.
 * @throws {PeerstreamError} `VIDEO_FAILED` when the tool cannot be found or started.
 */
export async function runTool(
  cmd: "ffmpeg" | "ffprobe",
  args: string[],
  options: RunToolOptions = {},
): Promise<RunToolResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  const bin = toolPath(cmd);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(bin, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new PeerstreamError(
        "VIDEO_FAILED",
        `Cannot run "${cmd}": not found; install it (apt-get install ffmpeg) or put it on PATH`,
        { cause: error },
      );
    }
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot run "${cmd}": ${error instanceof Error ? error.message : String(error)}; check ` +
        `that "${bin}" is an executable`,
      { cause: error },
    );
  }
  const onAbort = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const [stdout, stderr, status] = await Promise.all([
      _readLines(child.stdout, options.onStdoutLine, "all"),
      _readLines(child.stderr, options.onStderrLine, "tail"),
      child.status,
    ]);
    signal?.throwIfAborted();
    return { code: status.code, stdout: stdout as Uint8Array, stderr: stderr as string };
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Probe a media file with ffprobe.
 *
 * @param path The file.
 * @param options A signal to cancel the probe.
 * @returns Its metadata.
 * @throws {PeerstreamError} `VIDEO_FAILED` when ffprobe is missing, fails or finds no video.
 */
export async function probe(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<ProbeInfo> {
  const result = await runTool("ffprobe", ffprobeArgs(path), options);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").pop()?.trim() || `exit code ${result.code}`;
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot probe "${path}": ${detail}; check that it is a video file`,
    );
  }
  try {
    return parseProbe(new TextDecoder().decode(result.stdout));
  } catch (error) {
    throw new PeerstreamError(
      "VIDEO_FAILED",
      `Cannot probe "${path}": ${
        (error as Error).message.replace(/^Cannot parse ffprobe output: /, "")
      }; check that it is a video file`,
      { cause: error },
    );
  }
}
