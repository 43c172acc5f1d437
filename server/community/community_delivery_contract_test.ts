/**
 * The community contract, delivery: sealed messages relayed and confirmed, refused, kept for a
 * departed bound peer, ended past the receipt deadline, and the fair budgets; against the
 * in-memory community and three Redis nodes sharing one real redis-server
 * (`tests/_community_contract.ts`). Names and presence are `community_contract_test.ts`.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import {
  barrier,
  codeOf,
  type Conn,
  eventually,
  type Harness,
  join,
  leave,
  nodesOf,
  type Received,
  settle,
} from "../../tests/_community_harness.ts";
import {
  contract,
  deliveries,
  joinedNames,
  leftNames,
  outcomes,
  stopSharedRedis,
} from "../../tests/_community_contract.ts";
import { PeerstreamError } from "../../protocol/errors.ts";

contract("relays a sealed message and its receipt both ways", async (h) => {
  const alice = await join(h.node(0), "alice");
  const bob = await join(h.node(1), "bob");
  await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
  const body = new Uint8Array([1, 2, 3]);
  h.node(0).community.send(alice.conn, { requestId: 5, to: "bob", body });
  await eventually(() => deliveries(bob.conn).length === 1, "bob to get the message");
  const [got] = deliveries(bob.conn);
  equal(got.from, "alice");
  deepEqual([...got.body], [1, 2, 3]);
  h.node(1).community.receipt(bob.conn, { rid: got.rid, ok: true });
  await eventually(() => outcomes(alice.conn).length === 1, "alice to get the receipt");
  deepEqual(outcomes(alice.conn)[0], {
    k: "outcome",
    requestId: 5,
    outcome: { ok: true, to: "bob" },
  });
  h.node(1).community.send(bob.conn, { requestId: 6, to: "alice", body });
  await eventually(() => deliveries(alice.conn).length === 1, "alice to get the reply");
  h.node(0).community.receipt(alice.conn, {
    rid: deliveries(alice.conn)[0].rid,
    ok: false,
    code: "BAD_SIGNATURE",
  });
  await eventually(() => outcomes(bob.conn).length === 1, "bob to get the rejection");
  const rejected = outcomes(bob.conn)[0].outcome;
  equal(rejected.ok, false);
  if (!rejected.ok) equal(rejected.code, "BAD_SIGNATURE");
  await settle();
  equal(deliveries(bob.conn).length, 1);
  equal(outcomes(alice.conn).length, 1);
});

contract("delivers to a peer on the same node before send() returns", async (h) => {
  const alice = await join(h.node(1), "alice");
  const bob = await join(h.node(1), "bob");
  h.node(1).community.send(alice.conn, { requestId: 1, to: "bob", body: new Uint8Array([9]) });
  equal(deliveries(bob.conn).length, 1);
  h.node(1).community.receipt(bob.conn, { rid: deliveries(bob.conn)[0].rid, ok: true });
  equal(outcomes(alice.conn).length, 1);
});

contract("ignores a receipt from anyone but the recipient", async (h) => {
  const alice = await join(h.node(0), "alice");
  const bob = await join(h.node(1), "bob");
  const mallory = await join(h.node(2), "mallory");
  await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
  h.node(0).community.send(alice.conn, { requestId: 1, to: "bob", body: new Uint8Array([1]) });
  await eventually(() => deliveries(bob.conn).length === 1, "bob to get it");
  h.node(2).community.receipt(mallory.conn, { rid: deliveries(bob.conn)[0].rid, ok: true });
  await settle();
  equal(outcomes(alice.conn).length, 0);
});

contract("refuses unknown and departed ephemeral recipients", async (h) => {
  const alice = await join(h.node(0), "alice");
  // Ephemeral: a departed bound peer may have its messages queued (where the community queues).
  const bob = await join(h.node(1), "bob", { ephemeral: true });
  await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
  const send = (to: string) => () =>
    h.node(0).community.send(alice.conn, { requestId: 1, to, body: new Uint8Array([1]) });
  equal(await codeOf(send("nobody")), "UNKNOWN_PEER");
  leave(h.node(1), bob.conn);
  await eventually(() => leftNames(alice.conn).includes("bob"), "alice to see bob leave");
  // Refused at once, or (in a cluster, where only Redis knows the name is not bound) as the
  // outcome of the request once Redis answered.
  const code = await codeOf(send("bob"));
  if (code === "none") {
    await eventually(() => outcomes(alice.conn).length === 1, "the refusal");
    const { outcome } = outcomes(alice.conn)[0];
    equal(outcome.ok ? "delivered" : outcome.code, "PEER_OFFLINE");
  } else {
    equal(code, "PEER_OFFLINE");
  }
});

/** Sends, recording a `queued` answer given at once (one process) as the later event is. */
function sendTo(h: Harness, i: number, from: Conn, message: { requestId: number; to: string }) {
  const body = new Uint8Array([message.requestId]);
  const sent = h.node(i).community.send(from, { ...message, body });
  if (sent?.queued) from.inbox.push({ k: "queued", ...message, qseq: sent.qseq });
}

const queuedOf = (conn: Conn) =>
  conn.inbox.filter((r): r is Extract<Received, { k: "queued" }> => r.k === "queued");
const noticesOf = (conn: Conn) =>
  conn.inbox.filter((r): r is Extract<Received, { k: "notice" }> => r.k === "notice").map((r) =>
    r.notice
  );

/** alice online on node 0, and `name` bound on node 1 then gone (seen leaving by alice). */
async function withDeparted(h: Harness, name: string) {
  const alice = await join(h.node(0), "alice");
  const peer = await join(h.node(1), name);
  await eventually(() => joinedNames(alice.conn).includes(name), `alice to see ${name}`);
  leave(h.node(1), peer.conn);
  await eventually(() => leftNames(alice.conn).includes(name), `alice to see ${name} leave`);
  return alice;
}

contract(
  "keeps messages for a departed bound peer, delivers them once and in order on their next join, and tells the sender",
  async (h) => {
    const alice = await withDeparted(h, "bob");
    sendTo(h, 0, alice.conn, { requestId: 7, to: "bob" });
    sendTo(h, 0, alice.conn, { requestId: 8, to: "bob" });
    await eventually(() => queuedOf(alice.conn).length === 2, "both queued");
    deepEqual(queuedOf(alice.conn).map((q) => [q.requestId, q.qseq]), [[7, 1], [8, 2]]);
    const back = await join(h.node(h.count - 1), "bob");
    await eventually(() => deliveries(back.conn).length === 2, "bob to get both");
    deepEqual(deliveries(back.conn).map((d) => [d.from, [...d.body], d.queued, d.qseq]), [
      ["alice", [7], true, 1],
      ["alice", [8], true, 2],
    ]);
    for (const d of deliveries(back.conn)) {
      h.node(h.count - 1).community.receipt(back.conn, { rid: d.rid, ok: true });
    }
    await eventually(() => noticesOf(alice.conn).length === 2, "alice to hear of both");
    deepEqual(noticesOf(alice.conn), [
      { kind: "delivered", to: "bob", qseq: 1, re: 7 },
      { kind: "delivered", to: "bob", qseq: 2, re: 8 },
    ]);
    // Confirmed, so deleted: bob's next join gets nothing (a barrier closes the window).
    leave(h.node(h.count - 1), back.conn);
    await eventually(() => leftNames(alice.conn).filter((n) => n === "bob").length === 2, "leave");
    const third = await join(h.node(1), "bob");
    await barrier(nodesOf(h), [alice.conn, third.conn]);
    equal(deliveries(third.conn).length, 0);
    equal(outcomes(alice.conn).length, 0);
  },
);

contract(
  "ends a message unconfirmed past the receipt deadline PEER_UNREACHABLE at its sender, and ignores a late receipt",
  async (h) => {
    const alice = await join(h.node(0), "alice");
    const bob = await join(h.node(1), "bob");
    await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
    h.node(0).community.send(alice.conn, { requestId: 3, to: "bob", body: new Uint8Array([1]) });
    await eventually(() => deliveries(bob.conn).length === 1, "bob to get it");
    const [got] = deliveries(bob.conn);
    // What the server's tick does for bob's client, silent past the deadline.
    h.node(1).community.receipt(bob.conn, {
      rid: got.rid,
      ok: false,
      code: "PEER_UNREACHABLE",
      unconfirmedMs: 2_000,
    });
    await eventually(() => outcomes(alice.conn).length === 1, "alice to be told");
    const { requestId, outcome } = outcomes(alice.conn)[0];
    equal(requestId, 3);
    ok(!outcome.ok);
    equal(outcome.code, "PEER_UNREACHABLE");
    equal(
      outcome.message,
      'Message to "bob" was not confirmed by their client within 2 s; it may not have been shown; send it again later',
    );
    // bob's client confirms late: nothing more reaches alice, as a next message's outcome shows.
    h.node(1).community.receipt(bob.conn, { rid: got.rid, ok: true });
    h.node(0).community.send(alice.conn, { requestId: 4, to: "bob", body: new Uint8Array([2]) });
    await eventually(() => deliveries(bob.conn).length === 2, "bob to get the next");
    h.node(1).community.receipt(bob.conn, { rid: deliveries(bob.conn)[1].rid, ok: true });
    await eventually(() => outcomes(alice.conn).length === 2, "alice to hear of the next");
    deepEqual(outcomes(alice.conn).map((o) => [o.requestId, o.outcome.ok]), [[3, false], [
      4,
      true,
    ]]);
  },
);

contract(
  "keeps a queued message its recipient's client left unconfirmed past the deadline, for their next join",
  async (h) => {
    const alice = await withDeparted(h, "bob");
    sendTo(h, 0, alice.conn, { requestId: 7, to: "bob" });
    await eventually(() => queuedOf(alice.conn).length === 1, "queued");
    const back = await join(h.node(h.count - 1), "bob");
    await eventually(() => deliveries(back.conn).length === 1, "bob to get it");
    h.node(h.count - 1).community.receipt(back.conn, {
      rid: deliveries(back.conn)[0].rid,
      ok: false,
      code: "PEER_UNREACHABLE",
      unconfirmedMs: 2_000,
    });
    leave(h.node(h.count - 1), back.conn);
    await eventually(() => leftNames(alice.conn).filter((n) => n === "bob").length === 2, "leave");
    const again = await join(h.node(1), "bob");
    await eventually(() => deliveries(again.conn).length === 1, "bob to get it again");
    equal(deliveries(again.conn)[0].qseq, 1);
    deepEqual(noticesOf(alice.conn), [], "no delivered notice for an unconfirmed message");
  },
);

contract(
  "a message sent while its offline recipient joins reaches them once or is refused, never both, never lost",
  async (h) => {
    const alice = await withDeparted(h, "bob");
    const count = 40;
    let joining: ReturnType<typeof join> | undefined;
    for (let requestId = 1; requestId <= count; requestId++) {
      if (requestId === 10) joining = join(h.node(h.count - 1), "bob");
      try {
        sendTo(h, 0, alice.conn, { requestId, to: "bob" });
      } catch (error) {
        if (!(error instanceof PeerstreamError)) throw error;
        const outcome = { ok: false as const, code: error.code, message: error.message };
        alice.conn.inbox.push({ k: "outcome", requestId, outcome });
      }
      // Spread the sends over the join (queued before it, live after, and the races between).
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const back = await joining!;
    const got = () => deliveries(back.conn).map((d) => d.body[0]);
    const refused = () => outcomes(alice.conn).map((o) => o.requestId);
    await eventually(() => new Set([...got(), ...refused()]).size === count, "every send settled");
    await barrier(nodesOf(h), [alice.conn, back.conn]);
    const all = [...got(), ...refused()].sort((x, y) => x - y);
    deepEqual(all, Array.from({ length: count }, (_, i) => i + 1));
    // What waited comes first, in order; what came live follows, in order.
    const queued = deliveries(back.conn).filter((d) => d.queued).map((d) => d.body[0]);
    const live = deliveries(back.conn).filter((d) => !d.queued).map((d) => d.body[0]);
    deepEqual(got(), [...queued, ...live]);
    deepEqual(queued, [...queued].sort((x, y) => x - y));
    // Those sent before the join began were offline messages: queued, none refused.
    deepEqual(queued.slice(0, 9), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    equal(queuedOf(alice.conn).length, queued.length);
  },
);

contract("fails unconfirmed messages to their senders when the recipient leaves", async (h) => {
  const alice = await join(h.node(0), "alice");
  const bob = await join(h.node(1), "bob");
  await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
  h.node(0).community.send(alice.conn, { requestId: 3, to: "bob", body: new Uint8Array([1]) });
  await eventually(() => deliveries(bob.conn).length === 1, "bob to get it");
  leave(h.node(1), bob.conn);
  await eventually(() => outcomes(alice.conn).length >= 1, "alice to hear the message failed");
  await settle();
  equal(outcomes(alice.conn).length, 1);
  const failed = outcomes(alice.conn)[0].outcome;
  equal(failed.ok, false);
  if (!failed.ok) equal(failed.code, "PEER_OFFLINE");
});

contract(
  "bounds what one recipient may have unconfirmed, from senders on every node, fairly",
  async (h) => {
    const bob = await join(h.node(0), "bob");
    const senders = [
      await join(h.node(0), "s0"),
      await join(h.node(1), "s1"),
      await join(h.node(2), "s2"),
    ];
    await eventually(() => joinedNames(bob.conn).length === 3, "bob to see the senders");
    await settle();
    let refused = 0;
    for (const [i, s] of senders.entries()) {
      for (let n = 0; n < 2; n++) {
        const code = await codeOf(() =>
          h.node(i).community.send(s.conn, { requestId: n, to: "bob", body: new Uint8Array([n]) })
        );
        if (code !== "none") refused++;
      }
    }
    await eventually(
      () =>
        deliveries(bob.conn).length + refused + senders.flatMap((s) => outcomes(s.conn)).length >=
          6,
      "every message to be delivered or refused",
    );
    await settle();
    // Past its total (3) the inbox takes only senders under their fair share (one message each
    // here), up to twice the total: at most 6, and every sender gets one in.
    const got = deliveries(bob.conn);
    ok(got.length >= 3 && got.length <= 6, `${got.length} delivered`);
    for (const s of ["s0", "s1", "s2"]) ok(got.some((d) => d.from === s), `one from ${s}`);
    const late = senders.flatMap((s) => outcomes(s.conn)).map((o) => o.outcome);
    for (const o of late) equal(o.ok ? "ok" : o.code, "INBOX_FULL");
    equal(refused + late.length, 6 - got.length);
  },
  { limits: { budgets: { recipientMessages: 3 } } },
);

contract("bounds what one sender may leave unconfirmed with one recipient", async (h) => {
  const bob = await join(h.node(0), "bob");
  const eve = await join(h.node(1), "eve");
  const amy = await join(h.node(2), "amy");
  await eventually(() => joinedNames(bob.conn).length === 2, "bob to see eve and amy");
  await settle();
  const codes: string[] = [];
  for (let n = 0; n < 3; n++) {
    codes.push(
      await codeOf(() =>
        h.node(1).community.send(eve.conn, { requestId: n, to: "bob", body: new Uint8Array([n]) })
      ),
    );
  }
  await eventually(() => deliveries(bob.conn).length === 2, "bob to get two from eve");
  await eventually(
    () => codes.includes("INBOX_FULL") || outcomes(eve.conn).length === 1,
    "eve's third refused",
  );
  const third = outcomes(eve.conn)[0]?.outcome;
  equal(codes.includes("INBOX_FULL") ? "INBOX_FULL" : third?.ok ? "ok" : third?.code, "INBOX_FULL");
  // Another sender still has room in bob's inbox.
  h.node(2).community.send(amy.conn, { requestId: 9, to: "bob", body: new Uint8Array([9]) });
  await eventually(() => deliveries(bob.conn).length === 3, "bob to get amy's");
}, { limits: { budgets: { pairMessages: 2 } } });

Deno.test("community contract: stop the shared redis-server", async () => {
  await stopSharedRedis();
  ok(true);
});
