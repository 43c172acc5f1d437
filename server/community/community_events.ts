/**
 * The server's side of the community seam: what {@linkcode CommunityEvents} mean on connections.
 * Broadcasts are encoded once and the same bytes go to every local client; in cluster mode a
 * message that arrives from another node is written with whatever else the same tick produced for
 * that connection (one write, as a local read's replies are).
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import { encodeMessage, type Message } from "../../protocol/messages.ts";
import type { CommunityEvents } from "./community.ts";
import type { Connection } from "../door/connection.ts";
import type { FairOutbox, OutboxItem } from "./fair_outbox.ts";

/** Most names in one `peer-state` frame, so that it stays far below the frame limit. */
export const PEER_STATE_CHUNK = 10_000;

/** A `deliver` frame waiting in a recipient's {@linkcode FairOutbox}. */
export interface DeliverItem extends OutboxItem {
  /** The encoded frame. */
  frame: Uint8Array;
}

/** What the adapter needs to know of a server's client. */
export interface EventClient {
  /** Its connection. */
  conn: Connection;
  /** Its name once registered. */
  name?: string;
  /** Where messages relayed to it wait for room in its window; sent at once when absent. */
  outbox?: FairOutbox<DeliverItem>;
}

/**
 * Sends what a client's outbox released.
 *
 * @param client The recipient.
 * @param released Frames from `push` or `confirm`.
 */
export function sendReleased(client: EventClient, released: readonly DeliverItem[]): void {
  for (const item of released) client.conn.sendEncoded(item.frame);
}

/** Options for {@linkcode connectionEvents}. */
export interface ConnectionEventsOptions<T extends EventClient> {
  /** The registered local clients now (announcements go to them). */
  registered: () => Iterable<T>;
  /** A client lost its name to another node: tell it and close it. */
  kick: (client: T, code: ErrorCode, message: string) => void;
  /** The server log. */
  log: (line: string) => void;
  /**
   * Cork each connection a delivery or outcome goes to until the task ends, so that many messages
   * from another node that arrive in one read of Redis leave in one write. For cluster mode only:
   * the single-process path is already corked by `Connection.batch` and stays as it is.
   * @default {false}
   */
  coalesce?: boolean;
}

/**
 * Makes the events a community calls into frames on the server's connections.
 *
 * @param options The registered clients, what to do on a kick, the log.
 * @returns The events.
 */
export function connectionEvents<T extends EventClient>(
  options: ConnectionEventsOptions<T>,
): CommunityEvents<T> {
  const broadcast = (message: Message, except?: string) => {
    const frame = encodeMessage(message);
    for (const client of options.registered()) {
      if (client.name !== except) client.conn.sendEncoded(frame);
    }
  };
  return {
    joined: (name) => broadcast({ type: "joined", name }, name),
    left: (name, reason) => broadcast({ type: "left", name, reason }),
    peerState: (names, state) => {
      for (let at = 0; at < names.length; at += PEER_STATE_CHUNK) {
        broadcast({ type: "peer-state", names: names.slice(at, at + PEER_STATE_CHUNK), state });
      }
    },
    deliver: (to, delivery) => {
      if (options.coalesce) corkForTick(to.conn);
      const frame = encodeMessage({
        type: "deliver",
        rid: delivery.rid,
        from: delivery.from,
        body: delivery.body,
        ...(delivery.queued ? { queued: true, qseq: delivery.qseq } : {}),
        ...(delivery.room === undefined ? {} : { room: delivery.room }),
      });
      if (to.outbox === undefined) {
        to.conn.sendEncoded(frame);
        return;
      }
      const item = { rid: delivery.rid, from: delivery.from, bytes: frame.length, frame };
      sendReleased(to, to.outbox.push(item, performance.now()));
    },
    outcome: (sender, requestId, outcome) => {
      if (options.coalesce) corkForTick(sender.conn);
      sender.conn.send(
        outcome.ok
          ? { type: "delivered", re: requestId, to: outcome.to }
          : { type: "error", re: requestId, code: outcome.code, message: outcome.message },
      );
    },
    queued: (sender, requestId, queued) => {
      if (options.coalesce) corkForTick(sender.conn);
      sender.conn.send({ type: "queued", re: requestId, to: queued.to, qseq: queued.qseq });
    },
    notice: (sender, notice) => {
      if (options.coalesce) corkForTick(sender.conn);
      sender.conn.send(
        notice.kind === "delivered"
          ? { type: "delivered", re: notice.re, to: notice.to, qseq: notice.qseq }
          : { type: "expired", to: notice.to, qseq: notice.qseq },
      );
    },
    kick: options.kick,
    log: options.log,
  };
}

const corked = new Set<Connection>();

/**
 * Corks a connection until the current task ends, so that frames queued by several events of one
 * tick (many messages from another node in one read of Redis) leave in one write. Inside a
 * `Connection.batch` this only adds a nested cork that ends with the same task.
 */
function corkForTick(conn: Connection) {
  if (corked.has(conn)) return;
  corked.add(conn);
  conn.cork();
  queueMicrotask(() => {
    corked.delete(conn);
    conn.uncork();
  });
}
