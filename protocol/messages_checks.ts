/**
 * The field checks every message's validation is written in: strings, integers, enumerations,
 * arrays and objects with their limits, and {@linkcode checkFields}, which applies a message's
 * spec. Used by `messages_client.ts` and `messages_server.ts`; pure.
 * @module
 */

import { isErrorCode } from "./errors.ts";
import { logText } from "./text.ts";

/** Checks one field; throws `TypeError` or `RangeError` naming it. */
export type Check = (value: unknown, field: string) => void;

/** The longest peer name, characters. */
export const NAME_MAX = 64;
/** The most characters of a field name or type an error message repeats (they are untrusted). */
export const FIELD_SHOWN_MAX = 64;

/**
 * A field path as error messages show it: escaped and cut, so that a 1 MiB key makes a short
 * error (one that still fits a frame and a log line) and a key with escapes forges nothing.
 */
export function fieldLabel(path: string): string {
  return logText(path, FIELD_SHOWN_MAX);
}

/** The longest base64 key, proof or challenge, characters. */
export const KEY_B64_MAX = 1024;

/** The base length of a free-text field (error messages take four times it). */
export const TEXT_MAX = 512;

/** A string of at most `max` characters. */
export function str(max: number): Check {
  return (value, field) => {
    if (typeof value !== "string") {
      throw new TypeError(`Invalid field "${field}": expected a string`);
    }
    if (value.length > max) {
      throw new RangeError(`Invalid field "${field}": longer than ${max} characters`);
    }
  };
}

/** A non-negative integer of at most `max`. */
export function uint(max = 0xffff_ffff): Check {
  return (value, field) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new TypeError(`Invalid field "${field}": expected a non-negative integer`);
    }
    if (value > max) throw new RangeError(`Invalid field "${field}": larger than ${max}`);
  };
}

/** A finite non-negative number. */
export const num: Check = (value: unknown, field: string): void => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Invalid field "${field}": expected a non-negative number`);
  }
};

/** A boolean. */
export const bool: Check = (value: unknown, field: string): void => {
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid field "${field}": expected a boolean`);
  }
};

/** One of the given values. */
export function oneOf(values: readonly unknown[]): Check {
  return (value, field) => {
    if (!values.includes(value)) {
      throw new TypeError(
        `Invalid field "${field}": expected one of ${
          values.map((v) => JSON.stringify(v)).join(", ")
        }`,
      );
    }
  };
}

/** The check, or absent. */
export function optional(check: Check): Check & { optional: true } {
  return Object.assign((value: unknown, field: string) => check(value, field), {
    optional: true as const,
  });
}

/** An array of at most `max` items, each passing `item`. */
export function arrayOf(item: Check, max: number): Check {
  return (value, field) => {
    if (!Array.isArray(value)) throw new TypeError(`Invalid field "${field}": expected an array`);
    if (value.length > max) {
      throw new RangeError(`Invalid field "${field}": more than ${max} items`);
    }
    value.forEach((v, i) => item(v, `${field}[${i}]`));
  };
}

/** An object with exactly the fields of `spec`. */
export function object(spec: Record<string, Check>): Check {
  return (value, field) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(`Invalid field "${field}": expected an object`);
    }
    checkFields(value as Record<string, unknown>, spec, `${field}.`);
  };
}

/** A known error code. */
export const errorCode: Check = (value: unknown, field: string): void => {
  if (!isErrorCode(value)) throw new TypeError(`Invalid field "${field}": unknown error code`);
};

/** A height of at most 10,000, or `auto`. */
export const quality: Check = (value: unknown, field: string): void => {
  if (value === "auto") return;
  uint(10_000)(value, field);
};

/** A request id, stream id, epoch or index. */
export const id = uint();

/** A media time, seconds. */
export const position = num;
/** A relay id: an opaque token of 1 to 32 URL-safe base64 characters. */
export const rid: Check = (value: unknown, field: string): void => {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(value)) {
    throw new TypeError(`Invalid field "${field}": expected a relay id of 1 to 32 characters`);
  }
};

/** A peer name. */
export const name = str(NAME_MAX);

/** A base64 key, proof or challenge. */
export const b64key = str(KEY_B64_MAX);

/**
 * Checks an object against a spec: no field outside it (`type` aside at the top), every field it
 * needs present, each passing its check.
 *
 * @throws {TypeError} A missing, unexpected or mistyped field.
 * @throws {RangeError} A field over its limit.
 */
export function checkFields(
  obj: Record<string, unknown>,
  spec: Record<string, Check>,
  prefix = "",
): void {
  // for…in, not Object.keys or entries: no array per message. `obj` comes from JSON.parse and
  // `spec` is a literal, so neither has enumerable inherited keys.
  for (const key in obj) {
    // Object.hasOwn, not `in`: inherited names such as "constructor" are not fields.
    if (!Object.hasOwn(spec, key) && !(prefix === "" && key === "type")) {
      throw new TypeError(`Invalid field ${fieldLabel(prefix + key)}: not part of this message`);
    }
  }
  for (const key in spec) {
    const check = spec[key];
    const value = obj[key];
    if (value === undefined) {
      if ("optional" in check) continue;
      throw new TypeError(`Missing field "${prefix}${key}"`);
    }
    check(value, prefix + key);
  }
}
