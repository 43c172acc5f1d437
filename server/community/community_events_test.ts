import { deepEqual, equal } from "node:assert/strict";
import { connectionEvents, type EventClient, PEER_STATE_CHUNK } from "./community_events.ts";
import { Connection } from "../door/connection.ts";
import type { Transport } from "../door/transport.ts";
import { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, type Message } from "../../protocol/messages.ts";

/** A transport that records each write. */
class Recorder implements Transport {
  writes: Uint8Array[] = [];
  readonly remoteAddr: Deno.Addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  write(bytes: Uint8Array): Promise<number> {
    this.writes.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }
  close(): void {}
  messages(): Message[] {
    const decoder = new FrameDecoder();
    return this.writes.flatMap((w) => decoder.push(w)).map(decodeMessage);
  }
}

function client(name: string): EventClient & { t: Recorder } {
  const t = new Recorder();
  return { name, conn: new Connection(t), t };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("connectionEvents() announces to every registered client but the one that joined", async () => {
  const [a, b] = [client("a"), client("b")];
  const events = connectionEvents({ registered: () => [a, b], kick() {}, log() {} });
  events.joined("a");
  events.left("c", "timeout");
  await tick();
  deepEqual(a.t.messages(), [{ type: "left", name: "c", reason: "timeout" }]);
  deepEqual(b.t.messages(), [
    { type: "joined", name: "a" },
    { type: "left", name: "c", reason: "timeout" },
  ]);
});

Deno.test("connectionEvents() splits a long peer-state into frames of PEER_STATE_CHUNK names", async () => {
  const a = client("a");
  const events = connectionEvents({ registered: () => [a], kick() {}, log() {} });
  const names = Array.from({ length: PEER_STATE_CHUNK + 1 }, (_, i) => `p${i}`);
  events.peerState(names, "unreachable");
  await tick();
  const got = a.t.messages();
  equal(got.length, 2);
  deepEqual(got.flatMap((m) => m.type === "peer-state" ? m.names : []), names);
});

Deno.test("connectionEvents() turns outcomes into delivered or error with re", async () => {
  const a = client("a");
  const events = connectionEvents({ registered: () => [a], kick() {}, log() {} });
  events.outcome(a, 4, { ok: true, to: "b" });
  events.outcome(a, 5, { ok: false, code: "PEER_UNREACHABLE", message: "m" });
  await tick();
  deepEqual(a.t.messages(), [
    { type: "delivered", re: 4, to: "b" },
    { type: "error", re: 5, code: "PEER_UNREACHABLE", message: "m" },
  ]);
});

Deno.test("connectionEvents({ coalesce }) writes the deliveries of one tick in one write", async () => {
  for (const coalesce of [false, true]) {
    const a = client("a");
    const events = connectionEvents({ registered: () => [a], kick() {}, log() {}, coalesce });
    for (let i = 0; i < 5; i++) {
      events.deliver(a, { rid: `r${i}`, from: "b", body: new Uint8Array([i]) });
    }
    await tick();
    equal(a.t.messages().length, 5);
    equal(a.t.writes.length, coalesce ? 1 : 2, `coalesce: ${coalesce}`);
  }
});
