/**
 * `applyEntry()` building a room from its chain: every op in order, a break in the chain refused,
 * each op refused to whoever the table does not give it, owner-only invites, a removed member's
 * later entries, and maxMembers and maxEntries at their boundary.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { applyEntry, type ApplyOptions, type RoomEntry, type RoomState } from "./room_chain.ts";

import {
  alice,
  assertRefused,
  bob,
  carol,
  create,
  dave,
  make,
  type Person,
  refused,
  SETTINGS,
  step,
  withBob,
  withBobInvited,
} from "../tests/_room_chain.ts";

Deno.test("applyEntry() builds a room: create, invite, accept, settings, handover, leave", async () => {
  const created = await create();
  deepEqual(
    [created.seq, created.owner, [...created.members.keys()], created.invitees.size],
    [0, "alice", ["alice"], 0],
  );
  deepEqual(created.members.get("alice"), alice.pins);
  const invited = await withBobInvited();
  deepEqual(invited.invitees.get("bob"), { keys: bob.pins, by: "alice" });
  const joined = await step(bob, invited, { op: "accept", subject: "bob" });
  deepEqual([...joined.members.keys()], ["alice", "bob"]);
  equal(joined.invitees.size, 0);
  // Each step leaves the state before it untouched.
  equal(invited.members.size, 1);
  equal(invited.invitees.size, 1);
  // bob (a member) invites carol; carol declines; dave is invited and accepts.
  let s = await step(bob, joined, { op: "invite", subject: "carol", keys: carol.pins });
  s = await step(carol, s, { op: "decline", subject: "carol" });
  equal(s.invitees.has("carol"), false);
  s = await step(alice, s, { op: "invite", subject: "dave", keys: dave.pins });
  s = await step(dave, s, { op: "accept", subject: "dave" });
  s = await step(alice, s, { op: "settings", settings: { invite: "owner", control: "host" } });
  deepEqual(s.settings, { invite: "owner", control: "host" });
  s = await step(alice, s, { op: "handover", subject: "bob" });
  equal(s.owner, "bob");
  s = await step(alice, s, { op: "leave", subject: "alice" });
  s = await step(bob, s, { op: "remove", subject: "dave" });
  deepEqual([s.seq, s.owner, [...s.members.keys()]], [10, "bob", ["bob"]]);
});

Deno.test("applyEntry() refuses a break in the chain with CHAIN_INVALID", async () => {
  const base = await withBob();
  const table: [Partial<RoomEntry>, string][] = [
    [{ seq: base.seq + 2 }, `follows ${base.seq}; expected ${base.seq + 1}`],
    [{ seq: base.seq }, `follows ${base.seq}`],
    [{ prev: "B".repeat(43) + "=" }, "names a previous entry that is not"],
    [{ room: "B".repeat(22) }, "belongs to room"],
  ];
  for (const [change, fragment] of table) {
    await refused(base, bob, { op: "leave", subject: "bob", ...change }, [
      "CHAIN_INVALID",
      fragment,
    ]);
  }
  // A chain that does not start with create.
  const invite = await make(alice, base, { op: "invite", subject: "carol", keys: carol.pins });
  assertRefused(() => applyEntry(undefined, invite), "CHAIN_INVALID", 'must start with "create"');
});

Deno.test("applyEntry() refuses each op to whoever the table does not give it", async () => {
  const table: [
    string,
    () => Promise<RoomState> | undefined,
    Person,
    Partial<RoomEntry> & Pick<RoomEntry, "op">,
    [string, string],
    ApplyOptions?,
  ][] = [
    ["create signed by a key it does not pin", () => undefined, alice, {
      op: "create",
      keys: bob.pins,
      settings: SETTINGS,
    }, ["NOT_ALLOWED", "not signed by the key it pins"]],
    ["invite by a non-member", withBob, carol, {
      op: "invite",
      subject: "dave",
      keys: dave.pins,
    }, ["NOT_A_MEMBER", '"carol" is not a member']],
    ["invite by an invitee", withBobInvited, bob, {
      op: "invite",
      subject: "dave",
      keys: dave.pins,
    }, ["NOT_A_MEMBER", '"bob" is not a member']],
    ["invite of a member", withBob, alice, {
      op: "invite",
      subject: "bob",
      keys: bob.pins,
    }, ["NOT_ALLOWED", '"bob" is already a member']],
    ["invite of an invitee", withBobInvited, alice, {
      op: "invite",
      subject: "bob",
      keys: bob.pins,
    }, ["NOT_ALLOWED", "already invited"]],
    ["accept without an invite", create, carol, {
      op: "accept",
      subject: "carol",
    }, ["NOT_ALLOWED", '"carol" is not invited']],
    ["accept by a member", withBob, bob, { op: "accept", subject: "bob" }, [
      "NOT_ALLOWED",
      '"bob" is not invited',
    ]],
    [
      "accept signed by another key than pinned",
      withBobInvited,
      bob,
      {
        op: "accept",
        subject: "bob",
      },
      ["NOT_ALLOWED", "not signed by the key the invite pinned"],
      { signedBy: carol.pins.sign },
    ],
    [
      "decline signed by another key than pinned",
      withBobInvited,
      bob,
      {
        op: "decline",
        subject: "bob",
      },
      ["NOT_ALLOWED", "not signed by the key the invite pinned"],
      { signedBy: "" },
    ],
    [
      "invite signed by another key than the member's pinned one",
      withBob,
      bob,
      {
        op: "invite",
        subject: "carol",
        keys: carol.pins,
      },
      ["NOT_ALLOWED", 'not signed by the key the chain pins for "bob"'],
      {
        signedBy: dave.pins.sign,
      },
    ],
    ["remove without a verified signer", withBob, alice, { op: "remove", subject: "bob" }, [
      "NOT_ALLOWED",
      "not signed by the key the chain pins",
    ], { signedBy: undefined }],
    ["leave by the owner", withBob, alice, { op: "leave", subject: "alice" }, [
      "NOT_ALLOWED",
      "hand the room over first",
    ]],
    ["leave by a non-member", withBob, carol, { op: "leave", subject: "carol" }, [
      "NOT_A_MEMBER",
      '"carol" is not a member',
    ]],
    ["leave by an invitee", withBobInvited, bob, { op: "leave", subject: "bob" }, [
      "NOT_A_MEMBER",
      '"bob" is not a member',
    ]],
    ["remove by a member", withBob, bob, { op: "remove", subject: "alice" }, [
      "NOT_ALLOWED",
      'only the owner "alice" may remove',
    ]],
    ["remove of a non-member", withBob, alice, { op: "remove", subject: "carol" }, [
      "NOT_A_MEMBER",
      'remove "carol"',
    ]],
    ["remove of an invitee", withBobInvited, alice, { op: "remove", subject: "bob" }, [
      "NOT_A_MEMBER",
      'remove "bob"',
    ]],
    ["handover by a member", withBob, bob, { op: "handover", subject: "alice" }, [
      "NOT_ALLOWED",
      "only the owner",
    ]],
    ["handover to an invitee", withBobInvited, alice, { op: "handover", subject: "bob" }, [
      "NOT_A_MEMBER",
      'handover "bob"',
    ]],
    ["settings by a member", withBob, bob, { op: "settings", settings: SETTINGS }, [
      "NOT_ALLOWED",
      "only the owner",
    ]],
    ["settings by a non-member", withBob, carol, { op: "settings", settings: SETTINGS }, [
      "NOT_A_MEMBER",
      '"carol" is not a member',
    ]],
  ];
  for (const [label, state, who, fields, want, options] of table) {
    try {
      await refused(state(), who, fields, want, options);
    } catch (error) {
      throw new Error(`${label}: ${error}`, { cause: error });
    }
  }
});

Deno.test("applyEntry() lets only the owner invite in an owner-invites room", async () => {
  let s = await withBob();
  s = await step(alice, s, { op: "settings", settings: { invite: "owner", control: "all" } });
  await refused(s, bob, { op: "invite", subject: "carol", keys: carol.pins }, [
    "NOT_ALLOWED",
    'only the owner "alice" may invite',
  ]);
  s = await step(alice, s, { op: "invite", subject: "carol", keys: carol.pins });
  ok(s.invitees.has("carol"));
});

Deno.test("applyEntry() refuses a removed member's later entries", async () => {
  let s = await withBob();
  s = await step(alice, s, { op: "remove", subject: "bob" });
  await refused(s, bob, { op: "invite", subject: "carol", keys: carol.pins }, [
    "NOT_A_MEMBER",
    '"bob" is not a member',
  ]);
  // The old owner, after a handover, has lost the owner's ops.
  let h = await withBob();
  h = await step(alice, h, { op: "handover", subject: "bob" });
  await refused(h, alice, { op: "remove", subject: "bob" }, ["NOT_ALLOWED", 'owner "bob"']);
});

Deno.test("applyEntry() counts members and invitees against maxMembers at the boundary", async () => {
  const limits = { maxMembers: 3 };
  let s = await withBob(); // 2 of 3
  s = await step(alice, s, { op: "invite", subject: "carol", keys: carol.pins }, limits); // 3 of 3
  await refused(s, alice, { op: "invite", subject: "dave", keys: dave.pins }, [
    "ROOM_LIMIT",
    "the most is 3",
  ], limits);
  // A decline frees the place.
  s = await step(carol, s, { op: "decline", subject: "carol" }, limits);
  s = await step(alice, s, { op: "invite", subject: "dave", keys: dave.pins }, limits);
  ok(s.invitees.has("dave"));
});

Deno.test("applyEntry() keeps at most maxEntries entries", async () => {
  const limits = { maxEntries: 3 };
  let s = await create(limits);
  s = await step(alice, s, { op: "invite", subject: "bob", keys: bob.pins }, limits);
  s = await step(bob, s, { op: "accept", subject: "bob" }, limits); // seq 2: the third entry
  await refused(s, bob, { op: "leave", subject: "bob" }, ["ROOM_LIMIT", "3 entries"], limits);
});
