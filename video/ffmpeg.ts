/**
 * Running ffmpeg and ffprobe: one thin runner ({@linkcode runTool}) with a clear error when the
 * tool is missing, and {@linkcode probe}. The arguments are built by `video/ffmpeg_args.ts` and
 * the output parsed by `video/ffmpeg_parse.ts`.
 *
 * The binaries can be overridden with the `PEERSTREAM_FFMPEG` and `PEERSTREAM_FFPROBE` variables.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { concat } from "../protocol/e2e.ts";
import { ffprobeArgs } from "./ffmpeg_args.ts";
import { parseProbe, type ProbeInfo } from "./ffmpeg_parse.ts";

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
  return concat(chunks);
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
