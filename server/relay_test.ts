import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { type PendingDelivery, Relay } from "./relay.ts";

function delivery(from: string, to: string, requestId: number): PendingDelivery<string> {
  return { sender: `conn-${from}`, from, requestId, to };
}

Deno.test("Relay.accept() returns a fresh relay id per message and counts them as pending", () => {
  const relay = new Relay<string>();
  equal(relay.pendingCount, 0);
  const a = relay.accept(delivery("alice", "bob", 1));
  const b = relay.accept(delivery("alice", "bob", 2));
  const c = relay.accept(delivery("carol", "alice", 1));
  equal(new Set([a, b, c]).size, 3);
  equal(relay.pendingCount, 3);
});

Deno.test("Relay.receipt() returns ok: true for a good receipt from the recipient", () => {
  const relay = new Relay<string>();
  const rid = relay.accept(delivery("alice", "bob", 7));
  deepEqual(relay.receipt(rid, { by: "bob", ok: true }), {
    ...delivery("alice", "bob", 7),
    ok: true,
  });
  equal(relay.pendingCount, 0);
});

Deno.test("Relay.receipt() returns ok: false carrying the recipient's code", () => {
  const relay = new Relay<string>();
  const rid = relay.accept(delivery("alice", "bob", 7));
  const outcome = relay.receipt(rid, { by: "bob", ok: false, code: "BAD_SIGNATURE" });
  ok(outcome !== undefined && !outcome.ok);
  equal(outcome.code, "BAD_SIGNATURE");
  equal(outcome.requestId, 7);
  equal(outcome.sender, "conn-alice");
  ok(outcome.message.includes('"bob"'), outcome.message);
  ok(outcome.message.includes("BAD_SIGNATURE"), outcome.message);
  equal(relay.pendingCount, 0);
});

Deno.test("Relay.receipt() defaults a failed receipt without a code to DECRYPT_FAILED", () => {
  const relay = new Relay<string>();
  const rid = relay.accept(delivery("alice", "bob", 1));
  const outcome = relay.receipt(rid, { by: "bob", ok: false });
  ok(outcome !== undefined && !outcome.ok);
  equal(outcome.code, "DECRYPT_FAILED");
});

Deno.test("Relay.receipt() ignores a receipt from someone other than the recipient", () => {
  const relay = new Relay<string>();
  const rid = relay.accept(delivery("alice", "bob", 1));
  equal(relay.receipt(rid, { by: "mallory", ok: true }), undefined);
  equal(relay.receipt(rid, { by: "alice", ok: false, code: "DECRYPT_FAILED" }), undefined);
  equal(relay.pendingCount, 1);
  // The real recipient can still confirm it.
  equal(relay.receipt(rid, { by: "bob", ok: true })?.ok, true);
});

Deno.test("Relay.receipt() ignores a stale or unknown relay id", () => {
  const relay = new Relay<string>();
  const rid = relay.accept(delivery("alice", "bob", 1));
  equal(relay.receipt(rid, { by: "bob", ok: true })?.ok, true);
  equal(relay.receipt(rid, { by: "bob", ok: true }), undefined);
  equal(relay.receipt("AAAA", { by: "bob", ok: true }), undefined);
  equal(relay.receipt("zzzz", { by: "bob", ok: true }), undefined);
  equal(relay.pendingCount, 0);
});

Deno.test("Relay.recipientLeft() returns every pending delivery to that recipient and forgets them", () => {
  const relay = new Relay<string>();
  const r1 = relay.accept(delivery("alice", "bob", 1));
  relay.accept(delivery("carol", "bob", 2));
  const other = relay.accept(delivery("bob", "alice", 3));
  const r3 = relay.accept(delivery("alice", "bob", 4));
  equal(relay.receipt(r3, { by: "bob", ok: true })?.ok, true);
  deepEqual(relay.recipientLeft("bob"), [
    delivery("alice", "bob", 1),
    delivery("carol", "bob", 2),
  ]);
  equal(relay.pendingCount, 1);
  deepEqual(relay.recipientLeft("bob"), []);
  deepEqual(relay.recipientLeft("nobody"), []);
  equal(relay.receipt(r1, { by: "bob", ok: true }), undefined);
  equal(relay.receipt(other, { by: "alice", ok: true })?.ok, true);
  equal(relay.pendingCount, 0);
});

Deno.test("Relay.accept() throws RATE_LIMITED at limit + 1 pending for one recipient", () => {
  for (const limit of [1, 2, 3]) {
    const relay = new Relay<string>({ maxPendingPerRecipient: limit });
    for (let i = 0; i < limit; i++) relay.accept(delivery("alice", "bob", i));
    equal(relay.pendingCount, limit);
    throws(() => relay.accept(delivery("alice", "bob", limit)), (error: unknown) => {
      ok(error instanceof PeerstreamError);
      equal(error.code, "RATE_LIMITED");
      ok(error.message.includes(`Cannot send to "bob"`), error.message);
      ok(error.message.includes("wait and retry"), error.message);
      return true;
    });
    equal(relay.pendingCount, limit);
    // Another recipient has its own allowance.
    relay.accept(delivery("alice", "carol", 0));
  }
});

Deno.test("Relay.accept() accepts again once a receipt frees a slot", () => {
  const relay = new Relay<string>({ maxPendingPerRecipient: 2 });
  const first = relay.accept(delivery("alice", "bob", 1));
  relay.accept(delivery("alice", "bob", 2));
  throws(() => relay.accept(delivery("alice", "bob", 3)), { code: "RATE_LIMITED" });
  relay.receipt(first, { by: "bob", ok: true });
  relay.accept(delivery("alice", "bob", 3));
  equal(relay.pendingCount, 2);
});

Deno.test("Relay.accept() rejects every message when the limit is 0", () => {
  const relay = new Relay<string>({ maxPendingPerRecipient: 0 });
  throws(() => relay.accept(delivery("alice", "bob", 1)), (error: unknown) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "RATE_LIMITED");
    ok(error.message.includes("0 messages await"), error.message);
    return true;
  });
  equal(relay.pendingCount, 0);
});
