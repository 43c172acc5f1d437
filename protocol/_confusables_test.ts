import { equal } from "node:assert/strict";
import {
  CONFUSABLES_COUNT,
  CONFUSABLES_DATA,
  CONFUSABLES_SOURCE,
  CONFUSABLES_UNICODE_VERSION,
} from "./_confusables.ts";
import { decodeConfusables } from "./_confusables_codec.ts";

// The check against the generator's own output is tools/gen_confusables_test.ts (it needs the npm
// package); this one needs nothing but the module.
const table = decodeConfusables(CONFUSABLES_DATA);

Deno.test("CONFUSABLES_DATA decodes to CONFUSABLES_COUNT entries of confusables.txt 13.0.0", () => {
  equal(CONFUSABLES_UNICODE_VERSION, "13.0.0");
  equal(CONFUSABLES_SOURCE, "npm:unhomoglyph@1.0.6");
  equal(CONFUSABLES_COUNT, 5247);
  equal(table.size, CONFUSABLES_COUNT);
});

Deno.test("CONFUSABLES_DATA holds known lines of confusables.txt", async (t) => {
  // Lines of confusables.txt 13.0.0, as "source ; prototype".
  const rows: { line: string; source: number; prototype: string }[] = [
    { line: "0031 ; 006C", source: 0x31, prototype: "l" },
    { line: "0030 ; 004F", source: 0x30, prototype: "O" },
    { line: "0049 ; 006C", source: 0x49, prototype: "l" },
    { line: "006D ; 0072 006E", source: 0x6d, prototype: "rn" },
    { line: "0430 ; 0061", source: 0x430, prototype: "a" },
    { line: "0441 ; 0063", source: 0x441, prototype: "c" },
    { line: "03BF ; 006F", source: 0x3bf, prototype: "o" },
    { line: "0131 ; 0069", source: 0x131, prototype: "i" },
    { line: "04CF ; 0069 (17.0.0 has 006C)", source: 0x4cf, prototype: "i" },
    { line: "FF41 ; 0061", source: 0xff41, prototype: "a" },
    { line: "FF59 ; 0079", source: 0xff59, prototype: "y" },
    // Not every fullwidth letter has a line; normalizeName() refuses them all as NFKC variants.
    { line: "FF5A absent", source: 0xff5a, prototype: "" },
    { line: "1D400 ; 0041", source: 0x1d400, prototype: "A" },
    { line: "3164 ; 1160", source: 0x3164, prototype: "\u1160" },
    { line: "1E9E absent (13.0.0 has no line)", source: 0x1e9e, prototype: "" },
    { line: "00E9 left out: NFD decomposes it", source: 0xe9, prototype: "" },
  ];
  for (const row of rows) {
    await t.step(row.line, () => equal(table.get(row.source) ?? "", row.prototype));
  }
});
