/**
 * NATS connections for the relay load, through the NATS project's own npm client: sender `i`
 * publishes to `msg.<target>` with the reply subject `ack.<own name>`, which it subscribes to;
 * receiver `j` subscribes to `msg.<own name>` and answers every message with an empty reply (the
 * receipt); a connection of both roles does both. Loaded only by NATS load processes.
 * @module
 */

import { connect, type NatsConnection } from "npm:@nats-io/transport-node@3.4.0";
import type { LinkOptions, RelayLink } from "./_relay_links.ts";
import type { RelayRole } from "./_relay_wire.ts";

const EMPTY = new Uint8Array(0);

/**
 * Opens one NATS connection per name, 200 at a time, with its subscription.
 *
 * @param role Senders, receivers, or both.
 * @param options Port, names, targets and events.
 * @returns The link.
 */
export async function natsLink(
  role: RelayRole,
  options: LinkOptions,
): Promise<RelayLink> {
  const conns: NatsConnection[] = [];
  for (let at = 0; at < options.names.length; at += 200) {
    const batch = options.names.slice(at, at + 200);
    conns.push(
      ...await Promise.all(
        batch.map(() =>
          connect({ servers: `127.0.0.1:${options.port}`, name: "peerstream-bench" })
        ),
      ),
    );
  }
  const { events } = options;
  conns.forEach((nc, i) => {
    if (role !== "receive") {
      nc.subscribe(`ack.${options.names[i]}`, { callback: () => events.onConfirm(i) });
    }
    if (role !== "send") {
      nc.subscribe(`msg.${options.names[i]}`, {
        callback: (error, m) => {
          if (error !== null) return;
          const now = performance.now();
          m.respond(EMPTY);
          events.onDeliver(m.data, now);
        },
      });
    }
  });
  // Subscriptions are in place once the server has answered a PING after them.
  await Promise.all(conns.map((nc) => nc.flush()));
  return {
    count: conns.length,
    send(i, body) {
      // The client queues the payload by reference until it flushes: give it its own copy.
      conns[i].publish(`msg.${options.targets[i]}`, body.slice(), {
        reply: `ack.${options.names[i]}`,
      });
    },
    async close() {
      await Promise.all(conns.map((nc) => nc.close()));
    },
  };
}
