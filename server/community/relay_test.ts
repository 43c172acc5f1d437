import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import {
  DEFAULT_RELAY_BUDGETS,
  fairShare,
  type PendingDelivery,
  Relay,
  type RelayBudgets,
} from "./relay.ts";

function delivery(
  from: string,
  to: string,
  requestId: number,
  bytes = 100,
): PendingDelivery<string> {
  return { sender: `conn-${from}`, from, requestId, to, bytes };
}

/** Small budgets so that every boundary is reachable: 3 messages or 300 bytes per pair. */
const SMALL: RelayBudgets = {
  pairMessages: 3,
  pairBytes: 300,
  recipientMessages: 5,
  recipientBytes: 500,
};

/** Asserts that `fn` throws INBOX_FULL naming the recipient and what to wait for. */
function throwsInboxFull(fn: () => unknown, fragment: string) {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, "INBOX_FULL");
    ok(error.message.startsWith(`Cannot send to "bob": `), error.message);
    ok(error.message.includes(fragment), `expected "${fragment}" in ${error.message}`);
    ok(error.message.endsWith("; wait for delivered and retry"), error.message);
    return true;
  });
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

Deno.test("Relay.receipt() tells the sender a message unconfirmed past the deadline was not confirmed", () => {
  const relay = new Relay<string>();
  const cases: [number, string][] = [[30_000, "30 s"], [2_000, "2 s"], [1_500, "1500 ms"]];
  for (const [unconfirmedMs, within] of cases) {
    const rid = relay.accept(delivery("alice", "bob", 1));
    const outcome = relay.receipt(rid, {
      by: "bob",
      ok: false,
      code: "PEER_UNREACHABLE",
      unconfirmedMs,
    });
    ok(outcome !== undefined && !outcome.ok);
    equal(outcome.code, "PEER_UNREACHABLE");
    equal(
      outcome.message,
      `Message to "bob" was not confirmed by their client within ${within}; it may not have been shown; send it again later`,
    );
    equal(relay.receipt(rid, { by: "bob", ok: true }), undefined, "a late receipt is ignored");
  }
  equal(relay.pendingCount, 0);
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

Deno.test("Relay.accept() takes exactly the pair budget in count, then throws INBOX_FULL", () => {
  const relay = new Relay<string>(SMALL);
  for (let i = 0; i < SMALL.pairMessages; i++) relay.accept(delivery("alice", "bob", i, 1));
  throwsInboxFull(() => relay.accept(delivery("alice", "bob", 9, 1)), "3 messages from you");
  equal(relay.pendingCount, SMALL.pairMessages);
  deepEqual(relay.usage("bob"), { messages: 3, bytes: 3 });
});

Deno.test("Relay.accept() takes exactly the pair budget in bytes, then throws INBOX_FULL at one byte more", () => {
  const relay = new Relay<string>(SMALL);
  relay.accept(delivery("alice", "bob", 1, 200));
  relay.accept(delivery("alice", "bob", 2, 100));
  throwsInboxFull(
    () => relay.accept(delivery("alice", "bob", 3, 1)),
    "2 messages from you (300 bytes)",
  );
  // A message alone larger than the pair budget can never be taken.
  const fresh = new Relay<string>(SMALL);
  throwsInboxFull(() => fresh.accept(delivery("alice", "bob", 1, 301)), "from you");
  equal(fresh.pendingCount, 0);
});

Deno.test("Relay.accept() leaves room for other senders when one fills its pair budget", () => {
  const relay = new Relay<string>(SMALL);
  for (let i = 0; i < 3; i++) relay.accept(delivery("mallory", "bob", i));
  throwsInboxFull(() => relay.accept(delivery("mallory", "bob", 3)), "from you");
  // Honest senders still get through; mallory's budget toward carol is separate too.
  relay.accept(delivery("alice", "bob", 1));
  relay.accept(delivery("carol", "bob", 1));
  relay.accept(delivery("mallory", "carol", 1));
  deepEqual(relay.usage("bob"), { messages: 5, bytes: 500 });
});

Deno.test("Relay.accept() past the recipient's total takes only senders under their fair share, up to twice the total", async (t) => {
  await t.step("count", () => {
    const relay = new Relay<string>({ ...SMALL, recipientBytes: 10_000 });
    for (const from of ["a", "b", "c", "d", "e"]) relay.accept(delivery(from, "bob", 1, 1));
    // Full (5): a sixth sender's first message is within its share (one message).
    relay.accept(delivery("f", "bob", 1, 1));
    throwsInboxFull(() => relay.accept(delivery("f", "bob", 2, 1)), "your share while 6 people");
    throwsInboxFull(() => relay.accept(delivery("a", "bob", 2, 1)), "inbox holds 6 messages");
    for (const from of ["g", "h", "i", "j"]) relay.accept(delivery(from, "bob", 1, 1));
    // Twice the total (10) is the hard bound, share or not.
    throwsInboxFull(() => relay.accept(delivery("k", "bob", 1, 1)), "inbox holds 10 messages");
    relay.accept(delivery("k", "carol", 1, 1));
  });
  await t.step("bytes", () => {
    const relay = new Relay<string>(SMALL);
    relay.accept(delivery("a", "bob", 1, 300));
    relay.accept(delivery("b", "bob", 1, 200));
    // Full (500 bytes): c's share is 500 / 3 = 166 bytes.
    relay.accept(delivery("c", "bob", 1, 166));
    throwsInboxFull(() => relay.accept(delivery("c", "bob", 2, 1)), "(666 bytes)");
    throwsInboxFull(
      () => relay.accept(delivery("b", "bob", 2, 1)),
      "(200 bytes) of them are yours",
    );
    // One message bigger than the share still fits when the sender holds nothing there.
    relay.accept(delivery("d", "bob", 1, 300));
    deepEqual(relay.usage("bob"), { messages: 4, bytes: 966 });
  });
});

Deno.test("fairShare() divides the recipient's budget between its senders, never below one message", () => {
  const budgets = { recipientMessages: 1024, recipientBytes: 4 * 1024 * 1024 };
  const table: [number, number, { messages: number; bytes: number }][] = [
    [0, 100, { messages: 1024, bytes: 4 * 1024 * 1024 }],
    [1, 100, { messages: 1024, bytes: 4 * 1024 * 1024 }],
    [21, 33_280, { messages: 48, bytes: 199_728 }],
    [2000, 33_280, { messages: 1, bytes: 33_280 }],
  ];
  for (const [senders, bytes, share] of table) {
    deepEqual(fairShare(budgets, { senders, bytes }), share, `${senders} senders`);
  }
});

Deno.test("Relay frees budget on every receipt, ok or not, and when the recipient leaves", () => {
  const relay = new Relay<string>(SMALL);
  const rids = [0, 1, 2].map((i) => relay.accept(delivery("alice", "bob", i)));
  throwsInboxFull(() => relay.accept(delivery("alice", "bob", 3)), "from you");
  relay.receipt(rids[0], { by: "bob", ok: true });
  relay.accept(delivery("alice", "bob", 3));
  relay.receipt(rids[1], { by: "bob", ok: false, code: "BAD_MESSAGE" });
  relay.accept(delivery("alice", "bob", 4));
  // A receipt by someone else frees nothing.
  relay.receipt(rids[2], { by: "mallory", ok: true });
  throwsInboxFull(() => relay.accept(delivery("alice", "bob", 5)), "from you");
  equal(relay.recipientLeft("bob").length, 3);
  deepEqual(relay.usage("bob"), { messages: 0, bytes: 0 });
  for (let i = 0; i < 3; i++) relay.accept(delivery("alice", "bob", 10 + i));
});

Deno.test("Relay.accept() refuses every message when a budget is 0", () => {
  const relay = new Relay<string>({ ...SMALL, recipientMessages: 0 });
  throwsInboxFull(() => relay.accept(delivery("alice", "bob", 1)), "inbox holds 0 messages");
  equal(relay.pendingCount, 0);
});

Deno.test("DEFAULT_RELAY_BUDGETS: a pair's budget is below a recipient's, whose double stays within 8 MiB", () => {
  ok(DEFAULT_RELAY_BUDGETS.pairMessages < DEFAULT_RELAY_BUDGETS.recipientMessages);
  ok(DEFAULT_RELAY_BUDGETS.pairBytes < DEFAULT_RELAY_BUDGETS.recipientBytes);
  ok(2 * DEFAULT_RELAY_BUDGETS.recipientBytes <= 8 * 1024 * 1024);
});
