import { equal, throws } from "node:assert/strict";
import { MAX_NAME_LENGTH, normalizeName } from "./names.ts";

Deno.test("normalizeName() returns the NFC name when it follows the rules", async (t) => {
  const table: { name: string; raw: string; expected: string }[] = [
    { name: "ASCII letters", raw: "alice", expected: "alice" },
    { name: "mixed case is kept", raw: "Alice", expected: "Alice" },
    { name: "digits, underscore, dot, dash", raw: "a_b.c-9", expected: "a_b.c-9" },
    { name: "1 character", raw: "a", expected: "a" },
    { name: "only digits", raw: "42", expected: "42" },
    { name: "dots only", raw: "..", expected: ".." },
    { name: "Latin letter with diaeresis", raw: "zoë", expected: "zoë" },
    { name: "Polish letter", raw: "Łukasz", expected: "Łukasz" },
    { name: "CJK", raw: "東京", expected: "東京" },
    { name: "Cyrillic", raw: "Дмитрий", expected: "Дмитрий" },
    { name: "Arabic-Indic digits", raw: "٣٤", expected: "٣٤" },
    { name: "decomposed e + U+0301 becomes composed é", raw: "caf\u0065\u0301", expected: "café" },
    {
      name: "exactly 32 characters",
      raw: "x".repeat(MAX_NAME_LENGTH),
      expected: "x".repeat(MAX_NAME_LENGTH),
    },
    {
      name: "32 astral letters (64 UTF-16 units) count as 32",
      raw: "𝐀".repeat(32),
      expected: "𝐀".repeat(32),
    },
    {
      name: "32 characters after NFC, 33 before",
      raw: "x".repeat(31) + "e\u0301",
      expected: "x".repeat(31) + "é",
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const name = normalizeName(row.raw);
      equal(name, row.expected);
      equal(name, name.normalize("NFC"));
    });
  }
});

Deno.test("normalizeName() returns the same name when given decomposed or composed input", () => {
  equal(normalizeName("zo\u0065\u0308"), normalizeName("zo\u00eb"));
  equal(normalizeName("zo\u0065\u0308").length, 3);
});

Deno.test("normalizeName() throws RangeError when the name is empty or too long", async (t) => {
  const table: { name: string; raw: string; fragment: string }[] = [
    { name: "empty", raw: "", fragment: "it is empty" },
    { name: "33 characters", raw: "x".repeat(33), fragment: "longer than 32 characters" },
    { name: "33 astral letters", raw: "𝐀".repeat(33), fragment: "longer than 32 characters" },
    { name: "1000 characters", raw: "x".repeat(1000), fragment: "choose a shorter one" },
    { name: "1 MiB of letters", raw: "x".repeat(1 << 20), fragment: "longer than 32 characters" },
    {
      // Without the cap, NFC's canonical reordering of this takes minutes (quadratic in ICU).
      name: "1 MiB of combining marks in alternating classes",
      raw: "a" + "\u0301".repeat(1 << 19) + "\u0316".repeat(1 << 19),
      fragment: "longer than 32 characters",
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => normalizeName(row.raw),
        (error: unknown) => error instanceof RangeError && error.message.includes(row.fragment),
      );
    });
  }
});

Deno.test("normalizeName() throws SyntaxError when the name has a character outside the rules", async (t) => {
  const table: { name: string; raw: string }[] = [
    { name: "space", raw: "al ice" },
    { name: "leading space", raw: " alice" },
    { name: "trailing space", raw: "alice " },
    { name: "only a space", raw: " " },
    { name: "tab", raw: "al\tice" },
    { name: "newline", raw: "alice\n" },
    { name: "carriage return", raw: "al\rice" },
    { name: "NUL", raw: "al\u0000ice" },
    { name: "no-break space", raw: "al\u00a0ice" },
    { name: "zero-width space", raw: "al\u200bice" },
    { name: "right-to-left override", raw: "al\u202eice" },
    { name: "slash", raw: "a/b" },
    { name: "path traversal", raw: "../x" },
    { name: "backslash", raw: "a\\b" },
    { name: "colon", raw: "a:b" },
    { name: "at sign", raw: "alice@host" },
    { name: "quote", raw: 'a"b' },
    { name: "emoji", raw: "alice😀" },
    { name: "emoji only", raw: "😀" },
    { name: "a stack of three combining marks", raw: "q\u0301\u0302\u0303" },
    { name: "a combining mark first", raw: "\u0301a" },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => normalizeName(row.raw),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes("use only letters, digits"),
      );
    });
  }
});

Deno.test("normalizeName() quotes the name as JSON when it has a control character", () => {
  throws(
    () => normalizeName("a\nb"),
    (error: unknown) => error instanceof SyntaxError && error.message.includes('"a\\nb"'),
  );
});

Deno.test("normalizeName() accepts letters with up to two combining marks", () => {
  for (const raw of ["हिन्दी", "ภาษาไทย", "q\u0301", "q\u0301\u0302"]) {
    equal(normalizeName(raw), raw.normalize("NFC"));
  }
});
