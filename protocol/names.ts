/**
 * Rules for peer names, shared by the client (to check before sending) and the server (to enforce).
 * @module
 */

/** The longest name, in characters after NFC normalization. */
export const MAX_NAME_LENGTH = 32;

// Raw input longer than this is refused before `normalize()` runs: ICU's canonical reordering is
// quadratic in a run of combining marks (100,000 marks of alternating classes take seconds), and a
// hello frame may carry a megabyte. The bound is exact, never refusing a valid name: a code point
// decomposes to at most 4 (U+1F82), each at most 2 UTF-16 units, so 32 NFC characters come from
// at most 32 * 4 * 2 = 256 units.
const MAX_RAW_UNITS = MAX_NAME_LENGTH * 8;

// Letters may carry combining marks (Hindi, Thai), but at most two in a row: no "Zalgo" stacks.
const NAME_PATTERN = /^[\p{L}\p{N}_.\-](?:[\p{L}\p{N}_.\-]|\p{M}{1,2}(?!\p{M}))*$/u;

/**
 * Normalizes a name and checks it against the rules: 1 to 32 letters, digits, `_`, `.` or `-`
 * (Unicode letters with at most two combining marks each, NFC-normalized; no spaces or control
 * characters).
 *
 * @param raw The name as typed.
 * @returns The normalized name.
 * @throws {RangeError} When the name is empty or too long.
 * @throws {SyntaxError} When the name has a character outside the rules.
 */
export function normalizeName(raw: string): string {
  if (raw.length === 0) {
    throw new RangeError("Invalid name: it is empty; choose 1 to 32 characters");
  }
  if (raw.length > MAX_RAW_UNITS) {
    throw new RangeError(
      `Invalid name "${
        raw.slice(0, 40)
      }": longer than ${MAX_NAME_LENGTH} characters; choose a shorter one`,
    );
  }
  const name = raw.normalize("NFC");
  if ([...name].length > MAX_NAME_LENGTH) {
    throw new RangeError(
      `Invalid name "${
        name.slice(0, 40)
      }": longer than ${MAX_NAME_LENGTH} characters; choose a shorter one`,
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw new SyntaxError(
      `Invalid name ${JSON.stringify(name)}: use only letters, digits, "_", "." or "-"`,
    );
  }
  return name;
}
