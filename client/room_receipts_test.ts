import { deepEqual } from "node:assert/strict";
import { RoomReceipts, roomSentLines } from "./room_receipts.ts";

const sent = (relayed: string[], queued: string[] = []) => ({
  re: 7,
  relayed,
  queued,
  refused: [],
});

Deno.test("RoomReceipts.delivered() shows one line once every member it went to opened it", () => {
  const receipts = new RoomReceipts();
  deepEqual(receipts.sent("club", sent(["alice", "bob"]), 0), []);
  deepEqual(receipts.delivered(7, "alice", 10), []);
  deepEqual(receipts.delivered(7, "alice", 20), [], "a receipt twice counts once");
  deepEqual(receipts.delivered(7, "bob", 30), ["* #club: delivered to alice, bob"]);
  deepEqual(receipts.delivered(7, "bob", 40), [], "done: nothing more");
});

Deno.test("RoomReceipts.delivered() shows a count at most once a second in a large room", () => {
  const names = Array.from({ length: 100 }, (_, i) => `m${i}`);
  const receipts = new RoomReceipts();
  receipts.sent("big", sent(names), 0);
  const lines: string[] = [];
  // 100 receipts over 2.5 s: a count at 1 s and at 2 s, then the last one.
  names.forEach((name, i) => lines.push(...receipts.delivered(7, name, i * 25)));
  deepEqual(lines, [
    "* #big: delivered to 41 of 100",
    "* #big: delivered to 81 of 100",
    "* #big: delivered to all 100",
  ]);
});

Deno.test("RoomReceipts.delivered() shows a queued member's receipt at once, with a count", () => {
  const receipts = new RoomReceipts();
  receipts.sent("club", sent(["alice"], ["bob", "carol"]), 0);
  deepEqual(receipts.delivered(7, "alice", 10), []);
  deepEqual(receipts.delivered(7, "bob", 20), ["* #club: delivered to 2 of 3 (alice, bob)"]);
  deepEqual(receipts.delivered(7, "carol", 30), ["* #club: delivered to alice, bob, carol"]);
});

Deno.test("RoomReceipts.delivered() ignores a name the message did not go to", () => {
  const receipts = new RoomReceipts();
  receipts.sent("club", sent(["alice"]), 0);
  deepEqual(receipts.delivered(7, "mallory", 10), []);
  deepEqual(receipts.delivered(7, "alice", 20), ["* #club: delivered to alice"]);
});

Deno.test("RoomReceipts.sent() applies receipts that came before the answer was handled", () => {
  const receipts = new RoomReceipts();
  deepEqual(receipts.delivered(7, "alice", 0), []);
  deepEqual(receipts.sent("club", sent(["alice"]), 5), ["* #club: delivered to alice"]);
});

Deno.test("RoomReceipts.sent() awaits nothing when nobody else is in the room or no id came", () => {
  const receipts = new RoomReceipts();
  deepEqual(receipts.sent("club", sent([]), 0), []);
  deepEqual(receipts.sent("club", { relayed: ["alice"], queued: [], refused: [] }, 0), []);
  deepEqual(receipts.delivered(8, "alice", 10), []);
});

Deno.test("RoomReceipts forgets the oldest message past its limit", () => {
  const receipts = new RoomReceipts({ limit: 1 });
  receipts.sent("one", { ...sent(["alice"]), re: 1 }, 0);
  receipts.sent("two", { ...sent(["alice"]), re: 2 }, 0);
  deepEqual(receipts.delivered(1, "alice", 10), []);
  deepEqual(receipts.delivered(2, "alice", 10), ["* #two: delivered to alice"]);
});

Deno.test("RoomReceipts.flush() shows a held count once its second is up, and only once", () => {
  const receipts = new RoomReceipts();
  receipts.sent("club", sent(["alice", "bob", "carol"]), 0);
  deepEqual(receipts.delivered(7, "alice", 100), []);
  deepEqual(receipts.delivered(7, "bob", 200), []);
  deepEqual(receipts.flush(999), [], "within the second: held");
  // carol never answers: the count still shows, once.
  deepEqual(receipts.flush(1_000), ["* #club: delivered to 2 of 3 (alice, bob)"]);
  deepEqual(receipts.flush(5_000), []);
  deepEqual(receipts.delivered(7, "carol", 5_100), ["* #club: delivered to alice, bob, carol"]);
  deepEqual(receipts.flush(9_000), []);
});

Deno.test("roomSentLines() says whom it went to, waits for and did not reach, in a few lines", () => {
  const refused = (name: string) => ({ name, message: `Not sent to "${name}": why` });
  const many = Array.from({ length: 97 }, (_, i) => `m${i}`);
  const table: [Parameters<typeof roomSentLines>[1], string[], string[]][] = [
    [{ relayed: [], queued: [], refused: [] }, ["* #club: nobody else is in the room"], []],
    [{ relayed: ["alice", "bob"], queued: [], refused: [] }, ["* #club: sent to alice, bob"], []],
    [
      { relayed: ["alice"], queued: ["bob"], refused: [refused("carol")] },
      ["* #club: sent to alice; queued for bob; not sent to carol"],
      ['Not sent to "carol": why'],
    ],
    [
      { relayed: many, queued: ["a", "b", "c", "d", "e", "f"], refused: [] },
      ["* #club: sent to 97 members; queued for 6 members"],
      [],
    ],
    [
      { relayed: [], queued: [], refused: ["a", "b", "c", "d"].map(refused) },
      ["* #club: not sent to a, b, c, d"],
      [
        'Not sent to "a": why',
        'Not sent to "b": why',
        'Not sent to "c": why',
        "…and 1 more not sent (named above)",
      ],
    ],
  ];
  for (const [sent, lines, errors] of table) {
    deepEqual(roomSentLines("club", sent), { lines, errors });
  }
});

Deno.test("RoomReceipts.queued() shows at once a member relayed through the cluster and then queued", () => {
  const receipts = new RoomReceipts();
  receipts.sent("club", sent(["alice", "bob"]), 0);
  deepEqual(receipts.queued(7, "bob"), ["* #club: queued for bob"]);
  deepEqual(receipts.queued(7, "bob"), [], "told once");
  deepEqual(receipts.queued(7, "mallory"), [], "not a member it went to");
  deepEqual(receipts.delivered(7, "alice", 20), []);
  // bob's receipt comes when he is back: at once, like any queued member's.
  deepEqual(receipts.delivered(7, "bob", 30), ["* #club: delivered to alice, bob"]);
});

Deno.test("RoomReceipts.sent() applies a queued that came before the answer was handled", () => {
  const receipts = new RoomReceipts();
  deepEqual(receipts.queued(7, "bob"), []);
  deepEqual(receipts.sent("club", sent(["alice", "bob"]), 5), ["* #club: queued for bob"]);
  deepEqual(receipts.delivered(7, "bob", 6), ["* #club: delivered to 1 of 2 (bob)"]);
});
