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
  deepEqual(rids(outbox.push(item("a", 1), 0)), ["a1"]);
  deepEqual(rids(outbox.push(item("a", 2), 0)), ["a2"]);
  deepEqual(rids(outbox.push(item("a", 3), 0)), []);
  equal(outbox.queued, 1);
  equal(outbox.inFlight, 2);
  deepEqual(rids(outbox.confirm("a1", 0)), ["a3"]);
  deepEqual(rids(outbox.confirm("a1", 0)), [], "a second receipt frees nothing");
  deepEqual(rids(outbox.confirm("zz", 0)), [], "an unknown rid is ignored");
});

Deno.test("FairOutbox.holds() is true from release to receipt only", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 1 });
  outbox.push(item("a", 1), 0);
  outbox.push(item("a", 2), 0);
  const held = () => ["a1", "a2", "zz"].filter((rid) => outbox.holds(rid));
  deepEqual(held(), ["a1"], "sent; a2 is still queued, not sent");
  outbox.confirm("a1", 0);
  deepEqual(held(), ["a2"]);
  outbox.confirm("a2", 0);
  deepEqual(held(), []);
});

Deno.test("FairOutbox counts the window in bytes, and always lets one message go", () => {
  const outbox = new FairOutbox({ bytes: 25, messages: 100 });
  deepEqual(rids(outbox.push(item("a", 1, 10), 0)), ["a1"]);
  deepEqual(rids(outbox.push(item("a", 2, 10), 0)), ["a2"]);
  deepEqual(rids(outbox.push(item("a", 3, 10), 0)), ["a3"], "20 < 25: room for one more");
  deepEqual(rids(outbox.push(item("a", 4, 10), 0)), []);
  const big = new FairOutbox({ bytes: 25, messages: 100 });
  deepEqual(rids(big.push(item("b", 1, 1000), 0)), ["b1"], "larger than the window, alone");
  deepEqual(rids(big.push(item("b", 2, 1), 0)), []);
});

Deno.test("FairOutbox puts a newcomer's first message before a flooding sender's backlog", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 2 });
  for (let n = 1; n <= 10; n++) outbox.push(item("flood", n), 0);
  outbox.push(item("honest", 1), 0);
  outbox.push(item("honest", 2), 0);
  // flood1 and flood2 are in flight; the honest sender has none, so it goes next, twice.
  deepEqual(rids(outbox.confirm("flood1", 0)), ["honest1"]);
  deepEqual(
    rids(outbox.confirm("flood2", 0)),
    ["flood3"],
    "fewest in flight: 1 each, flood longer ago",
  );
  deepEqual(rids(outbox.confirm("honest1", 0)), ["honest2"]);
});

Deno.test("FairOutbox serves many senders round-robin, each in its own order", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 1 });
  const sent: string[] = [];
  for (const from of ["a", "b", "c"]) {
    for (let n = 1; n <= 3; n++) sent.push(...rids(outbox.push(item(from, n), 0)));
  }
  while (sent.length < 9) sent.push(...rids(outbox.confirm(sent.at(-1)!, 0)));
  deepEqual(sent, ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"]);
  equal(outbox.queued, 0);
});

Deno.test("FairOutbox.overdue() takes out what was released maxMs ago or more, and releases the next", () => {
  // A window of 2; the clock is given by the test. a1 goes at 0, a2 at 100, b1 waits.
  const cases: {
    now: number;
    late: string[];
    released: string[];
    inFlight: string[];
    why: string;
  }[] = [
    { now: 999, late: [], released: [], inFlight: ["a1", "a2"], why: "1 ms before a1's deadline" },
    { now: 1000, late: ["a1"], released: ["b1"], inFlight: ["a2", "b1"], why: "exactly at it" },
    { now: 1099, late: [], released: [], inFlight: ["a2", "b1"], why: "a2 is due at 1100" },
    { now: 5000, late: ["a2", "b1"], released: [], inFlight: [], why: "both, oldest first" },
    { now: 9000, late: [], released: [], inFlight: [], why: "nothing left" },
  ];
  const outbox = new FairOutbox({ bytes: 1000, messages: 2 });
  deepEqual(rids(outbox.push(item("a", 1), 0)), ["a1"]);
  deepEqual(rids(outbox.push(item("a", 2), 100)), ["a2"]);
  deepEqual(rids(outbox.push(item("b", 1), 200)), []);
  for (const c of cases) {
    const { late, released } = outbox.overdue(c.now, 1000);
    deepEqual(rids(late), c.late, `late at ${c.now}: ${c.why}`);
    deepEqual(rids(released), c.released, `released at ${c.now}: ${c.why}`);
    deepEqual(["a1", "a2", "b1"].filter((rid) => outbox.holds(rid)), c.inFlight, c.why);
  }
  equal(outbox.queued, 0);
});

Deno.test("FairOutbox.overdue() waits while the recipient still confirms: slow is not silent", () => {
  // A window of 2: a1 and a2 go at 0; the recipient confirms a2 at 900, then nothing.
  const cases: { now: number; late: string[]; why: string }[] = [
    { now: 1000, late: [], why: "a1 is 1,000 ms out, but a receipt came 100 ms ago" },
    { now: 1899, late: [], why: "1 ms before a second without a receipt" },
    { now: 1900, late: ["a1", "b1"], why: "a second without one: a1 and b1 (out since 900)" },
  ];
  const outbox = new FairOutbox({ bytes: 1000, messages: 2 });
  outbox.push(item("a", 1), 0);
  outbox.push(item("a", 2), 0);
  outbox.push(item("b", 1), 0);
  deepEqual(rids(outbox.confirm("a2", 900)), ["b1"]);
  for (const c of cases) deepEqual(rids(outbox.overdue(c.now, 1000).late), c.late, c.why);
});

Deno.test("FairOutbox.confirm() ignores a receipt that comes after its message was overdue", () => {
  const outbox = new FairOutbox({ bytes: 1000, messages: 1 });
  outbox.push(item("a", 1), 0);
  outbox.push(item("a", 2), 0);
  outbox.push(item("a", 3), 0);
  const first = outbox.overdue(500, 500);
  deepEqual(rids(first.late), ["a1"]);
  deepEqual(rids(first.released), ["a2"], "a2 released at 500");
  deepEqual(rids(outbox.confirm("a1", 600)), [], "a1's late receipt frees nothing");
  equal(outbox.inFlight, 1);
  deepEqual(rids(outbox.overdue(999, 500).late), [], "a2's deadline counts from its release");
  deepEqual(rids(outbox.overdue(1000, 500).late), ["a2"]);
});
