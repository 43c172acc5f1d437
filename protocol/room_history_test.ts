import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "./errors.ts";
import { parseEntry } from "./room_chain.ts";
import { RoomHistory } from "./room_history.ts";
import { buildRoom, lookupOf, nextEntry, people } from "./_room_testing.ts";

const [alice, bob, carol, dave] = await people("alice", "bob", "carol", "dave");
const lookup = lookupOf([alice, bob, carol, dave]);

async function refused(promise: Promise<unknown>, code: string, fragment: string) {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, code, error.message);
    ok(error.message.includes(fragment), `${error.message} lacks "${fragment}"`);
    return true;
  });
}

Deno.test("RoomHistory.extend() checks a chain given whole, and stateAt() answers each seq", async () => {
  const { entries } = await buildRoom([
    [alice, "create"],
    [alice, "invite", bob],
    [bob, "accept"],
    [bob, "invite", carol],
    [carol, "accept"],
    [alice, "remove", carol],
  ], lookup);
  // A second checker gets the six entries at once, keeping only 2 recent states.
  const history = new RoomHistory({ recentStates: 2 });
  equal(history.seq, -1);
  equal(history.state, undefined);
  deepEqual((await history.extend(entries, lookup)).map((e) => e.entry.op), [
    "create",
    "invite",
    "accept",
    "invite",
    "accept",
    "remove",
  ]);
  equal(history.seq, 5);
  const members = (seq: number) => [...history.stateAt(seq)!.members.keys()];
  deepEqual(members(0), ["alice"]);
  deepEqual(members(2), ["alice", "bob"]);
  deepEqual(members(4), ["alice", "bob", "carol"]);
  deepEqual(members(5), ["alice", "bob"]);
  equal(history.stateAt(6), undefined);
  equal(history.stateAt(-1), undefined);
  equal(history.stateAt(4)!.head, parseEntry(entries[5]).entry.prev);
});

Deno.test("RoomHistory.extend() keeps nothing of a batch with one refused entry", async () => {
  const { history } = await buildRoom([[alice, "create"]], lookup);
  const invite = await nextEntry(history, alice, {
    op: "invite",
    subject: "bob",
    keys: bob.keys.pins,
  });
  // The server injects dave: an entry signed by dave, who is no member.
  const probe = new RoomHistory();
  await probe.extend(history.entries.map((e) => e.bytes), lookup);
  await probe.extend([invite], lookup);
  const injected = await nextEntry(probe, dave, {
    op: "invite",
    subject: "carol",
    keys: carol.keys.pins,
  });
  await refused(history.extend([invite, injected], lookup), "NOT_A_MEMBER", '"dave"');
  equal(history.seq, 0);
});

Deno.test("RoomHistory.extend() refuses an entry not signed by the author's known key", async () => {
  const { history } = await buildRoom([[alice, "create"]], lookup);
  // An invite claiming alice as author, signed by dave's key (a server forging an entry).
  const forged = await nextEntry(history, { ...dave, name: "alice" }, {
    op: "invite",
    subject: "dave",
    keys: dave.keys.pins,
  });
  await refused(history.extend([forged], lookup), "BAD_SIGNATURE", 'not signed by "alice"');
  // A checker that knows "alice" by another key than the room pinned refuses her entries.
  const liar = (name: string) => Promise.resolve(name === "alice" ? dave.keys : undefined);
  const fresh = new RoomHistory();
  const honest = history.entries[0].bytes;
  await refused(fresh.extend([honest], liar), "BAD_SIGNATURE", 'not signed by "alice"');
  await refused(fresh.extend([honest], () => Promise.resolve(undefined)), "UNKNOWN_PEER", "alice");
  equal(fresh.seq, -1);
});
