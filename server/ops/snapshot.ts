/**
 * The state of the connections at a scrape, for `--metrics`: by door and handshake state, the
 * registered users, the streams by rendition and the bytes sent. One pass, no string per
 * connection: a scrape walks every connection.
 * @module
 */

import type { Door, ServerSnapshot } from "./server_stats.ts";

/** What the snapshot reads of one connection. */
export interface SnapshotMember {
  /** Registered, or still in its handshake (anything else). */
  readonly state: string;
  /** How it reached the server. */
  readonly door: Door;
  /** Its connection's bytes written so far. */
  readonly conn: { readonly bytesWritten: number };
  /** Its stream, if any, and the height of the rendition being sent. */
  readonly stream?: { readonly height?: number };
}

/** Options for {@linkcode snapshotOf}. */
export interface SnapshotOptions {
  /** Bytes written to connections that have ended. @default {0} */
  endedBytes?: number;
  /** Whether the link to Redis is up; undefined outside a cluster. */
  redisUp?: boolean;
}

const DOORS = ["tcp", "tls", "websocket", "http"] as const;

/**
 * Counts the connections for a scrape.
 *
 * @param members Every open connection.
 * @param options Bytes of ended connections and the Redis link.
 * @returns The snapshot; every door appears, with zeros where it has no connection.
 */
export function snapshotOf(
  members: Iterable<SnapshotMember>,
  options: SnapshotOptions = {},
): ServerSnapshot {
  const handshakes = { tcp: 0, tls: 0, websocket: 0, http: 0 };
  const registereds = { tcp: 0, tls: 0, websocket: 0, http: 0 };
  const heights = new Map<number, number>();
  let bytesSent = options.endedBytes ?? 0;
  for (const member of members) {
    if (member.state === "registered") registereds[member.door]++;
    else handshakes[member.door]++;
    bytesSent += member.conn.bytesWritten;
    const height = member.stream?.height;
    if (height !== undefined) heights.set(height, (heights.get(height) ?? 0) + 1);
  }
  const connections: ServerSnapshot["connections"] = new Map();
  let registered = 0;
  for (const door of DOORS) {
    connections.set(`${door} handshake`, handshakes[door]);
    connections.set(`${door} registered`, registereds[door]);
    registered += registereds[door];
  }
  const viewers = new Map([...heights].map(([height, n]) => [`${height}p`, n]));
  return { connections, registered, viewers, bytesSent, redisUp: options.redisUp };
}
