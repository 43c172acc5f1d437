/**
 * The connection's error classes: `isPeerGone()` for errors that mean the peer went away, and
 * `isProtocolViolation()` for the codes that close a connection for breaking the protocol.
 * @module
 */

import { equal } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { isPeerGone, isProtocolViolation, protocolViolation } from "./connection.ts";

Deno.test("isPeerGone() is true for errors that mean the peer went away", () => {
  const gone = [
    Deno.errors.BrokenPipe,
    Deno.errors.ConnectionReset,
    Deno.errors.ConnectionAborted,
    Deno.errors.BadResource,
    Deno.errors.Interrupted,
    Deno.errors.NotConnected,
    Deno.errors.UnexpectedEof,
  ];
  for (const ErrorClass of gone) equal(isPeerGone(new ErrorClass("x")), true, ErrorClass.name);
});

Deno.test("isPeerGone() is false for other errors and non-errors", () => {
  const other: unknown[] = [
    new Error("x"),
    new TypeError("x"),
    new Deno.errors.PermissionDenied("x"),
    new Deno.errors.TimedOut("x"),
    new Deno.errors.ConnectionRefused("x"),
    new Deno.errors.NotFound("x"),
    protocolViolation("x"),
    undefined,
    null,
    "BrokenPipe",
    { name: "BrokenPipe" },
  ];
  for (const value of other) equal(isPeerGone(value), false, String(value));
});

Deno.test("isProtocolViolation() is true only for the codes that close a connection for breaking the protocol", () => {
  const table: [unknown, boolean][] = [
    [protocolViolation("x"), true],
    [protocolViolation("x", { code: "FRAME_TOO_LARGE" }), true],
    [protocolViolation("x", { code: "HANDSHAKE_TIMEOUT" }), true],
    [new PeerstreamError("BAD_FRAME", "x"), true],
    [new PeerstreamError("UNAVAILABLE", "x"), false],
    [new PeerstreamError("INTERNAL", "x"), false],
    [new PeerstreamError("VIDEO_FAILED", "x"), false],
    [new SyntaxError("x"), false],
    [{ code: "BAD_FRAME", message: "x" }, false],
    [undefined, false],
  ];
  for (const [value, expected] of table) equal(isProtocolViolation(value), expected, String(value));
  equal(protocolViolation("x").code, "BAD_FRAME", "the default code");
});
