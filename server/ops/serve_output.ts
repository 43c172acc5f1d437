/**
 * What `serve` prints, in the format `--log-format` asks for: its notices ("Listening on …"), its
 * errors while running, and the server's log (rate-limited and summarised by
 * {@linkcode ServerLog}). In `text` (the default) the lines are as they always were; in `json`
 * every line of stdout and stderr is one JSON object for log collectors.
 * @module
 */

import { timestamp } from "../../cli/output.ts";
import {
  escapeLogText,
  formatJson,
  lineFormatter,
  type LogFormat,
  type LogLevel,
  type LogRecord,
} from "./log_format.ts";
import { lineShape, type ServerLog, serverLog } from "./server_log.ts";
import type { ServerLimits } from "../limits.ts";

/** Where `serve` writes. */
export interface OutputSinks {
  /** Standard output, one line. */
  out: (line: string) => void;
  /** Standard error, one line. */
  err: (line: string) => void;
}

/** The output of one `serve` process. */
export class ServeOutput {
  readonly #io: OutputSinks;
  readonly #format: LogFormat;
  readonly #wallClock: () => number;
  /** The server's log, shared by the server, the web page's server and the video library. */
  readonly log: ServerLog;

  /**
   * @param io Where lines go.
   * @param options The format, the log limits and the wall clock (ms since the epoch).
   */
  constructor(
    io: OutputSinks,
    options: { format: LogFormat; limits: ServerLimits; wallClock?: () => number },
  ) {
    this.#io = io;
    this.#format = options.format;
    this.#wallClock = options.wallClock ?? (() => Date.now());
    this.log = serverLog(io.out, options.limits, {
      format: lineFormatter(options.format, { timestamps: true }),
    });
  }

  /**
   * A notice on stdout that is never rate-limited (start-up, addresses, the certificate): as is in
   * `text`, an `info` object in `json`.
   *
   * @param text The line.
   * @param event Its kind, e.g. `listening`.
   */
  notice(text: string, event: string): void {
    this.#io.out(this.#format === "json" ? this.#json("info", event, text) : text);
  }

  /**
   * An error while running, on stderr: `TIME error: text` in `text`, an `error` object in `json`.
   *
   * @param text What went wrong, with a remedy.
   * @param event Its kind.
   */
  problem(text: string, event: string): void {
    this.#io.err(
      this.#format === "json"
        ? this.#json("error", event, text)
        : `${timestamp(new Date(this.#wallClock()))} error: ${escapeLogText(text)}`,
    );
  }

  /**
   * Why the server cannot start, on stderr: `error: text` in `text` (as every command says it), an
   * `error` object in `json`.
   *
   * @param text What went wrong, with a remedy.
   * @param event Its kind.
   */
  cannotStart(text: string, event: string): void {
    this.#io.err(
      this.#format === "json" ? this.#json("error", event, text) : `error: ${escapeLogText(text)}`,
    );
  }

  /**
   * A line of the web page's server (refused upgrades, its errors), limited per kind of line.
   *
   * @param line The line.
   */
  web(line: string): void {
    this.log.limited(`web ${lineShape(line)}`, line, { event: "web", level: "warn" });
  }

  #json(level: LogLevel, event: string, msg: string): string {
    const record: LogRecord = { time: this.#wallClock(), level, event, msg };
    return formatJson(record);
  }
}
