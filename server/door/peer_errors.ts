/**
 * How a connection's failures are told apart (pure): the peer went away (a normal leave), the
 * peer's own fault (TLS that was not TLS), or a protocol violation the server tells the peer
 * about (its code) before closing; and what one read decodes to (`decodeRead`): its messages, or
 * the violation that stopped them.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, type Message } from "../../protocol/messages.ts";

/**
 * Whether an error means the peer simply went away.
 *
 * @param error Anything thrown by a read or write.
 * @returns True for a reset, broken pipe, closed resource or unexpected EOF.
 */
export function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof;
}

/**
 * Why a read or write failed through the peer's own fault, not ours: TLS that was not TLS (plain
 * text or an HTTP request on a TLS port), a corrupt record or a fatal alert. Such a connection
 * just ends, with the reason logged like any other leave, never as an internal error.
 *
 * @param error Anything thrown by a read or write.
 * @returns The reason, or undefined when it is not the peer's fault.
 */
export function peerFault(error: unknown): string | undefined {
  if (error instanceof Deno.errors.InvalidData) return `TLS failed: ${error.message}`;
  return undefined;
}

/** The codes of a {@linkcode protocolViolation}. */
export type ViolationCode = "BAD_FRAME" | "FRAME_TOO_LARGE" | "HANDSHAKE_TIMEOUT";

const _VIOLATION_CODES: ReadonlySet<string> = new Set<ViolationCode>([
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "HANDSHAKE_TIMEOUT",
]);

/**
 * The error thrown out of {@linkcode Connection.messages} (and a WebSocket's reads) when the peer
 * breaks the protocol: the server tells it the code and closes it.
 *
 * @param message What was wrong.
 * @param options The decode error, and the code: `FRAME_TOO_LARGE` when a frame header declared
 * too many bytes, `HANDSHAKE_TIMEOUT` when nothing came in time. @default {"BAD_FRAME"}
 * @returns The error.
 */
export function protocolViolation(
  message: string,
  options?: { cause?: unknown; code?: ViolationCode },
): PeerstreamError {
  return new PeerstreamError(options?.code ?? "BAD_FRAME", message, { cause: options?.cause });
}

/**
 * Whether an error is a {@linkcode protocolViolation}: the peer's fault, to be told and closed.
 *
 * @param error Anything thrown.
 * @returns True for a {@linkcode PeerstreamError} with a violation code.
 */
export function isProtocolViolation(
  error: unknown,
): error is PeerstreamError & { code: ViolationCode } {
  return error instanceof PeerstreamError && _VIOLATION_CODES.has(error.code);
}

/**
 * Decodes what one read brought: the messages it completed, and the violation that stopped them.
 *
 * @param decoder The connection's frame decoder (it keeps a partial frame for the next read).
 * @param chunk The bytes read.
 * @returns The good messages ahead of a bad one, and the violation if one was found.
 * @throws {PeerstreamError} `FRAME_TOO_LARGE` or `BAD_FRAME` when the frame layer fails: no
 * message of this read is usable then.
 */
export function decodeRead(
  decoder: FrameDecoder,
  chunk: Uint8Array,
): { messages: Message[]; violation?: PeerstreamError } {
  let frames;
  try {
    frames = decoder.push(chunk);
  } catch (error) {
    // The frame layer only fails on a declared length over the cap.
    throw protocolViolation((error as Error).message, {
      cause: error,
      code: error instanceof RangeError ? "FRAME_TOO_LARGE" : "BAD_FRAME",
    });
  }
  const messages: Message[] = [];
  for (const frame of frames) {
    try {
      messages.push(decodeMessage(frame));
    } catch (error) {
      return { messages, violation: protocolViolation((error as Error).message, { cause: error }) };
    }
  }
  return { messages };
}
