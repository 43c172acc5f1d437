/**
 * What ffmpeg and ffprobe print, parsed (pure): ffprobe's JSON, keyframe times, the segment lists
 * the `hls` and `segment` muxers write, and `-progress` lines.
 * @module
 */

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
 * Parse the JSON that ffprobe prints for `ffprobeArgs` (`video/ffmpeg_args.ts`).
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
 * Parse the output of `keyframeTimesArgs` (`video/ffmpeg_args.ts`).
 *
 * @param text ffprobe's standard output.
 * @returns Keyframe times in seconds, in stream order.
 */
export function parseKeyframeTimes(text: string): number[] {
  return text.split(/\r?\n/).map((line) => line.split(",")[0].trim()).filter((s) =>
    s !== "" && s !== "N/A"
  ).map(Number).filter(Number.isFinite);
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
