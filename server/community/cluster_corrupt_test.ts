import { equal } from "node:assert/strict";
import { describeCorrupt, OncePerInterval } from "./cluster_corrupt.ts";

Deno.test("describeCorrupt() names the key, the field and what is wrong", async (t) => {
  const table: [string, unknown[], string | undefined][] = [
    [
      "a non-integer sequence",
      ["CORRUPT", "peerstream:seq", "", "value", "abc", "a number"],
      'Redis key "peerstream:seq" holds "abc", not a number; repair or delete it',
    ],
    [
      "a sequence of the wrong type",
      ["CORRUPT", "peerstream:seq", "", "type", "hash", "a number"],
      'Redis key "peerstream:seq" is a "hash", not a number; repair or delete it',
    ],
    [
      "a presence entry that is not JSON",
      ["CORRUPT", "peerstream:online", "bob", "value", "{oops", "a presence entry (JSON)"],
      'Redis key "peerstream:online" field "bob" holds "{oops", not a presence entry (JSON); repair or delete it',
    ],
    [
      "control characters in the value are escaped",
      ["CORRUPT", "p:seq", "", "value", "1\x1b[2J\n", "a number"],
      'Redis key "p:seq" holds "1\\x1b[2J\\n", not a number; repair or delete it',
    ],
    [
      "a long value is cut",
      ["CORRUPT", "p:seq", "", "value", "x".repeat(100), "a number"],
      `Redis key "p:seq" holds "${"x".repeat(40)}"…(+60), not a number; repair or delete it`,
    ],
    ["not a CORRUPT answer", ["OK", 1], undefined],
    ["an empty answer", [], undefined],
  ];
  for (const [name, reply, expected] of table) {
    await t.step(name, () => equal(describeCorrupt(reply), expected));
  }
});

Deno.test("OncePerInterval.line() lets a line through once per interval and counts the rest", () => {
  let now = 0;
  const once = new OncePerInterval({ intervalMs: 1000, now: () => now });
  equal(once.line("a"), "a");
  equal(once.line("a"), undefined);
  equal(once.line("b"), "b");
  now = 999;
  equal(once.line("a"), undefined);
  now = 1000;
  equal(once.line("a"), "a (2 more times in the last 1 s)");
  now = 2000;
  equal(once.line("a"), "a");
  equal(once.line("a"), undefined);
  now = 3000;
  equal(once.line("a"), "a (1 more time in the last 1 s)");
});

Deno.test("OncePerInterval.line() holds back lines that share a key, whatever their detail", () => {
  let now = 0;
  const once = new OncePerInterval({ intervalMs: 1000, now: () => now });
  equal(once.line("seq is bad (joins refused)", "seq"), "seq is bad (joins refused)");
  equal(once.line("seq is bad (no reaping)", "seq"), undefined);
  now = 1000;
  equal(
    once.line("seq is bad (no reaping)", "seq"),
    "seq is bad (no reaping) (1 more time in the last 1 s)",
  );
});
