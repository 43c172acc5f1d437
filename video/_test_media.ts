/**
 * Test helpers: small media generated at test time with ffmpeg, and piping bytes through a tool.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { runTool } from "./ffmpeg.ts";
import { sampleArgs, type SampleOptions } from "./ffmpeg_args.ts";

/**
 * Write one small MP4 clip (lavfi pattern, optional tone).
 *
 * @param path Output file.
 * @param options Height, length, tone and pattern.
 */
export async function makeClip(
  path: string,
  options: { height: number; seconds: number } & Pick<SampleOptions, "toneHz" | "pattern">,
): Promise<void> {
  const result = await runTool(
    "ffmpeg",
    sampleArgs({
      seconds: options.seconds,
      heights: [options.height],
      outputs: [path],
      toneHz: options.toneHz,
      pattern: options.pattern,
    }),
  );
  if (result.code !== 0) throw new Error(`Cannot make clip "${path}": ${result.stderr}`);
}

/**
 * Run a tool with bytes on its standard input.
 *
 * @param cmd The binary.
 * @param args Its arguments.
 * @param input Bytes for standard input.
 * @returns Exit code, standard output text and standard error text.
 */
export async function pipeThrough(
  cmd: string,
  args: string[],
  input: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  const write = writer.write(input).then(() => writer.close()).catch(() => {});
  const [out] = await Promise.all([child.output(), write]);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Whether the first video frame of a file is a keyframe.
 *
 * @param path A segment or media file.
 * @returns `true` for a keyframe.
 */
export async function firstFrameIsKey(path: string): Promise<boolean> {
  const r = await runTool("ffprobe", [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-read_intervals",
    "%+#1",
    "-show_entries",
    "frame=key_frame",
    "-of",
    "csv=p=0",
    path,
  ]);
  return new TextDecoder().decode(r.stdout).trim().split("\n")[0].split(",")[0] === "1";
}

/**
 * Runs `fn` with `PEERSTREAM_FFMPEG` naming a binary that does not exist, as on a machine without
 * ffmpeg, and puts the variable back (unset) after.
 *
 * @param fn What to run.
 * @returns What `fn` returns.
 */
export async function withoutFfmpeg<T>(fn: () => Promise<T>): Promise<T> {
  Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
  try {
    return await fn();
  } finally {
    Deno.env.delete("PEERSTREAM_FFMPEG");
  }
}

/**
 * Whether an error is the one `runTool` gives when ffmpeg is not found, word for word.
 *
 * @param e The error.
 * @returns `true` for a `VIDEO_FAILED` saying so with its remedy.
 */
export function isFfmpegMissing(e: unknown): boolean {
  return e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
    e.message ===
      'Cannot run "ffmpeg": not found; install it (apt-get install ffmpeg) or put it on PATH';
}
