/**
 * Support of the `server/door/connection_*_test.ts` suites: every message a connection yields until
 * it ends, and media bytes that tell their stream and index.
 * @module
 */

import type { Message } from "../protocol/messages.ts";
import type { Connection } from "../server/door/connection.ts";

/** Every message the connection yields until it ends. */
export async function collect(connection: Connection): Promise<Message[]> {
  const out: Message[] = [];
  for await (const message of connection.messages()) out.push(message);
  return out;
}

/** `size` bytes, each telling stream `streamId` and item `index`. */
export function media(streamId: number, index: number, size: number): Uint8Array {
  return new Uint8Array(size).fill((streamId * 16 + index) & 0xff);
}
