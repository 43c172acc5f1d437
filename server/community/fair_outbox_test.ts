import { deepEqual, equal } from "node:assert/strict";
import { FairOutbox, type OutboxItem } from "./fair_outbox.ts";

const item = (from: string, n: number, bytes = 10): OutboxItem => ({
  rid: `${from}${n}`,
  from,
  bytes,
});
const rids = (items: OutboxItem[]) => items.map((i) => i.rid);

Deno.test("FairOutbox.push() sends at once while the window has room, then holds", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 2 });
  deepEqual(rids(outbox.push(item("a", 1))), ["a1"]);
  deepEqual(rids(outbox.push(item("a", 2))), ["a2"]);
  deepEqual(rids(outbox.push(item("a", 3))), []);
  equal(outbox.queued, 1);
  equal(outbox.inFlight, 2);
  deepEqual(rids(outbox.confirm("a1")), ["a3"]);
  deepEqual(rids(outbox.confirm("a1")), [], "a second receipt frees nothing");
  deepEqual(rids(outbox.confirm("zz")), [], "an unknown rid is ignored");
});

Deno.test("FairOutbox.holds() is true from release to receipt only", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 1 });
  outbox.push(item("a", 1));
  outbox.push(item("a", 2));
  const held = () => ["a1", "a2", "zz"].filter((rid) => outbox.holds(rid));
  deepEqual(held(), ["a1"], "sent; a2 is still queued, not sent");
  outbox.confirm("a1");
  deepEqual(held(), ["a2"]);
  outbox.confirm("a2");
  deepEqual(held(), []);
});

Deno.test("FairOutbox counts the window in bytes, and always lets one message go", () => {
  const outbox = new FairOutbox({ bytes: 25, messages: 100 });
  deepEqual(rids(outbox.push(item("a", 1, 10))), ["a1"]);
  deepEqual(rids(outbox.push(item("a", 2, 10))), ["a2"]);
  deepEqual(rids(outbox.push(item("a", 3, 10))), ["a3"], "20 < 25: room for one more");
  deepEqual(rids(outbox.push(item("a", 4, 10))), []);
  const big = new FairOutbox({ bytes: 25, messages: 100 });
  deepEqual(rids(big.push(item("b", 1, 1000))), ["b1"], "larger than the window, alone");
  deepEqual(rids(big.push(item("b", 2, 1))), []);
});

Deno.test("FairOutbox puts a newcomer's first message before a flooding sender's backlog", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 2 });
  for (let n = 1; n <= 10; n++) outbox.push(item("flood", n));
  outbox.push(item("honest", 1));
  outbox.push(item("honest", 2));
  // flood1 and flood2 are in flight; the honest sender has none, so it goes next, twice.
  deepEqual(rids(outbox.confirm("flood1")), ["honest1"]);
  deepEqual(
    rids(outbox.confirm("flood2")),
    ["flood3"],
    "fewest in flight: 1 each, flood longer ago",
  );
  deepEqual(rids(outbox.confirm("honest1")), ["honest2"]);
});

Deno.test("FairOutbox serves many senders round-robin, each in its own order", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 1 });
  const sent: string[] = [];
  for (const from of ["a", "b", "c"]) {
    for (let n = 1; n <= 3; n++) sent.push(...rids(outbox.push(item(from, n))));
  }
  while (sent.length < 9) sent.push(...rids(outbox.confirm(sent.at(-1)!)));
  deepEqual(sent, ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"]);
  equal(outbox.queued, 0);
});
