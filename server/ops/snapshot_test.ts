import { deepEqual, equal } from "node:assert/strict";
import { type SnapshotMember, snapshotOf } from "./snapshot.ts";
import type { Door } from "./server_stats.ts";

function member(
  door: Door,
  state: string,
  bytes: number,
  height?: number,
): SnapshotMember {
  return {
    door,
    state,
    conn: { bytesWritten: bytes },
    ...(height === undefined ? {} : { stream: { height } }),
  };
}

Deno.test("snapshotOf() with no connection lists every door at zero and counts ended bytes", () => {
  const snapshot = snapshotOf([], { endedBytes: 42 });
  equal(snapshot.connections.size, 8);
  deepEqual([...snapshot.connections.values()], [0, 0, 0, 0, 0, 0, 0, 0]);
  equal(snapshot.registered, 0);
  equal(snapshot.bytesSent, 42);
  equal(snapshot.viewers.size, 0);
  equal(snapshot.redisUp, undefined);
});

Deno.test("snapshotOf() counts by door and state, viewers by rendition, and sums bytes", () => {
  const snapshot = snapshotOf([
    member("tcp", "registered", 10, 720),
    member("tcp", "greeting", 1),
    member("websocket", "registered", 100, 720),
    member("tls", "registered", 1000, 240),
    member("tls", "closed", 5),
  ], { endedBytes: 7, redisUp: true });
  deepEqual(Object.fromEntries(snapshot.connections), {
    "tcp handshake": 1,
    "tcp registered": 1,
    "tls handshake": 1,
    "tls registered": 1,
    "websocket handshake": 0,
    "websocket registered": 1,
    "http handshake": 0,
    "http registered": 0,
  });
  equal(snapshot.registered, 3);
  deepEqual(Object.fromEntries(snapshot.viewers), { "720p": 2, "240p": 1 });
  equal(snapshot.bytesSent, 7 + 10 + 1 + 100 + 1000 + 5);
  equal(snapshot.redisUp, true);
});
