/**
 * Scripts of characters and UTS #39's "Highly Restrictive" restriction level, from the
 * `Script_Extensions` property that JavaScript regular expressions expose (`\p{scx=…}`).
 * @module
 */

// UAX #31 Table 5, "Recommended Scripts", less Common and Inherited (which go with any script).
// Historic scripts and those of limited use (Cherokee, Tifinagh, Vai, …) are left out, as
// UTS #39's General Security Profile does.
const RECOMMENDED_SCRIPTS = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Khmer",
  "Hiragana",
  "Katakana",
  "Bopomofo",
  "Han",
] as const;

const SCRIPT_PATTERNS = RECOMMENDED_SCRIPTS.map((script) =>
  [script, new RegExp(`\\p{scx=${script}}`, "u")] as const
);

const ANY_SCRIPT = /^[\p{scx=Common}\p{scx=Inherited}]$/u;
const ASCII_LETTER = /^[A-Za-z]$/;
const LATIN: readonly string[] = ["Latin"];

// UTS #39 §5.1: Han, Hiragana, Katakana, Hangul and Bopomofo also count as the writing systems
// they take part in, so that 日本のカナ is one "script" (Japanese) for the restriction level.
const AUGMENT: Readonly<Record<string, readonly string[]>> = {
  Han: ["Japanese", "Korean", "Han with Bopomofo"],
  Hiragana: ["Japanese"],
  Katakana: ["Japanese"],
  Hangul: ["Korean"],
  Bopomofo: ["Han with Bopomofo"],
};

// UTS #39 §5.2, "Highly Restrictive": besides one script, Latin may go with these.
const LATIN_COVERS: readonly ReadonlySet<string>[] = [
  new Set(["Latin", "Japanese"]),
  new Set(["Latin", "Han with Bopomofo"]),
  new Set(["Latin", "Korean"]),
];

/**
 * The recommended scripts a character is used with, or `"any"` for Common and Inherited
 * characters (digits, `_.-`, most combining marks), or an empty list when none is recommended.
 *
 * @example
 * ```ts
 * import { scriptsOf } from "./_scripts.ts";
 * scriptsOf("\u0663"); // ["Arabic", "Thaana"]: ARABIC-INDIC DIGIT THREE
 * scriptsOf("_"); // "any"
 * ```
 *
 * @param char One code point.
 * @returns Script names (as in `\p{scx=…}`), `"any"`, or `[]`.
 */
export function scriptsOf(char: string): readonly string[] | "any" {
  // Fast path for the common case: names are mostly ASCII.
  if (ASCII_LETTER.test(char)) return LATIN;
  if (ANY_SCRIPT.test(char)) return "any";
  return SCRIPT_PATTERNS.filter(([, pattern]) => pattern.test(char)).map(([script]) => script);
}

/**
 * Checks UTS #39's "Highly Restrictive" level: all characters share one script (Han with Kana,
 * Bopomofo or Hangul counting as one), or the name is covered by Latin + Han + Hiragana + Katakana,
 * Latin + Han + Bopomofo, or Latin + Han + Hangul.
 *
 * @example
 * ```ts
 * import { mixedScripts } from "./_scripts.ts";
 * mixedScripts("abc日本のカナ"); // undefined: Latin + Japanese
 * mixedScripts("\u0430lice"); // ["Cyrillic", "Latin"]
 * ```
 *
 * @param chars The code points of a name, each from a recommended script or of any script.
 * @returns `undefined` when the level is met, else the scripts in order of appearance.
 */
export function mixedScripts(chars: Iterable<string>): string[] | undefined {
  const sets: Set<string>[] = [];
  const seen: string[] = [];
  for (const char of chars) {
    const scripts = scriptsOf(char);
    if (scripts === "any" || scripts.length === 0) continue;
    if (!scripts.some((script) => seen.includes(script))) seen.push(scripts[0]);
    sets.push(new Set(scripts.flatMap((script) => [script, ...(AUGMENT[script] ?? [])])));
  }
  if (sets.length === 0) return undefined;
  const common = sets.reduce((a, b) => new Set([...a].filter((script) => b.has(script))));
  if (common.size > 0) return undefined;
  const covered = LATIN_COVERS.some((cover) =>
    sets.every((set) => [...set].some((script) => cover.has(script)))
  );
  return covered ? undefined : seen;
}
