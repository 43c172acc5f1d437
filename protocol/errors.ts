/**
 * Error codes shared by the server, the client and the wire.
 *
 * A code travels in `error` messages, so the client can branch on it and show a precise message.
 * @module
 */

/**
 * Every error code, in one list: the type {@linkcode ErrorCode} is made from it, and incoming
 * `error` messages are checked against it. One code for each situation a program branches on:
 * a connection refused, lost or not greeted in time is `UNAVAILABLE`; a peer that breaks the
 * framing is `BAD_FRAME`; a deadline before `welcome` is `HANDSHAKE_TIMEOUT`.
 */
export const ERROR_CODES = [
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "BAD_MESSAGE",
  "VERSION_MISMATCH",
  "NOT_REGISTERED",
  "ALREADY_REGISTERED",
  "NAME_TAKEN",
  "NAME_INVALID",
  "NAME_CONFUSABLE",
  "NAME_LIMIT",
  "KEY_INVALID",
  "UNKNOWN_PEER",
  "PEER_OFFLINE",
  "PEER_UNREACHABLE",
  "MESSAGE_TOO_LARGE",
  "INBOX_FULL",
  "QUEUE_FULL",
  "ROOM_NOT_FOUND",
  "NOT_A_MEMBER",
  "NOT_ALLOWED",
  "ROOM_LIMIT",
  "CHAIN_INVALID",
  "BAD_SIGNATURE",
  "REPLAYED",
  "DECRYPT_FAILED",
  "KEY_CHANGED",
  "VIDEO_NOT_FOUND",
  "VIDEO_NOT_READY",
  "VIDEO_FAILED",
  "RENDITION_NOT_FOUND",
  "NOT_PLAYING",
  "RATE_LIMITED",
  "SERVER_FULL",
  "UNAVAILABLE",
  "HANDSHAKE_TIMEOUT",
  "IDLE_TIMEOUT",
  "SLOW_CONSUMER",
  "PAUSE_TIMEOUT",
  "SHUTTING_DOWN",
  "INTERNAL",
] as const;

/** One of {@linkcode ERROR_CODES}; it travels on the wire. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Options for {@linkcode PeerstreamError}. */
export interface PeerstreamErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The one domain error of peerstream: a message for people and a code for programs.
 *
 * @example
 * ```ts
 * throw new PeerstreamError("UNKNOWN_PEER", 'Cannot send to "bob": no such peer; run WHO to see peers');
 * ```
 */
export class PeerstreamError extends Error {
  /** The machine-readable code; it also travels on the wire. */
  readonly code: ErrorCode;

  /**
   * @param code The error code.
   * @param message A message in the std style: what failed, then the state; a remedy after a semicolon.
   * @param options The cause, if any.
   */
  constructor(code: ErrorCode, message: string, options?: PeerstreamErrorOptions) {
    super(message, options);
    this.name = "PeerstreamError";
    this.code = code;
  }
}

/** Whether a value is one of the {@linkcode ErrorCode}s. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}
