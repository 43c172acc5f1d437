/**
 * Errors back to a client: a request's failure with the request's id, the message cut to what the
 * protocol allows, counted in the metrics and logged once per code per connection; a fault of our
 * own is logged in full and the client told only `INTERNAL`.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import { addressGroup } from "./door/address_group.ts";
import type { ServerClient } from "./member.ts";
import type { ServerLog } from "./ops/server_log.ts";
import type { ServerStats } from "./ops/server_stats.ts";

/** The longest error message sent to a client, characters (the protocol allows 2,048). */
const ERROR_MESSAGE_MAX = 1000;

/** Options for {@linkcode Replies}. */
export interface RepliesOptions {
  /** Counts each code sent. */
  stats: ServerStats;
  /** Where the first error of each code per connection goes. */
  log: ServerLog;
}

/** Sends errors to clients. */
export class Replies {
  readonly #stats: ServerStats;
  readonly #log: ServerLog;

  /** @param options The counters and the log. */
  constructor(options: RepliesOptions) {
    this.#stats = options.stats;
    this.#log = options.log;
  }

  /**
   * Sends an error.
   *
   * @param client To whom.
   * @param code The code.
   * @param text The message; cut past {@linkcode ERROR_MESSAGE_MAX} characters.
   * @param re The request it answers, if any.
   */
  reject(client: ServerClient, code: ErrorCode, text: string, re?: number): void {
    const message = text.length > ERROR_MESSAGE_MAX ? `${text.slice(0, ERROR_MESSAGE_MAX)}…` : text;
    this.#stats.refuse(code);
    if (!client.rejectLogged.has(code)) {
      client.rejectLogged.add(code);
      const who = client.name === undefined ? "" : ` ${this.#log.name(client.name)}`;
      this.#log.limited(logKey(client), `reject #${client.id}${who}: ${code}: ${message}`, {
        event: "reject",
        level: "warn",
        fields: { id: client.id, code },
      });
    }
    client.conn.send(
      re === undefined ? { type: "error", code, message } : { type: "error", re, code, message },
    );
  }

  /**
   * Answers a request whose handling threw: its code and message when it is a
   * {@linkcode PeerstreamError}, `INTERNAL` (and the whole error in the log) otherwise.
   *
   * @param client Who sent it.
   * @param message The request.
   * @param error What its handling threw.
   */
  fail(client: ServerClient, message: ClientMessage, error: unknown): void {
    if (error instanceof PeerstreamError) {
      this.reject(client, error.code, error.message, requestIdOf(message));
    } else {
      this.#log.error(client.id, `internal error #${client.id}`, error);
      this.reject(client, "INTERNAL", "Internal server error; see the server log");
    }
  }
}

/**
 * Whose budget a client's log lines count against: its own once registered, its address's before,
 * so that a storm of connections that never register costs a few lines.
 *
 * @param client The client.
 * @returns Its id, or its address group.
 */
export function logKey(client: ServerClient): number | string {
  return client.state === "registered" ? client.id : addressGroup(client.host);
}

/**
 * The request id a message carries, if any.
 *
 * @param message A message from a client.
 * @returns Its `id` when it is a number.
 */
export function requestIdOf(message: { type: string }): number | undefined {
  return "id" in message && typeof message.id === "number" ? message.id : undefined;
}
