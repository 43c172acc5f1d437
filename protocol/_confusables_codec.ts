/**
 * A compact text form for the confusables table (source code point → prototype code points), so
 * the table can travel inside the module graph as one ASCII string and be decoded once.
 *
 * Entries are sorted by source. Each entry is either:
 *
 * - `+`: the source after the previous one, mapped to the code point after the previous
 *   single-code-point prototype (runs such as fullwidth or mathematical letters);
 * - a source delta in base 26 written `A`–`Z` (`A` = 0), then the prototype as base-36 code points
 *   in `0`–`9`, `a`–`z`, separated by `,`.
 *
 * An uppercase letter or `+` always starts the next entry, so no separator between entries is
 * needed. Only ASCII appears: no invisible or right-to-left characters in the source file.
 * @module
 */

/** One table entry: a source code point and the code points of its prototype. */
export type ConfusableEntry = readonly [source: number, prototype: readonly number[]];

const A = 65;
const Z = 90;
const PLUS = 43;
const COMMA = 44;

/**
 * Encodes entries into the compact form.
 *
 * @example
 * ```ts
 * import { encodeConfusables } from "./_confusables_codec.ts";
 * encodeConfusables([[0x49, [0x6c]], [0x6d, [0x72, 0x6e]]]); // "CV30BK36,32"
 * ```
 *
 * @param entries The entries, sorted by source with no duplicates (none for U+0000), each
 * prototype non-empty.
 * @returns The encoded string.
 * @throws {RangeError} When the entries are not strictly increasing or a prototype is empty.
 */
export function encodeConfusables(entries: Iterable<ConfusableEntry>): string {
  let out = "";
  let previousSource = 0;
  let previousSingle = -1;
  for (const [source, prototype] of entries) {
    if (source <= previousSource) {
      throw new RangeError(
        `Cannot encode confusables: source U+${hex(source)} is out of order; sort by source`,
      );
    }
    if (prototype.length === 0) {
      throw new RangeError(
        `Cannot encode confusables: U+${hex(source)} has an empty prototype; drop the entry`,
      );
    }
    const single = prototype.length === 1 ? prototype[0] : -1;
    if (
      out.length > 0 && source === previousSource + 1 && single >= 0 &&
      single === previousSingle + 1
    ) {
      out += "+";
    } else {
      out += toBase26(source - previousSource) + prototype.map((cp) => cp.toString(36)).join(",");
    }
    previousSource = source;
    previousSingle = single >= 0 ? single : -2;
  }
  return out;
}

/**
 * Decodes the compact form into a map from source code point to prototype string.
 *
 * @example
 * ```ts
 * import { decodeConfusables } from "./_confusables_codec.ts";
 * decodeConfusables("CV30BK36,32").get(0x6d); // "rn"
 * ```
 *
 * @param data The encoded string.
 * @returns The map, in source order.
 * @throws {SyntaxError} When the string is not in the compact form.
 */
export function decodeConfusables(data: string): Map<number, string> {
  const table = new Map<number, string>();
  let source = 0;
  let previousSingle = -1;
  let i = 0;
  while (i < data.length) {
    const c = data.charCodeAt(i);
    if (c === PLUS) {
      if (previousSingle < 0) throw malformed(i, "a run continues no single prototype");
      source += 1;
      previousSingle += 1;
      table.set(source, String.fromCodePoint(previousSingle));
      i += 1;
      continue;
    }
    let delta = 0;
    const start = i;
    for (; i < data.length && data.charCodeAt(i) >= A && data.charCodeAt(i) <= Z; i++) {
      delta = delta * 26 + data.charCodeAt(i) - A;
    }
    if (i === start || delta === 0) throw malformed(start, "expected a source delta");
    source += delta;
    const prototype: number[] = [];
    do {
      if (prototype.length > 0) i += 1; // the comma
      const digitsStart = i;
      while (i < data.length && isBase36Digit(data.charCodeAt(i))) i++;
      if (i === digitsStart) throw malformed(i, "expected a prototype code point");
      prototype.push(parseInt(data.slice(digitsStart, i), 36));
    } while (i < data.length && data.charCodeAt(i) === COMMA);
    previousSingle = prototype.length === 1 ? prototype[0] : -1;
    table.set(source, String.fromCodePoint(...prototype));
  }
  return table;
}

function toBase26(n: number): string {
  let digits = "";
  do {
    digits = String.fromCharCode(A + (n % 26)) + digits;
    n = Math.floor(n / 26);
  } while (n > 0);
  return digits;
}

function isBase36Digit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122);
}

function malformed(at: number, what: string): SyntaxError {
  return new SyntaxError(
    `Cannot decode confusables at offset ${at}: ${what}; regenerate with tools/gen_confusables.ts`,
  );
}

function hex(cp: number): string {
  return cp.toString(16).toUpperCase().padStart(4, "0");
}
