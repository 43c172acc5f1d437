/**
 * What the server's once-a-second check does with a connection (pure): close one that stopped
 * reading (its writes made no progress), drop one that did not register in time or went silent,
 * and ping a registered one that has been quiet past the keepalive. The first that applies wins.
 * @module
 */

import type { ServerLimits } from "./limits.ts";

/** What the check does with a connection. */
export type Deadline =
  /** Its writes stalled: close without a goodbye (nothing more can reach it). */
  | "slow-consumer"
  /** Still greeting past the handshake time since its accept. */
  | "handshake-timeout"
  /** Nothing read within the idle time. */
  | "idle-timeout"
  /** Registered and quiet past the keepalive: send a ping. */
  | "ping";

/** What the check reads of a connection, ms on one clock. */
export interface Watched {
  /** `greeting`, `registered`, … */
  state: string;
  /** When it was accepted. */
  connectedAt: number;
  /** When its last bytes were read. */
  lastReadAt: number;
  /** How long its pending write has made no progress (0 when none is stalled). */
  writeStalledMs: number;
}

/** The limits the check applies. */
export type DeadlineLimits = Pick<
  ServerLimits,
  "maxWriteStallMs" | "handshakeMs" | "idleMs" | "keepaliveMs"
>;

/**
 * The deadline a connection has passed, if any.
 *
 * @param watched The connection's times.
 * @param options `now` and the limits.
 * @returns What to do, or undefined when nothing is due.
 */
export function deadlineOf(
  watched: Watched,
  options: { now: number; limits: DeadlineLimits },
): Deadline | undefined {
  const { now, limits } = options;
  const silent = now - watched.lastReadAt;
  if (watched.writeStalledMs > limits.maxWriteStallMs) return "slow-consumer";
  if (watched.state === "greeting" && now - watched.connectedAt > limits.handshakeMs) {
    return "handshake-timeout";
  }
  if (silent > limits.idleMs) return "idle-timeout";
  if (silent > limits.keepaliveMs && watched.state === "registered") return "ping";
  return undefined;
}
