/**
 * How many terminal columns text takes: two for East Asian wide and fullwidth characters (CJK,
 * most emoji), none for combining marks, joiners and variation selectors, one otherwise. The
 * wide ranges come from Unicode's East Asian Width data through `get-east-asian-width`. Terminals
 * differ on emoji sequences joined with U+200D; this counts each joined character.
 * @module
 */

import { eastAsianWidth } from "get-east-asian-width";

/** Marks, format characters (joiners, bidi controls) and conjoining Hangul vowels and finals. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]$/u;

/**
 * The columns one code point takes.
 *
 * @param codePoint The code point.
 * @returns 0, 1 or 2.
 */
export function codePointWidth(codePoint: number): 0 | 1 | 2 {
  // Below the combining marks every printable character is narrow.
  if (codePoint < 0x300) return 1;
  if (ZERO_WIDTH.test(String.fromCodePoint(codePoint))) return 0;
  return eastAsianWidth(codePoint) === 2 ? 2 : 1;
}

/**
 * The columns a string takes.
 *
 * @param text The text.
 * @returns Its width in columns.
 */
export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += codePointWidth(ch.codePointAt(0)!);
  return width;
}

/**
 * Pads text with spaces to a width in columns (`padEnd` counts UTF-16 units instead).
 *
 * @param text The text.
 * @param columns The width to reach.
 * @returns The text, padded when narrower.
 */
export function padColumns(text: string, columns: number): string {
  return text + " ".repeat(Math.max(0, columns - textWidth(text)));
}
