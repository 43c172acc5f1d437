import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { PeerstreamError } from "./errors.ts";
import { MAX_TEXT_BYTES } from "./messages.ts";
import { ReplayGuard } from "./replay.ts";
import type { RoomState } from "./room_chain.ts";
import {
  type CheckedChain,
  openRoom,
  type OpenRoomOptions,
  parseRoomEnvelope,
  sealRoom,
  type SealRoomOptions,
} from "./room_envelope.ts";
import {
  buildRoom,
  lookupOf,
  nextEntry,
  people,
  type Person,
  recipientsOf,
  TEST_ROOM,
} from "./_room_testing.ts";

const [alice, bob, carol, dave] = await people("alice", "bob", "carol", "dave");
const everyone = [alice, bob, carol, dave];
const lookup = lookupOf(everyone);
const ORIGIN = new Uint8Array(8).fill(7);

/** alice creates; bob and carol are invited and accept: seq 4, three members. */
async function roomOfThree() {
  return await buildRoom([
    [alice, "create"],
    [alice, "invite", bob],
    [bob, "accept"],
    [alice, "invite", carol],
    [carol, "accept"],
  ], lookup);
}

function seal(who: Person, state: RoomState, extra: Partial<SealRoomOptions> = {}) {
  return sealRoom(`hello from ${who.name}`, {
    from: who.name,
    identity: who.identity,
    state,
    recipients: recipientsOf(everyone),
    origin: ORIGIN,
    counter: 1,
    ...extra,
  });
}

function open(
  envelope: Uint8Array,
  me: Person,
  chain: CheckedChain,
  extra: Partial<OpenRoomOptions> = {},
) {
  return openRoom(envelope, {
    room: TEST_ROOM,
    from: "alice",
    me: me.name,
    identity: me.identity,
    chain,
    sender: alice.keys,
    replay: new ReplayGuard({ windowMs: 15 * 24 * 3600_000 }),
    ...extra,
  });
}

async function refused(promise: Promise<unknown>, code: string, fragment: string) {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, code, error.message);
    ok(error.message.includes(fragment), `${error.message} lacks "${fragment}"`);
    return true;
  });
}

Deno.test("openRoom() opens for every member, the sender included, what sealRoom() sealed once", async () => {
  const { history } = await roomOfThree();
  const envelope = await seal(alice, history.state!, { counter: 5, sentAt: 1234 });
  const parsed = parseRoomEnvelope(envelope);
  deepEqual(parsed.wraps.map((w) => w.name), ["alice", "bob", "carol"]);
  deepEqual([parsed.room, parsed.seq, parsed.head], [TEST_ROOM, 4, history.state!.head]);
  for (const me of [alice, bob, carol]) {
    const opened = await open(envelope, me, history, { now: 1234 });
    deepEqual(
      { ...opened, id: opened.id.length },
      {
        room: TEST_ROOM,
        from: "alice",
        text: "hello from alice",
        id: 32,
        sentAt: 1234,
        seq: 4,
        origin: "0707070707070707",
        counter: 5,
        members: ["alice", "bob", "carol"],
      },
    );
  }
});

Deno.test("openRoom() gives a member removed at seq n nothing sealed after: no wrap for them", async () => {
  const { history } = await roomOfThree();
  const removal = await nextEntry(history, alice, { op: "remove", subject: "carol" });
  await history.extend([removal], lookup);
  equal(history.seq, 5);
  const envelope = await seal(alice, history.state!);
  const wraps = parseRoomEnvelope(envelope).wraps;
  deepEqual(wraps.map((w) => w.name), ["alice", "bob"]);
  // carol, with the chain that removed her, is told it is not for her.
  await refused(open(envelope, carol, history), "NOT_A_MEMBER", "not wrapped for you");
  // carol with a chain that stops before her removal cannot even place it.
  const { history: stale } = await roomOfThree();
  await refused(open(envelope, carol, stale), "CHAIN_INVALID", "not checked");
  // And no wrap in it opens with carol's key.
  for (const wrap of wraps) {
    await rejects(
      crypto.subtle.unwrapKey(
        "raw",
        wrap.key,
        carol.identity.enc.privateKey,
        "RSA-OAEP",
        "AES-GCM",
        false,
        ["decrypt"],
      ),
    );
  }
  // bob still reads it.
  equal((await open(envelope, bob, history)).text, "hello from alice");
});

Deno.test("openRoom() refuses an envelope wrapped for someone the chain does not have as a member", async () => {
  const { history } = await roomOfThree();
  const state = history.state!;
  // A member's client (or a server that forged it) seals to dave beside the real members.
  const members = new Map(state.members);
  members.set("dave", dave.keys.pins);
  const forged = await seal(alice, { ...state, members });
  deepEqual(parseRoomEnvelope(forged).wraps.map((w) => w.name), [
    "alice",
    "bob",
    "carol",
    "dave",
  ]);
  await refused(open(forged, bob, history), "NOT_A_MEMBER", 'wrapped for "dave", who is not');
  // A wrap missing for a member is refused too: the wraps must be exactly the members.
  const fewer = new Map(state.members);
  fewer.delete("carol");
  await refused(
    open(await seal(alice, { ...state, members: fewer }), bob, history),
    "NOT_A_MEMBER",
    "not exactly the 3 members",
  );
  // dave, not a member, sealing as if he were one.
  const asDave = await seal(dave, { ...state, members });
  await refused(
    open(asDave, bob, history, { from: "dave", sender: dave.keys }),
    "NOT_A_MEMBER",
    '"dave" is not a member at room entry 4',
  );
});

Deno.test("openRoom() refuses a head hash other than the one its chain has at that seq", async () => {
  const { history } = await roomOfThree();
  const other = { ...history.state!, head: "B".repeat(43) + "=" };
  await refused(open(await seal(alice, other), bob, history), "CHAIN_INVALID", "another history");
  const ahead = { ...history.state!, seq: 9 };
  await refused(open(await seal(alice, ahead), bob, history), "CHAIN_INVALID", "entry 9");
});

Deno.test("openRoom() refuses a changed byte, another sender or room, a key not pinned, a replay", async () => {
  const { history } = await roomOfThree();
  const envelope = await seal(alice, history.state!);
  const flipped = envelope.slice();
  flipped[flipped.length - 70] ^= 1; // in the ciphertext
  await refused(open(flipped, bob, history), "BAD_SIGNATURE", "signature does not match");
  await refused(
    open(envelope, bob, history, { from: "carol" }),
    "BAD_SIGNATURE",
    'as from "alice"',
  );
  await refused(
    open(envelope, bob, history, { room: "B".repeat(22) }),
    "BAD_SIGNATURE",
    `in room ${TEST_ROOM}`,
  );
  await refused(
    open(envelope, bob, history, { sender: dave.keys }),
    "BAD_SIGNATURE",
    "not the one the room pinned",
  );
  // A key with alice's pins but another's signing key (a lying lookup) fails the signature.
  await refused(
    open(envelope, bob, history, { sender: { sign: dave.keys.sign, pins: alice.keys.pins } }),
    "BAD_SIGNATURE",
    "signature does not match",
  );
  const replay = new ReplayGuard({ windowMs: 15 * 24 * 3600_000 });
  await open(envelope, bob, history, { replay });
  await refused(open(envelope, bob, history, { replay }), "REPLAYED", "already received");
});

Deno.test("sealRoom() refuses a non-member sender, a member without pinned keys, too long a text", async () => {
  const { history } = await roomOfThree();
  const state = history.state!;
  await refused(seal(dave, state), "NOT_A_MEMBER", '"dave" is not a member');
  const swapped = recipientsOf(everyone);
  swapped.set("bob", dave.recipient);
  await refused(seal(alice, state, { recipients: swapped }), "KEY_CHANGED", 'keys of "bob"');
  const missing = recipientsOf([alice, bob]);
  await refused(seal(alice, state, { recipients: missing }), "KEY_CHANGED", 'keys of "carol"');
  const long = "x".repeat(MAX_TEXT_BYTES + 1);
  await refused(
    sealRoom(long, {
      from: "alice",
      identity: alice.identity,
      state,
      recipients: recipientsOf(everyone),
      origin: ORIGIN,
      counter: 1,
    }),
    "MESSAGE_TOO_LARGE",
    "65537 bytes",
  );
  await rejects(seal(alice, state, { counter: 0 }), RangeError);
  await rejects(seal(alice, state, { origin: new Uint8Array(7) }), RangeError);
});

Deno.test("parseRoomEnvelope() refuses every truncation and one extra byte", async () => {
  const { history } = await roomOfThree();
  const envelope = await seal(alice, history.state!);
  for (let length = 0; length < envelope.length; length++) {
    throws(
      () => parseRoomEnvelope(envelope.subarray(0, length)),
      (e: unknown) => e instanceof PeerstreamError && e.code === "BAD_MESSAGE",
      `length ${length}`,
    );
  }
  const longer = new Uint8Array(envelope.length + 1);
  longer.set(envelope);
  throws(() => parseRoomEnvelope(longer), /malformed \(signature\)/);
  const v2 = envelope.slice();
  v2[0] = 1;
  throws(() => parseRoomEnvelope(v2), /not a version-3 room envelope/);
});
