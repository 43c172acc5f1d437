import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import {
  MAX_NAME_LENGTH,
  nameKeys,
  namesCollide,
  nameSkeleton,
  normalizeName,
  UNICODE_CONFUSABLES_VERSION,
} from "./names.ts";

function throwsWith(fn: () => unknown, kind: typeof RangeError | typeof SyntaxError, text: string) {
  throws(fn, (error: unknown) => error instanceof kind && error.message.includes(text));
}

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
    { name: "German sharp s", raw: "Straße", expected: "Straße" },
    { name: "Turkish dotted capital I", raw: "İstanbul", expected: "İstanbul" },
    { name: "CJK", raw: "東京", expected: "東京" },
    { name: "Cyrillic", raw: "Дмитрий", expected: "Дмитрий" },
    { name: "Greek", raw: "Ωμέγα", expected: "Ωμέγα" },
    { name: "Devanagari with combining marks", raw: "हिंदी", expected: "हिंदी" },
    { name: "Thai", raw: "ภาษาไทย", expected: "ภาษาไทย" },
    { name: "Hangul", raw: "한국어", expected: "한국어" },
    { name: "Arabic", raw: "عربي", expected: "عربي" },
    { name: "Hebrew", raw: "עברית", expected: "עברית" },
    { name: "Georgian", raw: "ქართული", expected: "ქართული" },
    { name: "Arabic-Indic digits", raw: "٣٤", expected: "٣٤" },
    { name: "Latin with Han, Hiragana, Katakana", raw: "abc日本のカナ", expected: "abc日本のカナ" },
    { name: "Latin with Han and Bopomofo", raw: "abc漢字ㄅ", expected: "abc漢字ㄅ" },
    { name: "Latin with Hangul", raw: "abc한국어", expected: "abc한국어" },
    { name: "Cyrillic with ASCII digits and dash", raw: "Дима-42", expected: "Дима-42" },
    { name: "decomposed e + U+0301 becomes composed é", raw: "caf\u0065\u0301", expected: "café" },
    {
      name: "exactly 32 characters",
      raw: "x".repeat(MAX_NAME_LENGTH),
      expected: "x".repeat(MAX_NAME_LENGTH),
    },
    {
      name: "32 astral letters (64 UTF-16 units) count as 32",
      raw: "𠀀".repeat(32),
      expected: "𠀀".repeat(32),
    },
    {
      name: "32 characters after NFC, 33 before",
      raw: "x".repeat(31) + "e\u0301",
      expected: "x".repeat(31) + "é",
    },
    {
      // 256 UTF-16 units is the most any raw form of a valid name needs: U+1F82 is 4 code points
      // in NFD, and 32 of those are 128; the astral worst case is 6 units per character.
      name: "32 fully decomposed characters",
      raw: "\u1F82".repeat(32).normalize("NFD"),
      expected: "\u1F82".repeat(32),
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
    { name: "empty", raw: "", fragment: "Invalid name: it is empty; choose 1 to 32 characters" },
    { name: "33 characters", raw: "x".repeat(33), fragment: "longer than 32 characters" },
    { name: "33 astral letters", raw: "𠀀".repeat(33), fragment: "longer than 32 characters" },
    { name: "1000 characters", raw: "x".repeat(1000), fragment: "choose a shorter one" },
    { name: "257 UTF-16 units", raw: "x".repeat(257), fragment: "longer than 32 characters" },
    { name: "1 MiB of letters", raw: "x".repeat(1 << 20), fragment: "longer than 32 characters" },
    {
      // Without the cap, NFC's canonical reordering of this takes minutes (quadratic in ICU).
      name: "1 MiB of combining marks in alternating classes",
      raw: "a" + "\u0301".repeat(1 << 19) + "\u0316".repeat(1 << 19),
      fragment: "longer than 32 characters",
    },
    {
      name: "1 MiB that would make a backtracking pattern explode",
      raw: "a\u0301\u0302".repeat(349525) + "!",
      fragment: "longer than 32 characters",
    },
    {
      name: "a long name is quoted by its first 40 characters",
      raw: "y".repeat(50),
      fragment: `"${"y".repeat(40)}…"`,
    },
  ];
  for (const row of table) {
    await t.step(
      row.name,
      () => throwsWith(() => normalizeName(row.raw), RangeError, row.fragment),
    );
  }
});

Deno.test("normalizeName() throws SyntaxError when the name has a character outside the rules", async (t) => {
  const letters = 'use only letters, digits, "_", "." or "-"';
  const table: { name: string; raw: string; fragment: string }[] = [
    { name: "space", raw: "al ice", fragment: "U+0020, a space, control, formatting or invisible" },
    { name: "leading space", raw: " alice", fragment: letters },
    { name: "trailing space", raw: "alice ", fragment: letters },
    { name: "only a space", raw: " ", fragment: letters },
    { name: "tab", raw: "al\tice", fragment: "U+0009" },
    { name: "newline", raw: "alice\n", fragment: "U+000A" },
    { name: "carriage return", raw: "al\rice", fragment: "U+000D" },
    { name: "NUL", raw: "al\u0000ice", fragment: "U+0000" },
    { name: "no-break space", raw: "al\u00a0ice", fragment: "U+00A0" },
    { name: "zero-width space", raw: "al\u200bice", fragment: "U+200B" },
    { name: "zero-width joiner", raw: "al\u200dice", fragment: "U+200D" },
    { name: "soft hyphen", raw: "al\u00adice", fragment: "U+00AD" },
    { name: "right-to-left override", raw: "al\u202eice", fragment: "U+202E" },
    { name: "right-to-left isolate", raw: "al\u2067ice", fragment: "U+2067" },
    { name: "Arabic letter mark", raw: "al\u061cice", fragment: "U+061C" },
    { name: "word joiner", raw: "al\u2060ice", fragment: "U+2060" },
    { name: "Mongolian vowel separator", raw: "al\u180eice", fragment: "U+180E" },
    { name: "Khmer vowel inherent AQ", raw: "\u1780\u17b4", fragment: "U+17B4" },
    { name: "variation selector 17", raw: "alice\u{e0100}", fragment: "U+E0100" },
    { name: "tag character", raw: "alice\u{e0041}", fragment: "U+E0041" },
    { name: "private use", raw: "al\ue000ice", fragment: "U+E000" },
    { name: "unassigned", raw: "al\u0378ice", fragment: "U+0378" },
    { name: "lone surrogate", raw: "al\ud800ice", fragment: "U+D800" },
    { name: "byte order mark", raw: "\ufeffalice", fragment: "U+FEFF" },
    { name: "slash", raw: "a/b", fragment: '"/" (U+002F) is not a letter' },
    { name: "path traversal", raw: "../x", fragment: '"/" (U+002F)' },
    { name: "backslash", raw: "a\\b", fragment: letters },
    { name: "colon", raw: "a:b", fragment: letters },
    { name: "at sign", raw: "alice@host", fragment: letters },
    { name: "quote", raw: 'a"b', fragment: letters },
    { name: "emoji", raw: "alice😀", fragment: '"😀" (U+1F600) is not a letter' },
    { name: "emoji only", raw: "😀", fragment: letters },
    { name: "superscript two", raw: "a²", fragment: '"²" (U+00B2) is not a letter' },
    { name: "Braille blank", raw: "a\u2800", fragment: "U+2800" },
    { name: "fullwidth letter", raw: "ａ", fragment: 'compatibility variant of "a"; use "a"' },
    { name: "mathematical bold letter", raw: "𝐀", fragment: "compatibility variant" },
    { name: "ligature", raw: "ﬁsh", fragment: 'compatibility variant of "fi"; use "fish"' },
    { name: "long s", raw: "ſ", fragment: "compatibility variant" },
    { name: "Cherokee", raw: "ᎠᏍᎦ", fragment: "not recommended for names (UAX #31)" },
    { name: "Coptic", raw: "ⲁⲃ", fragment: "not recommended for names" },
    { name: "Runic", raw: "ᚠᚢ", fragment: "not recommended for names" },
    {
      name: "a stack of three combining marks",
      raw: "q\u0301\u0302\u0303",
      fragment: "more than 2 combining marks on one letter; use at most 2",
    },
    { name: "a combining mark first", raw: "\u0301a", fragment: "follows no letter" },
    { name: "a combining mark on a digit", raw: "1\u0301", fragment: "follows no letter" },
    { name: "a combining mark on a dash", raw: "a-\u0338", fragment: "follows no letter" },
    { name: "the same mark twice", raw: "x\u0301\u0301", fragment: "U+0301 twice" },
    {
      name: "the same mark twice, once composed",
      raw: "a\u0301\u0301",
      fragment: "U+0301 twice on one letter; use each mark once",
    },
  ];
  for (const row of table) {
    await t.step(
      row.name,
      () => throwsWith(() => normalizeName(row.raw), SyntaxError, row.fragment),
    );
  }
});

Deno.test("normalizeName() throws SyntaxError when scripts or number systems mix", async (t) => {
  const scripts = "use one script (Latin may go with Han and Kana, Han and Bopomofo, or Hangul)";
  const table: { name: string; raw: string; fragment: string }[] = [
    { name: "Cyrillic а in Latin", raw: "\u0430lice", fragment: "mixes the Cyrillic and Latin" },
    { name: "Greek ο in Latin", raw: "b\u03bfb", fragment: "mixes the Latin and Greek scripts" },
    { name: "Latin with Cyrillic", raw: "Дмитрий-x", fragment: scripts },
    { name: "Latin with Arabic", raw: "abcعربي", fragment: "Latin and Arabic" },
    { name: "Hangul with Kana", raw: "한국カナ", fragment: "Hangul and Katakana" },
    { name: "Bopomofo with Hangul", raw: "ㄅ한", fragment: "Bopomofo and Hangul" },
    { name: "Latin with Arabic-Indic digits", raw: "a٣", fragment: "Latin and Arabic" },
    {
      name: "Arabic-Indic with ASCII digits",
      raw: "٣4",
      fragment: 'mixes digits of two number systems, "٣" (U+0663) and "4" (U+0034)',
    },
    { name: "Devanagari with ASCII digits", raw: "२3", fragment: "use digits of one system" },
  ];
  for (const row of table) {
    await t.step(
      row.name,
      () => throwsWith(() => normalizeName(row.raw), SyntaxError, row.fragment),
    );
  }
});

Deno.test("normalizeName() quotes the name with invisible characters escaped", async (t) => {
  const table: { name: string; raw: string; shown: string }[] = [
    { name: "newline", raw: "a\nb", shown: '"a\\nb"' },
    { name: "right-to-left override", raw: "a\u202eb", shown: '"a\\u202eb"' },
    { name: "Hangul filler", raw: "a\u3164", shown: '"a\\u3164"' },
    { name: "ideographic space", raw: "a\u3000b", shown: '"a\\u3000b"' },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => normalizeName(row.raw),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes(row.shown) &&
          !error.message.includes(row.raw),
      );
    });
  }
});

Deno.test("normalizeName() refuses or keys apart every name of the confusable-name attack", async (t) => {
  // Found next to a bound "alice" on the running server: each was accepted as a new peer.
  // Invisible characters, compatibility forms and mixed scripts are refused outright; what stays
  // valid collides with "alice" by its keys, for the directory to refuse as NAME_CONFUSABLE.
  const table: { name: string; raw: string; refused?: string }[] = [
    { name: "capital A", raw: "Alice" },
    { name: "all capitals", raw: "ALICE" },
    { name: "capital I for l", raw: "aIice" },
    { name: "digit 1 for l", raw: "a1ice" },
    { name: "Cyrillic а", raw: "\u0430lice", refused: "mixes the Cyrillic and Latin scripts" },
    { name: "Cyrillic а and digit 1", raw: "\u04301ice", refused: "mixes the Cyrillic and Latin" },
    { name: "fullwidth", raw: "ａｌｉｃｅ", refused: "compatibility variant" },
    { name: "U+034F combining grapheme joiner", raw: "alice\u034f", refused: "U+034F" },
    { name: "U+FE0F variation selector 16", raw: "alice\ufe0f", refused: "U+FE0F" },
    { name: "U+3164 Hangul filler", raw: "alice\u3164", refused: "U+3164" },
    { name: "U+115F Hangul choseong filler", raw: "alice\u115f", refused: "U+115F" },
    { name: "U+1160 Hangul jungseong filler", raw: "alice\u1160", refused: "U+1160" },
    { name: "U+FFA0 halfwidth Hangul filler", raw: "alice\uffa0", refused: "U+FFA0" },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      if (row.refused !== undefined) {
        throwsWith(() => normalizeName(row.raw), SyntaxError, row.refused);
      } else {
        equal(normalizeName(row.raw), row.raw);
      }
      // Refused or not, the keys collide: a client comparing raw names is warned all the same.
      ok(namesCollide(row.raw, "alice"), `${JSON.stringify(row.raw)} collides with "alice"`);
    });
  }
});

Deno.test("nameSkeleton() maps each character to its confusables.txt prototype", async (t) => {
  const table: { name: string; input: string; expected: string }[] = [
    { name: "a prototype stays", input: "alice", expected: "alice" },
    { name: "capital I becomes l", input: "aIice", expected: "alice" },
    { name: "digit 1 becomes l", input: "a1ice", expected: "alice" },
    { name: "digit 0 becomes capital O", input: "b0b", expected: "bOb" },
    { name: "m becomes rn", input: "m", expected: "rn" },
    { name: "Cyrillic а becomes a", input: "\u0430lice", expected: "alice" },
    { name: "fullwidth becomes ASCII", input: "ａｌｉｃｅ", expected: "alice" },
    { name: "case is kept", input: "Alice", expected: "Alice" },
    { name: "default-ignorable characters go", input: "al\u200bice\u034f", expected: "alice" },
    { name: "NFD on both sides", input: "café", expected: "cafe\u0301" },
    { name: "empty", input: "", expected: "" },
  ];
  for (const row of table) {
    await t.step(row.name, () => equal(nameSkeleton(row.input), row.expected));
  }
});

Deno.test("nameKeys() gives the skeleton as written and of the case-folded name", async (t) => {
  const table: { name: string; input: string; expected: string[] }[] = [
    { name: "lowercase", input: "alice", expected: ["alice"] },
    { name: "capital A", input: "Alice", expected: ["alice"] },
    { name: "capital I differs as written", input: "ALICE", expected: ["allce", "alice"] },
    { name: "capital I in lowercase", input: "aIice", expected: ["alice", "aiice"] },
    { name: "sharp s folds to ss", input: "Straße", expected: ["strasse"] },
    // Greek capitals have other prototypes than the small letters: only the folded key matches.
    { name: "Greek capitals", input: "ΟΔΟΣ", expected: ["o\u03b4o\u0283", "o\u1e9foo"] },
  ];
  for (const row of table) {
    await t.step(row.name, () => deepEqual(nameKeys(row.input), row.expected));
  }
});

Deno.test("namesCollide() tells names that look alike or differ only in case", async (t) => {
  const table: { a: string; b: string; collide: boolean }[] = [
    { a: "alice", b: "alice", collide: true },
    { a: "alice", b: "Alice", collide: true },
    { a: "alice", b: "ALICE", collide: true },
    { a: "alice", b: "aIice", collide: true },
    { a: "Alice", b: "aIice", collide: true },
    { a: "alice", b: "a1ice", collide: true },
    { a: "m", b: "rn", collide: true },
    { a: "bob", b: "b0b", collide: true },
    { a: "bob", b: "BOB", collide: true },
    { a: "ace", b: "\u0430\u0441\u0435", collide: true }, // all Cyrillic, one script: valid
    { a: "ape", b: "\u0430\u0440\u0435", collide: true },
    { a: "Straße", b: "STRASSE", collide: true },
    { a: "zoë", b: "zoe\u0308", collide: true },
    { a: "οδος", b: "ΟΔΟΣ", collide: true }, // final sigma folds like any sigma
    { a: "οδος", b: "οδοσ", collide: true },
    { a: "zoe", b: "ｚｏｅ", collide: true }, // fullwidth ｚ has no line in confusables.txt
    { a: "alice", b: "alicf", collide: false },
    { a: "Neil", b: "Nell", collide: false },
    { a: "zoe", b: "zoë", collide: false },
    { a: "ali", b: "ail", collide: false },
    { a: "日本", b: "日木", collide: false },
  ];
  for (const row of table) {
    await t.step(`${row.a} / ${row.b}`, () => {
      equal(namesCollide(row.a, row.b), row.collide);
      equal(namesCollide(row.b, row.a), row.collide);
    });
  }
});

Deno.test("namesCollide() keeps honest names of different scripts apart", () => {
  const names = [
    "alice",
    "bob",
    "Ωμέγα",
    "日本",
    "हिंदी",
    "हिन्दी",
    "ภาษาไทย",
    "Дмитрий",
    "٣٤",
    "zoë",
    "Łukasz",
    "한국어",
    "עברית",
    "عربي",
    "ქართული",
    "Straße",
    "東京",
    "abc日本のカナ",
    "42",
    "..",
    "a_b.c-9",
  ];
  for (const name of names) equal(normalizeName(name), name.normalize("NFC"));
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(i + 1)) {
      equal(namesCollide(a, b), false, `${a} / ${b}`);
    }
  }
});

Deno.test("nameSkeleton() and nameKeys() throw RangeError when the input is hostile", async (t) => {
  const hostile = "a" + "\u0301".repeat(1 << 19) + "\u0316".repeat(1 << 19);
  const table: { name: string; run: () => unknown }[] = [
    { name: "nameSkeleton()", run: () => nameSkeleton(hostile) },
    { name: "nameKeys()", run: () => nameKeys(hostile) },
    { name: "namesCollide()", run: () => namesCollide("alice", hostile) },
    { name: "257 units", run: () => nameKeys("x".repeat(257)) },
  ];
  for (const row of table) {
    await t.step(row.name, () => throwsWith(row.run, RangeError, "longer than 256 UTF-16 units"));
  }
  equal(nameKeys("x".repeat(256)).length, 1);
});

Deno.test("UNICODE_CONFUSABLES_VERSION names the confusables.txt behind the skeleton", () => {
  equal(UNICODE_CONFUSABLES_VERSION, "13.0.0");
  notEqual(nameSkeleton("I"), "I");
});
