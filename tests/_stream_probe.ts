/**
 * Decoding for the streaming tests: ffprobe reading stdin and listing every decoded frame and
 * stream, the test player that feeds it (`DecodingSink`, also through the client's own
 * `ValidatingSink`) and a sink that only counts bytes.
 * @module
 */

import type { MediaSink } from "../client/session.ts";
import { ValidatingSink } from "../client/player.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { deadline } from "./_util.ts";

// ---------------------------------------------------------------------------------------------
// Decoding: ffprobe reading stdin, listing every decoded frame and the streams

/** What ffprobe decoded from the bytes it was fed. */
export interface ProbeResult {
  /** ffprobe's stderr (-v warning): must be empty for a clean stream. */
  stderr: string;
  code: number;
  /** Decoded video frames, in order. */
  video: { width: number; height: number; pts: number }[];
  /** Decoded audio frames. */
  audioFrames: number;
  /** Codec types of the streams found. */
  streams: string[];
}

/** Runs ffprobe over bytes fed on stdin; each frame is decoded (`-show_frames`). */
export class Probe {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly result: Promise<ProbeResult>;
  /** Set when ffprobe refused input (it exited early). */
  writeError?: string;

  constructor() {
    this.#child = new Deno.Command("ffprobe", {
      args: [
        "-v",
        "warning",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-show_entries",
        "frame=media_type,width,height,pts_time:stream=codec_type",
        "-of",
        "json",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const child = this.#child;
    this.result = (async () => {
      const [out, err, status] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.status,
      ]);
      type Entry = Record<string, string | number | undefined>;
      const json = JSON.parse(out || "{}") as { frames?: Entry[]; streams?: Entry[] };
      const frames = json.frames ?? [];
      return {
        stderr: err,
        code: status.code,
        video: frames.filter((f) => f.media_type === "video").map((f) => ({
          width: Number(f.width),
          height: Number(f.height),
          pts: Number(f.pts_time),
        })),
        audioFrames: frames.filter((f) => f.media_type === "audio").length,
        streams: (json.streams ?? []).map((s) => String(s.codec_type)),
      };
    })();
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.writeError !== undefined) return;
    try {
      await this.#writer.write(data);
    } catch (error) {
      this.writeError = (error as Error).message;
    }
  }

  async end(): Promise<ProbeResult> {
    await this.#writer.close().catch(() => {});
    return await deadline(this.result, 30_000, "ffprobe to finish");
  }

  /** For cleanup after a failure. */
  kill(): void {
    this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Probes the concatenation of whole files. */
export async function probeFiles(paths: string[]): Promise<ProbeResult> {
  const probe = new Probe();
  for (const path of paths) await probe.write(await Deno.readFile(path));
  return await probe.end();
}

/** The runs of consecutive equal frame sizes, e.g. ["426x240", "1280x720"]. */
export function sizeRuns(video: ProbeResult["video"]): string[] {
  const runs: string[] = [];
  for (const f of video) {
    const size = `${f.width}x${f.height}`;
    if (runs[runs.length - 1] !== size) runs.push(size);
  }
  return runs;
}

/**
 * The test's player: every byte goes to a real decoder (ffprobe) and through the client's own
 * {@linkcode ValidatingSink}; it counts bytes and remembers when they arrived.
 */
export class DecodingSink implements MediaSink {
  readonly probe = new Probe();
  readonly validator: ValidatingSink;
  bytes = 0;
  firstByteAt?: number;
  lastByteAt?: number;
  ended?: "finished" | "stopped" | "error";

  constructor(info: StreamStartMessage) {
    this.validator = new ValidatingSink(info.container);
  }

  async write(data: Uint8Array): Promise<void> {
    const now = performance.now();
    this.firstByteAt ??= now;
    this.lastByteAt = now;
    this.bytes += data.length;
    this.validator.write(data);
    await this.probe.write(data);
  }

  close(reason: "finished" | "stopped" | "error"): void {
    this.ended = reason;
    this.validator.close(reason);
  }
}

/** Counts bytes only (for STOP: what arrives after the confirmation). */
export class CountingSink implements MediaSink {
  bytes = 0;
  lastByteAt?: number;
  ended?: "finished" | "stopped" | "error";
  write(data: Uint8Array): void {
    this.bytes += data.length;
    this.lastByteAt = performance.now();
  }
  close(reason: "finished" | "stopped" | "error"): void {
    this.ended = reason;
  }
}
