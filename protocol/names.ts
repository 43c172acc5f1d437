/**
 * Rules for peer names, shared by the client (to check before sending) and the server (to enforce).
 * @module
 */

/** The longest name, in characters after NFC normalization. */
export const MAX_NAME_LENGTH = 32;

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
  const name = raw.normalize("NFC");
  if (name.length === 0) {
    throw new RangeError("Invalid name: it is empty; choose 1 to 32 characters");
  }
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
