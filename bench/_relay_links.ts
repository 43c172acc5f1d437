/**
 * The connections a relay load process drives, behind one small interface so that the same
 * sender and receiver loops measure peerstream and NATS: a sender's connection sends bodies to its
 * target and hears back a confirmation (peerstream's `delivered`, a NATS reply); a receiver's
 * connection gets bodies and answers each (peerstream's `receipt`, a NATS reply).
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage } from "../protocol/messages.ts";
import { benchIdentity, connectMany, type LoadClient } from "./_client.ts";
import type { RelayRole } from "./_relay_wire.ts";

/** Events a link reports to the load loops. */
export interface LinkEvents {
  /** Sender `i`'s message was confirmed by its recipient. */
  onConfirm(i: number): void;
  /** Sender `i`'s message was refused, with the server's code. */
  onError(i: number, code: string): void;
  /** A receiver got a body, read at `now` (`performance.now()`). */
  onDeliver(body: Uint8Array, now: number): void;
}

/** The connections of one load process. */
export interface RelayLink {
  /** Connections. */
  readonly count: number;
  /**
   * Sends `body` from connection `i` to its target; the body may be reused by the caller at once.
   *
   * @param i The sender.
   * @param body The body.
   */
  send(i: number, body: Uint8Array): void;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Options for opening a link. */
export interface LinkOptions {
  /** The server's port. */
  port: number;
  /** Own names (one connection each). */
  names: string[];
  /** Senders: the target of connection i. */
  targets: string[];
  /** What to report to. */
  events: LinkEvents;
}

/**
 * peerstream connections: registered load clients that `send` to a peer (senders) or answer
 * every `deliver` with `receipt ok:true` without opening it (receivers; see scenario 5).
 *
 * @param role Senders, receivers, or both.
 * @param options Port, names, targets and events.
 * @returns The link.
 */
export async function peerstreamLink(
  role: RelayRole,
  options: LinkOptions,
): Promise<RelayLink> {
  const who = await benchIdentity(await generateIdentity());
  const { clients } = await connectMany(options.port, { names: options.names, who });
  const ids = new Array<number>(clients.length).fill(0);
  clients.forEach((client: LoadClient, i) => {
    client.onMessage = (m, now) => {
      if (m.type === "deliver") {
        client.send({ type: "receipt", rid: m.rid, ok: true });
        options.events.onDeliver(m.body, now);
      } else if (m.type === "delivered") {
        options.events.onConfirm(i);
      } else if (m.type === "error") {
        options.events.onError(i, m.code);
      }
    };
  });
  return {
    count: clients.length,
    send(i, body) {
      if (role === "receive") throw new Error("Cannot send from a receiving link");
      // encodeMessage copies the body into the frame.
      clients[i].sendBytes(
        encodeMessage({ type: "send", id: ++ids[i], to: options.targets[i], body }),
      );
    },
    async close() {
      for (const c of clients) c.send({ type: "quit" });
      await new Promise((r) => setTimeout(r, 50));
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.done));
    },
  };
}
