/**
 * The message codec against malformed input: every row of `tests/_malformed_messages.ts` throws
 * its built-in error class with its message fragment, hostile field names and types are cut to
 * 64 characters and escaped, and an unparseable JSON keeps its cause.
 * @module
 */

import { ok, throws } from "node:assert/strict";
import type { Frame } from "./frame.ts";
import { decodeMessage } from "./messages.ts";
import { MALFORMED } from "../tests/_malformed_messages.ts";
import { control } from "../tests/_message_frames.ts";

Deno.test("decodeMessage() throws the right error class and message when the frame is malformed", async (t) => {
  for (const row of MALFORMED) {
    await t.step(row.name, () => {
      throws(
        () => decodeMessage(row.frame),
        (error: unknown) => {
          if (!(error instanceof row.error) || error.constructor !== row.error) {
            throw new Error(`expected ${row.error.name}, got ${String(error)}`);
          }
          if (!error.message.includes(row.fragment)) {
            throw new Error(`expected "${row.fragment}" in "${error.message}"`);
          }
          return true;
        },
      );
    });
  }
});

Deno.test("decodeMessage() names at most 64 characters of a hostile field name or type, escaped", async (t) => {
  const huge = "k".repeat(1024 * 1024 - 64);
  const table: { name: string; frame: Frame; fragment: string }[] = [
    {
      name: "a field name of almost 1 MiB",
      frame: control(`{"type":"list","id":1,"${huge}":1}`),
      fragment: `Invalid field "${"k".repeat(64)}"…(+${
        huge.length - 64
      }): not part of this message`,
    },
    {
      name: "a type of almost 1 MiB",
      frame: control(`{"type":"${huge}"}`),
      fragment: `unknown type "${"k".repeat(64)}"…(+${huge.length - 64})`,
    },
    {
      name: "a field name with an escape sequence and a line break",
      frame: control('{"type":"list","id":1,"\\u001b[2J\\njoin #1":1}'),
      fragment: 'Invalid field "\\x1b[2J\\njoin #1": not part of this message',
    },
    {
      name: "a nested field name of 100 characters",
      frame: control(
        `{"type":"videos","re":1,"videos":[{"title":"t","heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1,"${
          "x".repeat(100)
        }":1}]}`,
      ),
      fragment: `"videos[0].${"x".repeat(54)}"…(+46): not part of this message`,
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => decodeMessage(row.frame),
        (error: unknown) => {
          ok(error instanceof TypeError, String(error));
          ok(error.message.length < 200, `${error.message.length} characters`);
          // deno-lint-ignore no-control-regex -- no control may reach a log or a terminal
          ok(!/[\u0000-\u001f]/.test(error.message), JSON.stringify(error.message));
          ok(error.message.includes(row.fragment), `expected ${row.fragment} in ${error.message}`);
          return true;
        },
      );
    });
  }
});

Deno.test("decodeMessage() keeps the cause when the JSON does not parse", () => {
  throws(
    () => decodeMessage(control("{")),
    (error: unknown) => error instanceof SyntaxError && error.cause instanceof SyntaxError,
  );
});
