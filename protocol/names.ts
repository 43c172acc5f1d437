/**
 * Rules for peer names, shared by the client (to check before sending) and the server (to enforce),
 * and the keys that tell whether two names look alike (UTS #39 confusable detection).
 *
 * - {@linkcode normalizeName} accepts a name people can read: 1 to 32 letters, digits, `_`, `.`
 *   or `-`, no invisible characters, one script (UTS #39 "Highly Restrictive").
 * - {@linkcode nameKeys} and {@linkcode namesCollide} tell names that look alike or differ only in
 *   case (`alice`, `Alice`, `ALICE`, `aIice`, `a1ice`), for a directory that refuses a new name
 *   colliding with a bound one.
 *
 * See `docs/names.md` for the rules and their sources.
 * @module
 */

import { CONFUSABLES_DATA, CONFUSABLES_UNICODE_VERSION } from "./_confusables.ts";
import { decodeConfusables } from "./_confusables_codec.ts";
import { mixedScripts, scriptsOf } from "./_scripts.ts";

/** The longest name, in characters after NFC normalization. */
export const MAX_NAME_LENGTH = 32;

/** The version of Unicode's `confusables.txt` behind {@linkcode nameSkeleton}, e.g. `"13.0.0"`. */
export const UNICODE_CONFUSABLES_VERSION: string = CONFUSABLES_UNICODE_VERSION;

// Raw input longer than this is refused before `normalize()` runs: ICU's canonical reordering is
// quadratic in a run of combining marks (100,000 marks of alternating classes take seconds), and a
// hello frame may carry a megabyte. The bound is exact, never refusing a valid name: a code point
// decomposes to at most 4 (U+1F82), each at most 2 UTF-16 units, so 32 NFC characters come from
// at most 32 * 4 * 2 = 256 units.
const MAX_RAW_UNITS = MAX_NAME_LENGTH * 8;

// Letters may carry combining marks (Hindi, Thai), but at most two in a row: no "Zalgo" stacks.
const MAX_MARKS = 2;

// Nothing visible, or changes how the rest shows: controls, format characters (bidi controls,
// zero-width joiners), unassigned and private-use code points, separators, and every
// Default_Ignorable_Code_Point, which covers the fillers that are letters: HANGUL FILLER U+3164,
// HALFWIDTH HANGUL FILLER U+FFA0, CHOSEONG and JUNGSEONG FILLERS U+115F and U+1160, and KHMER
// VOWEL INHERENT U+17B4 and U+17B5, all "Restricted" in UTS #39's IdentifierStatus.txt.
const INVISIBLE = /[\p{C}\p{Z}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;
const LETTER = /^\p{L}$/u;
const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
const IDENTIFIER_PART = /^\p{XID_Continue}$/u;
const MARK = /^\p{M}$/u;
const DIGIT = /^\p{Nd}$/u;
const PUNCTUATION = new Set(["_", ".", "-"]);
const ASCII_NAME_CHAR = /^[A-Za-z0-9_.\-]$/;
const REMEDY = 'use only letters, digits, "_", "." or "-"';

// Shown as \uXXXX inside quoted names, so an error message never carries a bidi override or an
// invisible character to a terminal.
const HIDDEN = /[\p{C}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]|[^\P{Zs} ]/gu;
const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;

/**
 * Normalizes a name and checks it against the rules: 1 to 32 characters after NFC normalization,
 * each a letter, a digit, `_`, `.` or `-`; a letter may carry up to two combining marks.
 * Refused: invisible, control, formatting and bidi characters (every
 * `Default_Ignorable_Code_Point`, so the Hangul fillers too); compatibility variants such as
 * fullwidth `ａ` (their NFKC form differs); scripts outside UAX #31's recommended ones; digits of two
 * number systems; and scripts mixed beyond UTS #39's "Highly Restrictive" level: one script, or
 * Latin with Han and Hiragana/Katakana, Han and Bopomofo, or Hangul.
 *
 * @example
 * ```ts
 * import { normalizeName } from "./names.ts";
 * normalizeName("zoe\u0308"); // "zoë", composed
 * // normalizeName("\u0430lice") throws SyntaxError: it mixes the Cyrillic and Latin scripts
 * ```
 *
 * @param raw The name as typed.
 * @returns The normalized (NFC) name.
 * @throws {RangeError} When the name is empty or longer than 32 characters.
 * @throws {SyntaxError} When the name has a character or a mix of scripts outside the rules.
 */
export function normalizeName(raw: string): string {
  if (raw.length === 0) {
    throw new RangeError("Invalid name: it is empty; choose 1 to 32 characters");
  }
  const name = raw.length > MAX_RAW_UNITS ? undefined : raw.normalize("NFC");
  if (name === undefined || [...name].length > MAX_NAME_LENGTH) {
    throw new RangeError(
      `Invalid name ${
        quote(name ?? raw, 40)
      }: longer than ${MAX_NAME_LENGTH} characters; choose a shorter one`,
    );
  }
  checkCharacters(name);
  checkMarks(name);
  checkDigits(name);
  const scripts = mixedScripts(name);
  if (scripts !== undefined) {
    throw invalid(
      name,
      `it mixes the ${scripts.join(" and ")} scripts`,
      "use one script (Latin may go with Han and Kana, Han and Bopomofo, or Hangul)",
    );
  }
  return name;
}

/**
 * The UTS #39 skeleton of a name: NFD, Default_Ignorable_Code_Point characters removed, each
 * character replaced by its prototype from `confusables.txt` (version
 * {@linkcode UNICODE_CONFUSABLES_VERSION}), NFD again. Names with equal skeletons look alike as
 * written (`aIice` and `alice`, `rn` and `m`); the skeleton keeps case, so `Alice` and `alice`
 * differ. For uniqueness use {@linkcode nameKeys} or {@linkcode namesCollide}, which also
 * ignore case. A skeleton is a comparison key, never something to show.
 *
 * @example
 * ```ts
 * import { nameSkeleton } from "./names.ts";
 * nameSkeleton("aIice") === nameSkeleton("alice"); // true: I looks like l
 * nameSkeleton("\u0430lice"); // "alice": Cyrillic а looks like Latin a
 * ```
 *
 * @param name A name, normally one that {@linkcode normalizeName} accepted.
 * @returns The skeleton, in NFD.
 * @throws {RangeError} When the name is longer than 256 UTF-16 units (no valid name is).
 */
export function nameSkeleton(name: string): string {
  checkKeyInput(name);
  return skeleton(name);
}

/**
 * The keys under which a name must be unique: two names collide when they share a key.
 * Both start from the NFKC form. The first key is the skeleton of the name as written, case-folded (catches `aIice` for `alice`,
 * and `Alice`); the second is the skeleton of the case-folded name (catches `ALICE`, whose `I`
 * would otherwise become `l`). Case folding is Unicode's full folding, per code point. One list
 * serves a directory well: index every bound name under each of its keys in one map.
 *
 * @example
 * ```ts
 * import { nameKeys } from "./names.ts";
 * nameKeys("alice"); // ["alice"]
 * nameKeys("ALICE"); // ["allce", "alice"]: shares "alice" with alice
 * ```
 *
 * @param name A name, normally one that {@linkcode normalizeName} accepted.
 * @returns One or two distinct keys, in NFD.
 * @throws {RangeError} When the name is longer than 256 UTF-16 units (no valid name is).
 */
export function nameKeys(name: string): string[] {
  checkKeyInput(name);
  // NFKC first changes nothing in a valid name (normalizeName refuses compatibility variants) and
  // lets a raw name such as fullwidth "ｚｏｅ" meet "zoe": confusables.txt lists only some of them.
  const compatible = name.normalize("NFKC");
  const asWritten = foldCase(skeleton(compatible));
  const caseless = foldCase(skeleton(foldCase(compatible)));
  return asWritten === caseless ? [asWritten] : [asWritten, caseless];
}

/**
 * Tells whether two names collide: whether they share one of their {@linkcode nameKeys}, so that
 * one could pass for the other. Equal names collide.
 *
 * @example
 * ```ts
 * import { namesCollide } from "./names.ts";
 * namesCollide("alice", "ALICE"); // true
 * namesCollide("alice", "a1ice"); // true
 * namesCollide("alice", "bob"); // false
 * ```
 *
 * @param a A name.
 * @param b Another name.
 * @returns `true` when the names collide.
 * @throws {RangeError} When a name is longer than 256 UTF-16 units (no valid name is).
 */
export function namesCollide(a: string, b: string): boolean {
  const keys = new Set(nameKeys(a));
  return nameKeys(b).some((key) => keys.has(key));
}

function checkCharacters(name: string): void {
  for (const char of name) {
    if (ASCII_NAME_CHAR.test(char)) continue;
    if (INVISIBLE.test(char)) {
      throw invalid(
        name,
        `it contains ${codePoint(char)}, a space, control, formatting or invisible character`,
        REMEDY,
      );
    }
    const allowed = PUNCTUATION.has(char) || MARK.test(char) ||
      (LETTER_OR_DIGIT.test(char) && IDENTIFIER_PART.test(char));
    if (!allowed) {
      throw invalid(name, `${describe(char)} is not a letter, digit, "_", "." or "-"`, REMEDY);
    }
    const compatible = char.normalize("NFKC");
    if (compatible !== char) {
      throw invalid(
        name,
        `${describe(char)} is a compatibility variant of ${quote(compatible)}`,
        `use ${quote(name.normalize("NFKC"))}`,
      );
    }
    if (scriptsOf(char).length === 0) {
      throw invalid(
        name,
        `${describe(char)} is of a script not recommended for names (UAX #31)`,
        "use a script in wide use today",
      );
    }
  }
}

function checkMarks(name: string): void {
  let marks = 0;
  let base = "";
  for (const char of name) {
    if (!MARK.test(char)) {
      marks = 0;
      base = char;
    } else if (!LETTER.test(base)) {
      throw invalid(
        name,
        `the combining mark ${codePoint(char)} follows no letter`,
        "put combining marks on letters only",
      );
    } else if (++marks > MAX_MARKS) {
      throw invalid(
        name,
        `more than ${MAX_MARKS} combining marks on one letter`,
        `use at most ${MAX_MARKS}`,
      );
    }
  }
  // Decomposed, equal marks on one letter sit side by side (UTS #39 §5.4: they show as one).
  let previous = "";
  for (const char of name.normalize("NFD")) {
    if (char === previous && MARK.test(char)) {
      throw invalid(
        name,
        `the combining mark ${codePoint(char)} twice on one letter`,
        "use each mark once",
      );
    }
    previous = char;
  }
}

// UTS #39 §5.3, mixed number systems: "٣4" reads as 34 to some and as garbage to others.
function checkDigits(name: string): void {
  let first = "";
  let firstZero = -1;
  for (const char of name) {
    if (!DIGIT.test(char)) continue;
    const zero = digitZero(char.codePointAt(0)!);
    if (firstZero < 0) {
      first = char;
      firstZero = zero;
    } else if (zero !== firstZero) {
      throw invalid(
        name,
        `it mixes digits of two number systems, ${describe(first)} and ${describe(char)}`,
        "use digits of one system",
      );
    }
  }
}

// Decimal digits (Nd) come in contiguous runs from 0 to 9 (a Unicode stability guarantee), and
// runs sit back to back only in whole tens (the mathematical digits), so a digit's zero lies a
// multiple of ten back from the start of its run.
function digitZero(cp: number): number {
  let start = cp;
  while (DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return cp - ((cp - start) % 10);
}

let prototypes: Map<number, string> | undefined;

function skeleton(name: string): string {
  prototypes ??= decodeConfusables(CONFUSABLES_DATA);
  let mapped = "";
  for (const char of name.normalize("NFD")) {
    if (DEFAULT_IGNORABLE.test(char)) continue;
    mapped += prototypes.get(char.codePointAt(0)!) ?? char;
  }
  return mapped.normalize("NFD");
}

// Full case folding (CaseFolding.txt C + F) per code point: lower, upper, lower again gives
// Unicode 17's folding for every code point but U+0131 ı (which confusables.txt maps to i anyway)
// and Cherokee, whose letters fold to the same classes in the other direction. Per code point,
// so that final sigma does not depend on the letters around it.
function foldCase(text: string): string {
  let folded = "";
  for (const char of text) folded += char.toLowerCase().toUpperCase().toLowerCase();
  return folded.normalize("NFD");
}

function checkKeyInput(name: string): void {
  if (name.length > MAX_RAW_UNITS) {
    throw new RangeError(
      `Cannot compute the keys of name ${
        quote(name, 40)
      }: longer than ${MAX_RAW_UNITS} UTF-16 units; pass a name that normalizeName() accepted`,
    );
  }
}

function invalid(name: string, problem: string, remedy: string): SyntaxError {
  return new SyntaxError(`Invalid name ${quote(name)}: ${problem}; ${remedy}`);
}

function describe(char: string): string {
  return `${quote(char)} (${codePoint(char)})`;
}

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

// JSON quoting (escapes controls, quotes and lone surrogates), plus \uXXXX for characters that
// would be invisible or reorder the text; long text is cut to `max` code points and "…".
function quote(text: string, max = Infinity): string {
  let shown = text;
  if (text.length > max) {
    const chars = [...text.slice(0, max * 2)];
    if (chars.length > max) shown = chars.slice(0, max).join("") + "…";
  }
  return JSON.stringify(shown).replace(HIDDEN, (char) => {
    let escaped = "";
    for (let i = 0; i < char.length; i++) {
      escaped += "\\u" + char.charCodeAt(i).toString(16).padStart(4, "0");
    }
    return escaped;
  });
}
