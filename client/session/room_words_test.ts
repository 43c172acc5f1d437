import { equal } from "node:assert/strict";
import type { RoomEntry } from "../../protocol/room_chain.ts";
import { describeEntry, historyProblem } from "./room_words.ts";

function entry(fields: Partial<RoomEntry> & Pick<RoomEntry, "op" | "author">): RoomEntry {
  return {
    room: "AAAAAAAAAAAAAAAAAAAAAA",
    seq: 1,
    prev: "",
    subject: "",
    keys: null,
    settings: null,
    time: 0,
    ...fields,
  };
}

Deno.test("describeEntry() words each op, with you in your own place", () => {
  const settings = { invite: "owner", control: "host" } as const;
  const table: [RoomEntry, string, string][] = [
    [entry({ op: "create", author: "alice" }), "bob", "alice created #club"],
    [entry({ op: "create", author: "alice" }), "alice", "you created #club"],
    [entry({ op: "invite", author: "bob", subject: "carol" }), "alice", "bob invited carol"],
    [
      entry({ op: "invite", author: "bob", subject: "carol" }),
      "carol",
      "bob invited you; ACCEPT #club or DECLINE #club",
    ],
    [entry({ op: "accept", author: "carol", subject: "carol" }), "bob", "carol joined"],
    [entry({ op: "accept", author: "carol", subject: "carol" }), "carol", "you joined"],
    [
      entry({ op: "decline", author: "carol", subject: "carol" }),
      "bob",
      "carol declined the invitation",
    ],
    [entry({ op: "leave", author: "dave", subject: "dave" }), "bob", "dave left"],
    [entry({ op: "remove", author: "alice", subject: "dave" }), "bob", "alice removed dave"],
    [entry({ op: "remove", author: "alice", subject: "dave" }), "dave", "alice removed you"],
    [
      entry({ op: "handover", author: "alice", subject: "bob" }),
      "bob",
      "alice handed the room over to you",
    ],
    [
      entry({ op: "settings", author: "alice", settings }),
      "bob",
      "alice set who may invite: owner, who controls playback: host",
    ],
    // A name with a control character is shown escaped, never raw.
    [entry({ op: "accept", author: "ev\x1bil", subject: "ev\x1bil" }), "bob", "ev\\x1bil ⚠ joined"],
  ];
  for (const [e, me, want] of table) equal(describeEntry(e, { me, room: "club" }), want);
  equal(
    describeEntry(entry({ op: "create", author: "alice" }), { me: "bob", room: "c\x1b[2Jlub" }),
    "alice created #c\\x1b[2Jlub",
  );
});

Deno.test("historyProblem() finds a fork at the seq seen, a rollback only once the history is complete", () => {
  const high = { seq: 4, head: "H4" };
  const heads = (map: Record<number, string>) => (seq: number) => map[seq];
  const table: [string, Parameters<typeof historyProblem>[1], RegExp | undefined][] = [
    ["nothing seen before", { seq: 2, headAt: heads({}), complete: true }, undefined],
    ["the same head at 4", { seq: 4, headAt: heads({ 4: "H4" }), complete: true }, undefined],
    ["further, same at 4", { seq: 9, headAt: heads({ 4: "H4" }), complete: false }, undefined],
    ["another head at 4", { seq: 4, headAt: heads({ 4: "X" }), complete: true }, /a fork/],
    ["further, another at 4", { seq: 6, headAt: heads({ 4: "X" }), complete: false }, /a fork/],
    ["shorter, still fetching", { seq: 3, headAt: heads({}), complete: false }, undefined],
    [
      "shorter, complete",
      { seq: 3, headAt: heads({}), complete: true },
      /entry 3, but you saw it at entry 4 \(a rollback\)/,
    ],
  ];
  for (const [label, history, want] of table) {
    const problem = historyProblem(label === "nothing seen before" ? undefined : high, history);
    if (want === undefined) equal(problem, undefined, label);
    else equal(want.test(problem ?? ""), true, `${label}: ${problem}`);
  }
});
