/**
 * A real decoder for the "first decoded frame" figure: ffmpeg reading MPEG-TS from stdin with
 * minimal probing, printing one `framemd5` line per decoded video frame.
 * @module
 */

/**
 * ffmpeg arguments of the decoder: `-probesize 32 -analyzeduration 0` as a player told the format
 * would use (default probing waits seconds), `framemd5` flushed per frame so that the first line
 * marks the first decoded frame.
 */
export const DECODER_ARGS: readonly string[] = [
  ...["-hide_banner", "-nostdin", "-loglevel", "error"],
  ...["-probesize", "32", "-analyzeduration", "0", "-f", "mpegts", "-i", "pipe:0"],
  ...["-map", "0:v:0", "-f", "framemd5", "-flush_packets", "1", "pipe:1"],
];

/** A running decoder. */
export class Decoder {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #chain: Promise<void> = Promise.resolve();
  /** When the first frame was decoded (`performance.now()`), NaN until then. */
  firstFrameAt = NaN;
  /** Resolves at the first decoded frame (or when the decoder exits). */
  readonly firstFrame: Promise<void>;
  #onFirstFrame: () => void = () => {};
  #watching: Promise<void>;

  /** Spawns ffmpeg; spawn it before PLAY so that process start-up is not counted. */
  constructor() {
    this.#child = new Deno.Command("ffmpeg", {
      args: [...DECODER_ARGS],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.firstFrame = new Promise((resolve) => (this.#onFirstFrame = resolve));
    this.#watching = this.#watch().finally(() => this.#onFirstFrame());
  }

  async #watch() {
    let text = "";
    const reader = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
        if (text.split("\n").some((line) => line !== "" && !line.startsWith("#"))) {
          this.firstFrameAt = performance.now();
          this.#onFirstFrame();
          // Keep draining so that ffmpeg never blocks on its output.
          while (!(await reader.read()).done) { /* drain */ }
          return;
        }
        text = text.slice(text.lastIndexOf("\n") + 1);
      }
    } catch {
      // The decoder was killed.
    }
  }

  /**
   * Feeds media bytes in order (copied: the caller may reuse its buffer).
   *
   * @param data Media bytes.
   */
  write(data: Uint8Array): void {
    const copy = data.slice();
    this.#chain = this.#chain.then(() => this.#writer.write(copy)).catch(() => {});
  }

  /** Kills the decoder and waits for it. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.#child.status;
    await this.#watching;
    await this.#writer.close().catch(() => {});
  }
}
