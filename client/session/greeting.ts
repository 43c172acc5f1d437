/**
 * The server's greeting, read from a fresh transport before a session starts: a `server-hello`
 * of this protocol version within a deadline, or a clear error saying what the bytes were.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import {
  type Frame,
  FrameDecoder,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
} from "../../protocol/frame.ts";
import {
  decodeMessage,
  type Message,
  PROTOCOL_VERSION,
  type ServerHelloMessage,
} from "../../protocol/messages.ts";
import type { ByteTransport } from "../transport.ts";

/** How a failed greeting names the server and what it tells the person to try. */
export interface GreetingContext {
  /** The server as the person knows it (`HOST:PORT`, a URL). */
  server: string;
  /** What to try when it does not greet as a peerstream server does. */
  remedy: string;
}

/** The context used when a caller gives none. */
export const GREETING_DEFAULT: Readonly<GreetingContext> = {
  server: "the server",
  remedy: "check that it is a peerstream server",
};

/** A transport the server has greeted: its decoder and any frames that came right behind. */
export interface Greeted {
  /** The server's `server-hello`. */
  greeting: ServerHelloMessage;
  /** The decoder, holding any partial frame that followed the greeting. */
  decoder: FrameDecoder;
  /** Whole frames that followed the greeting in the same read. */
  rest: Frame[];
}

/**
 * What a client says of a frame header over the cap, from a broken or hostile server (or another
 * protocol on the port): the declared length and the limit, then what it means.
 *
 * @param error The decoder's error.
 * @returns `Cannot read from the server: it sent a frame of N bytes, over the 1 MiB limit; …`.
 */
export function oversizedFrameMessage(error: FrameTooLargeError): string {
  return `Cannot read from the server: it sent a frame of ${error.declared} bytes, over the ${
    MAX_FRAME_BYTES / 2 ** 20
  } MiB limit; the server is broken or not a peerstream server`;
}

/**
 * Reads the server's greeting from a fresh transport.
 *
 * @param transport The byte stream, nothing read from it yet.
 * @param options How to name the server, the remedy, and the deadline in ms.
 * @returns The greeting, the decoder, and whatever followed the greeting in the same read (the
 * session's to handle).
 * @throws {PeerstreamError} `UNAVAILABLE`, `BAD_FRAME`, `VERSION_MISMATCH`, or the server's code.
 */
export async function readGreeting(
  transport: ByteTransport,
  options: GreetingContext & { timeoutMs: number },
): Promise<Greeted> {
  const { server, remedy, timeoutMs } = options;
  const cannot = (code: ErrorCode, why: string, cause?: unknown) =>
    new PeerstreamError(code, `Cannot talk to ${server}: ${why}; ${remedy}`, { cause });
  const decoder = new FrameDecoder();
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(cannot("UNAVAILABLE", `no greeting within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const n = await Promise.race([
        transport.read(buffer).catch((error: Error) => {
          // Bytes that are not TLS (or TLS to a plain server) fail as invalid data.
          throw cannot(
            error.name === "InvalidData" ? "BAD_FRAME" : "UNAVAILABLE",
            error.message,
            error,
          );
        }),
        timeout,
      ]);
      if (n === null) throw cannot("UNAVAILABLE", "it closed the connection before greeting");
      const frames = pushGreeting(decoder, buffer.subarray(0, n));
      if (frames.length === 0) continue;
      let message: Message;
      try {
        message = decodeMessage(frames[0]);
      } catch (error) {
        throw cannot("BAD_FRAME", (error as Error).message, error);
      }
      if (message.type === "error") {
        throw new PeerstreamError(message.code, message.message);
      }
      if (message.type !== "server-hello") {
        throw cannot("BAD_FRAME", `unexpected "${message.type}" first`);
      }
      if (message.version !== PROTOCOL_VERSION) {
        throw new PeerstreamError(
          "VERSION_MISMATCH",
          `Cannot talk to ${server}: it speaks protocol ${message.version}, this client ${PROTOCOL_VERSION}; use a matching peerstream`,
        );
      }
      return { greeting: message, decoder, rest: frames.slice(1) };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Decodes greeting bytes; a frame over the cap is the server's fault, said as such. */
function pushGreeting(decoder: FrameDecoder, bytes: Uint8Array): Frame[] {
  try {
    return decoder.push(bytes);
  } catch (error) {
    if (!(error instanceof FrameTooLargeError)) throw error;
    throw new PeerstreamError("BAD_FRAME", oversizedFrameMessage(error), { cause: error });
  }
}
