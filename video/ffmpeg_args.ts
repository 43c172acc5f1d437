/**
 * ffmpeg and ffprobe arguments (pure): what to probe, how to encode a title's rendition ladder into
 * aligned segments, how to remux aligned sources, and how to draw a synthetic test title. Run them
 * with `runTool` (`video/ffmpeg.ts`); read what they print with `video/ffmpeg_parse.ts`.
 * @module
 */

/**
 * Arguments for ffprobe to describe a file as JSON (for `parseProbe` in `video/ffmpeg_parse.ts`).
 *
 * @param path The media file.
 * @returns The arguments.
 */
export function ffprobeArgs(path: string): string[] {
  return ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", path];
}

/**
 * Arguments for ffprobe to list the keyframe times of the first video stream, one per line.
 *
 * @param path The media file.
 * @returns The arguments; parse the output with `parseKeyframeTimes`
 * (`video/ffmpeg_parse.ts`).
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
    if (codec === "h264") args.push(..._h264OutputArgs(o, { seg, gop, audio }));
    else args.push(..._mjpegOutputArgs(o, seg));
  });
  return args;
}

/** One H.264 rendition's encoder, audio and `hls` muxer arguments (see {@linkcode ladderArgs}). */
function _h264OutputArgs(
  o: LadderOutput,
  { seg, gop, audio }: { seg: number; gop: number; audio: boolean },
): string[] {
  const args: string[] = [];
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
  return args;
}

/** One MJPEG rendition's encoder and `segment` muxer arguments (see {@linkcode ladderArgs}). */
function _mjpegOutputArgs(o: LadderOutput, seg: number): string[] {
  const args: string[] = [];
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
