import { deepEqual, equal } from "node:assert/strict";
import {
  escapeLogText,
  formatJson,
  formatText,
  lineFormatter,
  type LogRecord,
} from "./log_format.ts";

const AT = Date.UTC(2026, 11, 7, 6, 7, 37, 138);

function record(over: Partial<LogRecord> = {}): LogRecord {
  return { time: AT, level: "info", event: "connect", msg: "connect #1 127.0.0.1:41448", ...over };
}

Deno.test("escapeLogText() shows controls, bidi, separators and invisible characters as escapes", () => {
  const rows: [string, string][] = [
    ["", ""],
    ["plain", "plain"],
    ["a\nb\r\tc", "a\\nb\\r\\tc"],
    ["\x1b[2J\x7f\x85", "\\x1b[2J\\x7f\\x85"],
    ["\u202e\u2066\u200e\u061c", "\\u202e\\u2066\\u200e\\u061c"],
    ["\u2028\u2029", "\\u2028\\u2029"],
    ["\u200b\u200c\u200d\u2060\ufeff", "\\u200b\\u200c\\u200d\\u2060\\ufeff"],
    ["naïve 日本 👍", "naïve 日本 👍"],
  ];
  for (const [input, expected] of rows) {
    equal(escapeLogText(input), expected, JSON.stringify(input));
  }
});

Deno.test("formatText() writes the message, with its time when asked and a summary's count", () => {
  equal(formatText(record()), "connect #1 127.0.0.1:41448");
  equal(
    formatText(record(), { timestamps: true }),
    "2026-12-07 06:07:37.138 connect #1 127.0.0.1:41448",
  );
  equal(
    formatText(record({ msg: "refused x", repeated: { count: 1998, seconds: 10 } })),
    "refused x (1,998 more like this in the last 10 s)",
  );
  equal(formatText(record({ msg: "a\nb", fields: { x: 1 } })), "a\\nb", "fields are JSON only");
});

Deno.test("formatJson() writes one object: time, level, event, msg, then fields, never overriding them", () => {
  const line = formatJson(record({
    level: "warn",
    fields: { code: "SERVER_FULL", n: 2, ok: false, msg: "forged", time: "forged" },
    repeated: { count: 3, seconds: 11 },
  }));
  equal(
    line,
    '{"time":"2026-12-07T06:07:37.138Z","level":"warn","event":"connect","msg":"connect #1 127.0.0.1:41448","code":"SERVER_FULL","n":2,"ok":false,"repeated":3,"window_s":11}',
  );
});

Deno.test("formatJson() keeps untrusted strings escaped: nothing breaks, hides or reorders the line", () => {
  const hostile = 'eve\n{"level":"info"}\u202e\u200b\x1b\u2028\x85';
  const line = formatJson(record({ msg: `reject ${hostile}`, fields: { name: hostile } }));
  // No control or invisible character may be in the line.
  // deno-lint-ignore no-control-regex -- matching controls is the point
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\ufeff]/;
  equal(unsafe.test(line), false);
  const parsed = JSON.parse(line);
  const shown = 'eve\\n{"level":"info"}\\u202e\\u200b\\x1b\\u2028\\x85';
  deepEqual([parsed.msg, parsed.name, parsed.level], [`reject ${shown}`, shown, "info"]);
});

Deno.test("lineFormatter() picks the format", () => {
  equal(lineFormatter("json")(record()).startsWith('{"time":'), true);
  equal(lineFormatter("text")(record()), "connect #1 127.0.0.1:41448");
  equal(
    lineFormatter("text", { timestamps: true })(record()).startsWith("2026-12-07 06:07:37.138 "),
    true,
  );
});
