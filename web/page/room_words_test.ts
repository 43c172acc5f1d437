import { equal, ok } from "node:assert/strict";
import type { RoomEntry } from "../../protocol/room_chain.ts";
import {
  invitationWords,
  roomBrokenWords,
  roomChangeWords,
  roomCheckWords,
  roomRole,
  roomSentWords,
} from "./room_words.ts";

/** Wire codes, and terminal commands the page has no use for. */
const NOT_FOR_PEOPLE = /\b[A-Z]{2,}_[A-Z_]{2,}\b|\b(?:VERIFY|ACCEPT|DECLINE|INVITE|LEAVE)\b|#\w+ /;

Deno.test("roomChangeWords() words every change from the reader's side, with You first", () => {
  const table: [RoomEntry["op"], string, string, string, string][] = [
    ["create", "alice", "", "bob", "alice created the room"],
    ["create", "alice", "", "alice", "You created the room"],
    ["invite", "bob", "carol", "alice", "bob invited carol"],
    ["invite", "bob", "alice", "alice", "bob invited you"],
    ["invite", "alice", "carol", "alice", "You invited carol"],
    ["accept", "carol", "carol", "alice", "carol joined"],
    ["accept", "alice", "alice", "alice", "You joined"],
    ["decline", "carol", "carol", "alice", "carol declined the invitation"],
    ["leave", "carol", "carol", "alice", "carol left"],
    ["remove", "alice", "dave", "bob", "alice removed dave"],
    ["remove", "alice", "bob", "bob", "alice removed you"],
    ["handover", "alice", "bob", "carol", "alice handed the room over to bob"],
    ["settings", "alice", "", "carol", "alice changed the room's settings"],
  ];
  for (const [op, author, subject, me, words] of table) {
    equal(roomChangeWords({ op, author, subject }, me), words, `${op} by ${author} for ${me}`);
    ok(!NOT_FOR_PEOPLE.test(words), words);
  }
});

Deno.test("roomRole() reads the checked members, owner first, then invitations", () => {
  const room = { owner: "alice", members: ["alice", "bob"], invitees: ["carol"] };
  equal(roomRole(room, "alice"), "owner");
  equal(roomRole(room, "bob"), "member");
  equal(roomRole(room, "carol"), "invited");
  equal(roomRole(room, "dave"), "out");
});

Deno.test("invitationWords() names who invited, and never an inherited property", () => {
  equal(
    invitationWords({ name: "club", invitedBy: { carol: "bob" } }, "carol"),
    "bob invited you to #club",
  );
  equal(
    invitationWords({ name: "club", invitedBy: {} }, "toString"),
    "Someone invited you to #club",
  );
});

Deno.test("roomBrokenWords() tells a rollback, a fork and a made-up change apart, without terminal commands", () => {
  const table: [string, RegExp][] = [
    [
      "the server shows the room at entry 2, but you saw it at entry 4 (a rollback)",
      /older history.*rollback/,
    ],
    [
      "the server shows another history than the one you saw at entry 3 (a fork)",
      /another history.*fork/,
    ],
    ['it refused a change the server sent: "dave" is not invited', /does not check out/],
  ];
  for (const [why, re] of table) {
    const words = roomBrokenWords(why);
    ok(re.test(words), words);
    ok(words.startsWith("This room is read-only: "), words);
    ok(!NOT_FOR_PEOPLE.test(words.replace("#", "")), words);
  }
});

Deno.test("roomSentWords() says whose receipts came, who got it and who it waits for", () => {
  equal(roomSentWords({ relayed: ["bob", "carol"], queued: [] }), "sent to bob, carol");
  equal(
    roomSentWords({ relayed: ["bob"], queued: ["dave"] }),
    "sent to bob; queued for dave (offline)",
  );
  equal(roomSentWords({ relayed: [], queued: [] }), "nobody else is in the room");
  const relayed = ["bob", "carol"];
  equal(
    roomSentWords({ relayed, queued: [], delivered: ["carol"] }),
    "delivered to carol; sent to bob",
  );
  equal(
    roomSentWords({ relayed, queued: ["dave"], delivered: ["bob", "carol"] }),
    "delivered to bob, carol; queued for dave (offline)",
  );
  // A queued member's receipt, when they are back, moves them to delivered.
  equal(
    roomSentWords({ relayed, queued: ["dave", "erin"], delivered: ["bob", "erin"] }),
    "delivered to bob, erin; sent to carol; queued for dave (offline)",
  );
  equal(
    roomSentWords({ relayed: [], queued: ["dave"], delivered: ["dave"] }),
    "delivered to dave",
  );
  // A receipt from someone it was not sent to changes nothing.
  equal(roomSentWords({ relayed, queued: [], delivered: ["mallory"] }), "sent to bob, carol");
});

Deno.test("roomCheckWords() says whether the room works again, and why not, without codes", () => {
  const table: [string | undefined, string][] = [
    [
      undefined,
      "Checked again: the server's history agrees with what this page saw, so the room works again",
    ],
    [
      "the server shows the room at entry 1, but you saw it at entry 2 (a rollback)",
      "Checked again: the server still shows an older history of this room than the one this page saw (a rollback), so the room stays read-only",
    ],
    [
      "the server still shows another history than the one you checked at entry 3 (a fork)",
      "Checked again: the server still shows another history of this room than the one this page saw (a fork), so the room stays read-only",
    ],
    [
      'its history still does not check out: entry 1 is not signed by "alice"\'s key',
      "Checked again: the server still sends a membership change that does not check out, so the room stays read-only",
    ],
  ];
  for (const [still, words] of table) {
    equal(roomCheckWords(still), words);
    ok(!NOT_FOR_PEOPLE.test(words), words);
  }
});
