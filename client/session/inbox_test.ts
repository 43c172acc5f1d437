import { deepEqual, equal, ok } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, importPeerKeys, seal } from "../../protocol/e2e.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import { type ClientMessage, MAX_SEALED_BYTES } from "../../protocol/messages.ts";
import { ReplayGuard } from "../../protocol/replay.ts";
import { Inbox, type InboxOptions, type IncomingMessage } from "./inbox.ts";
import type { TrustedKeys } from "./keys.ts";

const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
const aliceKeys: TrustedKeys = {
  ...await importPeerKeys(await exportPublicKeys(alice)),
  trust: "known",
};
const bobKeys = await importPeerKeys(await exportPublicKeys(bob));

/** An inbox for bob; `keys` answers with alice's keys unless told to wait. */
function inbox(options: Partial<InboxOptions> = {}) {
  const sent: ClientMessage[] = [];
  const messages: IncomingMessage[] = [];
  const warnings: [string, ErrorCode, string | undefined][] = [];
  const box = new Inbox({
    maxInbox: 1024,
    maxInboxBytes: 8 * 1024 * 1024,
    replay: new ReplayGuard(),
    self: () => ({ name: "bob", identity: bob }),
    keys: () => Promise.resolve(aliceKeys),
    send: (m) => sent.push(m),
    message: (m) => messages.push(m),
    warning: (text, code, from) => warnings.push([text, code, from]),
    ...options,
  });
  return { box, sent, messages, warnings };
}

const sealFromAlice = (text: string) =>
  seal(text, { from: "alice", to: "bob", identity: alice, recipient: bobKeys });

const receipts = (sent: ClientMessage[]) =>
  sent.map((m) => m.type === "receipt" ? `${m.rid} ${m.ok ? "ok" : m.code}` : m.type);

/** Keys that never come: messages stay unopened in the inbox. */
const never = () => new Promise<TrustedKeys>(() => {});

Deno.test("Inbox.deliver() opens messages in order, answers ok, and refuses a replay", async () => {
  const { box, sent, messages, warnings } = inbox();
  const first = await sealFromAlice("one");
  box.deliver("r1", "alice", first);
  box.deliver("r2", "alice", await sealFromAlice("two"));
  box.deliver("r3", "alice", first);
  await box.idle;
  deepEqual(messages.map((m) => [m.from, m.text, m.trust]), [
    ["alice", "one", "known"],
    ["alice", "two", "known"],
  ]);
  deepEqual(receipts(sent), ["r1 ok", "r2 ok", "r3 REPLAYED"]);
  equal(warnings.length, 1);
  deepEqual(warnings[0].slice(1), ["REPLAYED", "alice"]);
  equal(box.count, 0);
});

Deno.test("Inbox.deliver() holds maxInbox messages and refuses the next with INBOX_FULL, warning once", () => {
  const { box, sent, warnings } = inbox({ maxInbox: 3, keys: never });
  for (let i = 0; i < 3; i++) box.deliver(`r${i}`, "alice", new Uint8Array(10));
  equal(box.count, 3);
  deepEqual(sent, [], "at the bound: all held");
  box.deliver("r3", "alice", new Uint8Array(10));
  box.deliver("r4", "alice", new Uint8Array(10));
  deepEqual(receipts(sent), ["r3 INBOX_FULL", "r4 INBOX_FULL"]);
  equal(warnings.length, 1);
  equal(warnings[0][1], "INBOX_FULL");
  ok(warnings[0][0].includes("holds 3 unopened messages (30 bytes)"), warnings[0][0]);
});

Deno.test("Inbox.deliver() bounds the bytes held: exactly maxInboxBytes fits, one more does not", () => {
  const { box, sent } = inbox({ maxInboxBytes: 100, keys: never });
  box.deliver("r1", "alice", new Uint8Array(60));
  box.deliver("r2", "alice", new Uint8Array(40));
  deepEqual(sent, []);
  box.deliver("r3", "alice", new Uint8Array(1));
  deepEqual(receipts(sent), ["r3 INBOX_FULL"]);
  equal(box.count, 2);
});

Deno.test("Inbox.deliver() refuses a body over MAX_SEALED_BYTES at once, and holds one at it", () => {
  const { box, sent, warnings } = inbox({ keys: never });
  box.deliver("r1", "alice", new Uint8Array(MAX_SEALED_BYTES));
  box.deliver("r2", "alice", new Uint8Array(MAX_SEALED_BYTES + 1));
  deepEqual(receipts(sent), ["r2 BAD_MESSAGE"]);
  equal(box.count, 1);
  deepEqual(warnings.map((w) => [w[1], w[2]]), [["BAD_MESSAGE", "alice"]]);
  ok(warnings[0][0].includes(`${MAX_SEALED_BYTES + 1} bytes exceeds`), warnings[0][0]);
});

Deno.test("Inbox.deliver() ignores messages before registration", async () => {
  const { box, sent, messages } = inbox({ self: () => undefined });
  box.deliver("r1", "alice", await sealFromAlice("early"));
  await box.idle;
  deepEqual(sent, []);
  deepEqual(messages, []);
});

Deno.test("Inbox answers a message it cannot open with the reason as its receipt code", async () => {
  const { box, sent, warnings } = inbox({
    keys: (name) => Promise.reject(new Error(`no keys for ${name}`)),
  });
  box.deliver("r1", "alice", await sealFromAlice("hello"));
  box.deliver("r2", "mallory", new Uint8Array([1, 2, 3]));
  await box.idle;
  deepEqual(receipts(sent), ["r1 DECRYPT_FAILED", "r2 DECRYPT_FAILED"]);
  deepEqual(warnings.map((w) => w[0]), ["no keys for alice", "no keys for mallory"]);
});

/** A promise and its resolver. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once `sent` holds a receipt for `rid`, or fails after `ms`. */
function receiptFor(sent: ClientMessage[], rid: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const look = () => {
      if (sent.some((m) => m.type === "receipt" && m.rid === rid)) return resolve();
      if (performance.now() > deadline) {
        return reject(new Error(`no receipt for ${rid} within ${ms} ms: ${receipts(sent)}`));
      }
      setTimeout(look, 5);
    };
    look();
  });
}

Deno.test("Inbox.deliver() answers a sender whose keys are known while another sender's keys are still looked up (issue 16)", async () => {
  // Under a flood each new colluder costs the recipient a key lookup, a round trip to a busy
  // server; the honest sender's message, delivered behind one, waited for it (and the server's
  // window, full of unanswered messages, held everyone else's).
  const carol = deferred<TrustedKeys>();
  const { box, sent, messages } = inbox({
    keys: (name) => name === "carol" ? carol.promise : Promise.resolve(aliceKeys),
  });
  box.deliver("c1", "carol", new Uint8Array([1, 2, 3]));
  box.deliver("a1", "alice", await sealFromAlice("one"));
  box.deliver("c2", "carol", new Uint8Array([4, 5, 6]));
  box.deliver("a2", "alice", await sealFromAlice("two"));
  await receiptFor(sent, "a2");
  deepEqual(receipts(sent), ["a1 ok", "a2 ok"], "carol's wait for her keys");
  equal(box.count, 2, "carol's two still held");
  carol.resolve(aliceKeys);
  await box.idle;
  deepEqual(receipts(sent), ["a1 ok", "a2 ok", "c1 BAD_MESSAGE", "c2 BAD_MESSAGE"]);
  deepEqual(messages.map((m) => m.text), ["one", "two"], "one sender's messages in order");
  equal(box.count, 0);
});

Deno.test("Inbox: a callback that throws costs neither a second receipt nor the sender's next message", async () => {
  const errors: unknown[] = [];
  let calls = 0;
  const { box, sent } = inbox({
    message: () => {
      if (calls++ === 0) throw new Error("the screen failed");
    },
    warning: () => {
      throw new Error("the warning failed too");
    },
    failed: (error) => errors.push(error),
  });
  const first = await sealFromAlice("one");
  box.deliver("r1", "alice", first);
  // A replay: refused, and its warning throws.
  box.deliver("r2", "alice", first);
  box.deliver("r3", "alice", await sealFromAlice("three"));
  await box.idle;
  deepEqual(receipts(sent), ["r1 ok", "r2 REPLAYED", "r3 ok"]);
  deepEqual(errors.map((e) => (e as Error).message), [
    "the screen failed",
    "the warning failed too",
  ]);
  equal(box.count, 0);
});
