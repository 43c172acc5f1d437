/**
 * What the server keeps per connection. Shared by the handshake, the dispatcher and presence, so
 * that each can be read and tested alone.
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";
import type { LeaveReason } from "../protocol/messages.ts";
import type { Connection } from "./door/connection.ts";
import { FairOutbox } from "./community/fair_outbox.ts";
import type { DeliverItem } from "./community/community_events.ts";
import { TokenBucket } from "./limits.ts";
import type { StreamSession } from "./streaming/stream_session.ts";
import type { Door } from "./ops/server_stats.ts";

/** One client connection. */
export interface ServerClient {
  /** A number for the log, unique per server run. */
  readonly id: number;
  /** The connection. */
  readonly conn: Connection;
  /** The client's address, as per-address limits see it. */
  readonly host: string;
  /** How it reached the server (the metrics' `door`). */
  readonly door: Door;
  /** When the connection was accepted (ms, performance.now()): the handshake deadline counts from it. */
  readonly connectedAt: number;
  /** Where it stands: greeting until `welcome`, registered after, closed once done. */
  state: "greeting" | "registered" | "closed";
  /** The registered name. */
  name?: string;
  /** The random bytes the client must sign. */
  readonly challenge: Uint8Array<ArrayBuffer>;
  /** Its message rate. */
  readonly bucket: TokenBucket;
  /** Its stream, if one plays. */
  stream?: StreamSession;
  /** The id of its next stream. */
  nextStreamId: number;
  /** Why it left, as others are told. */
  leaveReason: LeaveReason;
  /** Why it left, in more detail, for the log. */
  closeWhy?: string;
  /** The id of the last keepalive ping. */
  pingId: number;
  /** `hello`s refused on this connection. */
  refusedHellos: number;
  /** A `hello` of this connection is being verified. */
  verifying: boolean;
  /** Codes already logged for this connection (each is logged once). */
  readonly rejectLogged: Set<ErrorCode>;
  /** Messages relayed to it: a window in flight, the rest held and released fairly. */
  readonly outbox: FairOutbox<DeliverItem>;
  /** Titles it asked to play while they were being prepared: it is told when each is ready. */
  readonly readyWaits: Set<string>;
}

/**
 * A fresh client record, greeting.
 *
 * @param conn The connection.
 * @param options Its log id, the time, its message rate and its relay window.
 * @returns The record.
 */
export function newClient(
  conn: Connection,
  options: {
    id: number;
    now: number;
    messagesPerSecond: number;
    messageBurst: number;
    relayWindowBytes: number;
    relayWindowMessages: number;
    door?: Door;
  },
): ServerClient {
  return {
    id: options.id,
    conn,
    host: conn.remoteHost,
    door: options.door ?? "tcp",
    connectedAt: options.now,
    state: "greeting",
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    bucket: new TokenBucket(options.messagesPerSecond, {
      burst: options.messageBurst,
      now: options.now,
    }),
    nextStreamId: 1,
    leaveReason: "disconnected",
    pingId: 0,
    refusedHellos: 0,
    verifying: false,
    rejectLogged: new Set(),
    outbox: new FairOutbox({
      bytes: options.relayWindowBytes,
      messages: options.relayWindowMessages,
    }),
    readyWaits: new Set(),
  };
}

/**
 * Marks a client to close once what it was sent is flushed (the server's read loop does it), and
 * records why for the log.
 *
 * @param client The client.
 * @param why The reason for the log, e.g. `VERSION_MISMATCH`.
 * @param options `reason`: what others are told if it was registered (default `disconnected`).
 */
export function closeAfterFlush(
  client: ServerClient,
  why: string,
  options: { reason?: LeaveReason } = {},
): void {
  if (client.state === "closed") return;
  client.state = "closed";
  client.closeWhy ??= why;
  client.leaveReason = options.reason ?? "disconnected";
}
