/**
 * A connection's read loop: each read's messages are handled in one batch, so that the replies
 * and relays they cause leave in one write per connection, not one per message; a message whose
 * handling awaits (a hello being verified) holds the next ones until it is done.
 * @module
 */

import { within } from "./_async.ts";
import { Connection } from "./door/connection.ts";
import type { ServerClient } from "./member.ts";
import type { Message } from "../protocol/messages.ts";

/**
 * Handles one message; returns a promise when its handling awaits, to be awaited before the
 * next message.
 */
export type Receive = (client: ServerClient, message: Message) => Promise<void> | undefined;

/**
 * Reads a client's messages until its connection ends or the client is closed.
 *
 * @param client The client.
 * @param receive Handles each message, in order.
 * @throws What the connection's reader throws (a protocol violation, for one).
 */
export async function readLoop(client: ServerClient, receive: Receive): Promise<void> {
  const conn = client.conn;
  reading: for await (const batch of conn.readBatches()) {
    let next = 0;
    while (next < batch.length) {
      if (conn.closed || client.state === "closed") break reading;
      // Stop at a message whose handling awaits (hello), and go on after it.
      const pending = Connection.batch(() => {
        let waiting: Promise<void> | undefined;
        while (
          waiting === undefined && next < batch.length && !conn.closed &&
          client.state !== "closed"
        ) {
          waiting = receive(client, batch[next++]);
        }
        return waiting;
      });
      if (pending !== undefined) await pending;
    }
    if (client.state === "closed") break;
  }
  // Let a final error (NOT_REGISTERED, VERSION_MISMATCH, …) reach the client before closing.
  if (client.state === "closed") await within(conn.flush(), 200);
}
