import { deepEqual, equal, ok } from "node:assert/strict";
import { ERROR_CODES, isErrorCode, PeerstreamError } from "./errors.ts";

Deno.test("ERROR_CODES lists each code once, in SCREAMING_SNAKE_CASE", () => {
  equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) ok(/^[A-Z]+(_[A-Z]+)*$/.test(code), code);
  // The codes the client's connection and the server's protocol checks rely on.
  for (const code of ["UNAVAILABLE", "BAD_FRAME", "FRAME_TOO_LARGE", "HANDSHAKE_TIMEOUT"]) {
    ok(isErrorCode(code), code);
  }
});

Deno.test("isErrorCode() takes exactly the listed codes", () => {
  const table: [unknown, boolean][] = [
    ["UNAVAILABLE", true],
    ["INTERNAL", true],
    ["unavailable", false],
    [" UNAVAILABLE", false],
    ["", false],
    ["toString", false],
    [undefined, false],
    [null, false],
    [0, false],
    [["UNAVAILABLE"], false],
  ];
  for (const [value, expected] of table) equal(isErrorCode(value), expected, String(value));
  for (const code of ERROR_CODES) ok(isErrorCode(code), code);
});

Deno.test("PeerstreamError carries its code, message, name and cause", () => {
  const cause = new Deno.errors.ConnectionRefused("os error 111");
  const error = new PeerstreamError(
    "UNAVAILABLE",
    "Cannot connect to 127.0.0.1:7878: connection refused; is `peerstream serve` running there?",
    { cause },
  );
  ok(error instanceof Error);
  deepEqual(
    { name: error.name, code: error.code, cause: error.cause },
    { name: "PeerstreamError", code: "UNAVAILABLE", cause },
  );
  equal(String(error).split(": ")[0], "PeerstreamError");
});
