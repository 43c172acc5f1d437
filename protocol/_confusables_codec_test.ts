import { deepEqual, equal, throws } from "node:assert/strict";
import {
  type ConfusableEntry,
  decodeConfusables,
  encodeConfusables,
} from "./_confusables_codec.ts";

Deno.test("encodeConfusables() writes the hand-checked form", async (t) => {
  const table: { name: string; entries: ConfusableEntry[]; expected: string }[] = [
    { name: "nothing", entries: [], expected: "" },
    // 0x49 = 73 = 2 * 26 + 21 -> "CV"; 0x6c = 108 = "30" in base 36.
    { name: "I -> l", entries: [[0x49, [0x6c]]], expected: "CV30" },
    { name: "a multi-code-point prototype", entries: [[0x6d, [0x72, 0x6e]]], expected: "EF36,32" },
    { name: "the smallest source", entries: [[1, [2]]], expected: "B2" },
    {
      // 0xff21 = 65313 = ((3 * 26 + 18) * 26 + 16) * 26 + 1 -> "DSQB"; 0x41 = "1t".
      name: "a run of +1 sources to +1 prototypes becomes +",
      entries: [[0xff21, [0x41]], [0xff22, [0x42]], [0xff23, [0x43]]],
      expected: "DSQB1t++",
    },
    {
      name: "no run after a multi-code-point prototype",
      entries: [[10, [0x72, 0x6e]], [11, [0x73]]],
      expected: "K36,32B37",
    },
    {
      name: "no run when the prototype does not step by one",
      entries: [[10, [0x41]], [11, [0x41]]],
      expected: "K1tB1t",
    },
    {
      // 0x1d400 = 119808 = ((6 * 26 + 21) * 26 + 6) * 26 + 0 -> "GVGA"; 0x10000 = "1ekg".
      name: "an astral source and prototype",
      entries: [[0x1d400, [0x10000]]],
      expected: "GVGA1ekg",
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      equal(encodeConfusables(row.entries), row.expected);
      deepEqual(
        [...decodeConfusables(row.expected)],
        row.entries.map(([s, p]) => [s, String.fromCodePoint(...p)]),
      );
    });
  }
});

Deno.test("decodeConfusables() round-trips every kind of entry", () => {
  const entries: ConfusableEntry[] = [];
  for (let cp = 0x20; cp < 0x3000; cp += 7) {
    entries.push([cp, cp % 3 === 0 ? [cp + 1, 0x301] : [0x10ffff - cp]]);
    entries.push([cp + 1, [0x10ffff - cp + 1]]);
  }
  const decoded = decodeConfusables(encodeConfusables(entries));
  deepEqual([...decoded], entries.map(([s, p]) => [s, String.fromCodePoint(...p)]));
});

Deno.test("encodeConfusables() throws RangeError when entries are unsorted or empty", async (t) => {
  const table: { name: string; entries: ConfusableEntry[]; fragment: string }[] = [
    { name: "a duplicate", entries: [[5, [1]], [5, [2]]], fragment: "U+0005 is out of order" },
    { name: "descending", entries: [[6, [1]], [5, [2]]], fragment: "sort by source" },
    { name: "U+0000", entries: [[0, [1]]], fragment: "U+0000 is out of order" },
    { name: "empty prototype", entries: [[5, []]], fragment: "U+0005 has an empty prototype" },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => encodeConfusables(row.entries),
        (error: unknown) => error instanceof RangeError && error.message.includes(row.fragment),
      );
    });
  }
});

Deno.test("decodeConfusables() throws SyntaxError when the data is malformed", async (t) => {
  const table: { name: string; data: string; fragment: string }[] = [
    { name: "a run first", data: "+", fragment: "offset 0: a run continues" },
    { name: "a run after a multi prototype", data: "B1,2+", fragment: "offset 4: a run" },
    { name: "no delta", data: "1", fragment: "offset 0: expected a source delta" },
    { name: "a zero delta", data: "A1", fragment: "expected a source delta" },
    { name: "no prototype", data: "B", fragment: "offset 1: expected a prototype" },
    { name: "a trailing comma", data: "B1,", fragment: "offset 3: expected a prototype" },
    { name: "a stray character", data: "B1 ", fragment: "offset 2: expected a source delta" },
    { name: "uppercase hex", data: "BF", fragment: "expected a prototype" },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => decodeConfusables(row.data),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes(row.fragment) &&
          error.message.includes("regenerate with tools/gen_confusables.ts"),
      );
    });
  }
});
