import { deepEqual, equal } from "node:assert/strict";
import { mixedScripts, scriptsOf } from "./_scripts.ts";

Deno.test("scriptsOf() gives the recommended scripts of a character", async (t) => {
  const table: { name: string; char: string; expected: readonly string[] | "any" }[] = [
    { name: "Latin letter", char: "a", expected: ["Latin"] },
    { name: "Cyrillic letter", char: "\u0430", expected: ["Cyrillic"] },
    { name: "ASCII digit", char: "1", expected: "any" },
    { name: "underscore", char: "_", expected: "any" },
    {
      name: "Arabic-Indic digit (Script_Extensions)",
      char: "\u0663",
      expected: ["Arabic", "Thaana"],
    },
    { name: "prolonged sound mark", char: "\u30fc", expected: ["Hiragana", "Katakana"] },
    { name: "acute accent", char: "\u0301", expected: ["Latin", "Greek", "Cyrillic"] },
    { name: "Cherokee, not recommended", char: "Ꭰ", expected: [] },
    { name: "Runic, historic", char: "ᚠ", expected: [] },
  ];
  for (const row of table) {
    await t.step(row.name, () => deepEqual(scriptsOf(row.char), row.expected));
  }
});

Deno.test("mixedScripts() accepts what UTS #39 calls Highly Restrictive", async (t) => {
  const table: { name: string; text: string }[] = [
    { name: "empty", text: "" },
    { name: "only Common characters", text: "42_.-" },
    { name: "one script", text: "alice" },
    { name: "one script with Common", text: "Дима-42" },
    { name: "Japanese: Han, Hiragana, Katakana", text: "日本のカナ" },
    { name: "Latin + Japanese", text: "abc日本のカナ" },
    { name: "Latin + Han + Bopomofo", text: "abc漢字ㄅ" },
    { name: "Latin + Korean", text: "abc漢字한국" },
    { name: "a digit shared by Arabic and Thaana", text: "\u0663\u0664" },
  ];
  for (const row of table) {
    await t.step(row.name, () => equal(mixedScripts(row.text), undefined));
  }
});

Deno.test("mixedScripts() names the scripts of a mix beyond Highly Restrictive", async (t) => {
  const table: { name: string; text: string; expected: string[] }[] = [
    { name: "Cyrillic and Latin", text: "\u0430lice", expected: ["Cyrillic", "Latin"] },
    { name: "Latin and Greek", text: "b\u03bfb", expected: ["Latin", "Greek"] },
    {
      name: "Latin, Han, Hangul and Kana",
      text: "a日한カ",
      expected: ["Latin", "Han", "Hangul", "Katakana"],
    },
    { name: "Kana and Hangul", text: "カ한", expected: ["Katakana", "Hangul"] },
    { name: "Bopomofo and Kana", text: "ㄅカ", expected: ["Bopomofo", "Katakana"] },
    { name: "Latin and an Arabic digit", text: "a\u0663", expected: ["Latin", "Arabic"] },
  ];
  for (const row of table) {
    await t.step(row.name, () => deepEqual(mixedScripts(row.text), row.expected));
  }
});
