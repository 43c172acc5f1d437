import { equal } from "node:assert/strict";
import { followsNameRules, GRANDFATHERED_MARK, nameRuleProblem, showName } from "./shown_name.ts";

Deno.test("showName() escapes invisible characters and marks names today's rules refuse", async (t) => {
  const table: [string, string, string][] = [
    ["a name that follows the rules", "alice", "alice"],
    ["a non-Latin name that follows the rules", "Дима-42", "Дима-42"],
    ["Cyrillic а among Latin letters", "\u0430lice", `\u0430lice ${GRANDFATHERED_MARK}`],
    ["a zero-width space", "ca\u200brol", `ca\\u200brol ${GRANDFATHERED_MARK}`],
    ["a zero-width joiner", "bo\u200db", `bo\\u200db ${GRANDFATHERED_MARK}`],
    ["a byte order mark", "\ufeffdave", `\\ufeffdave ${GRANDFATHERED_MARK}`],
    ["a variation selector", "alice\ufe0f", `alice\\ufe0f ${GRANDFATHERED_MARK}`],
    ["a Hangul filler", "al\u3164ice", `al\\u3164ice ${GRANDFATHERED_MARK}`],
    ["fullwidth letters", "ａｌｉｃｅ", `ａｌｉｃｅ ${GRANDFATHERED_MARK}`],
    ["a space", "al ice", `al ice ${GRANDFATHERED_MARK}`],
    ["not in NFC", "zoe\u0308", `zoe\u0308 ${GRANDFATHERED_MARK}`],
    ["empty", "", ` ${GRANDFATHERED_MARK}`],
    ["a terminal escape", "x\x1b[2J", `x\\x1b[2J ${GRANDFATHERED_MARK}`],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => equal(showName(input), expected));
  }
});

Deno.test("followsNameRules() and nameRuleProblem() agree, and say why", () => {
  equal(followsNameRules("alice"), true);
  equal(nameRuleProblem("alice"), undefined);
  equal(followsNameRules("\u0430lice"), false);
  equal(
    nameRuleProblem("\u0430lice"),
    'Invalid name "\u0430lice": it mixes the Cyrillic and Latin scripts; use one script (Latin may go with Han and Kana, Han and Bopomofo, or Hangul)',
  );
  equal(followsNameRules("zoe\u0308"), false);
  equal(nameRuleProblem("zoe\u0308"), "Invalid name: it is not in NFC form; use zoë");
});
