/**
 * Support of the `video/abr_*_test.ts` suites: a float comparison within a millionth.
 * @module
 */

import assert from "node:assert/strict";

/** Asserts `actual` equals `expected` within a millionth (relative, at least 1e-6). */
export function close(actual: number, expected: number, message?: string): void {
  assert.ok(
    Math.abs(actual - expected) < 1e-6 * Math.max(1, expected),
    message ?? `${actual} != ${expected}`,
  );
}
