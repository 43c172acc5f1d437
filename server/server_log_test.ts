import { deepEqual, equal } from "node:assert/strict";
import { ServerLog } from "./server_log.ts";

function logWith(options: { burst?: number; perSecond?: number; textChars?: number } = {}) {
  const lines: string[] = [];
  let now = 0;
  const log = new ServerLog((line) => lines.push(line), {
    linesPerSecond: options.perSecond ?? 1,
    lineBurst: options.burst ?? 2,
    textChars: options.textChars ?? 8,
    now: () => now,
  });
  return { log, lines, advance: (ms: number) => void (now += ms) };
}

Deno.test("ServerLog.line() writes every line with control characters escaped", () => {
  const { log, lines } = logWith();
  log.line('join #1 "a"\njoin #2 "admin"\x1b[2J\r');
  deepEqual(lines, ['join #1 "a"\\njoin #2 "admin"\\x1b[2J\\r']);
});

Deno.test("ServerLog.text() quotes, escapes and cuts untrusted text to textChars", () => {
  const { log } = logWith({ textChars: 4 });
  equal(log.text("bob"), '"bob"');
  equal(log.text('a"\nb'), '"a\\"\\nb"');
  equal(log.text("x".repeat(1000)), '"xxxx"…(+996)');
});

Deno.test("ServerLog.limited() writes a burst per key, then counts what it suppresses", () => {
  const { log, lines, advance } = logWith({ burst: 2, perSecond: 1 });
  deepEqual([1, 2, 3, 4].map((n) => log.limited(7, `reject #7 ${n}`)), [true, true, false, false]);
  equal(log.limited(8, "reject #8"), true, "another key has its own burst");
  advance(1000);
  equal(log.limited(7, "reject #7 5"), true);
  deepEqual(lines, [
    "reject #7 1",
    "reject #7 2",
    "reject #8",
    "reject #7 5 (2 similar lines of #7 suppressed)",
  ]);
  equal(log.limited(7, "reject #7 6"), false);
  equal(log.forget(7), 1);
  equal(log.forget(7), 0);
  equal(log.forget(99), 0);
});

Deno.test("ServerLog.prune() writes the count of lines suppressed for a key gone quiet", () => {
  const { log, lines, advance } = logWith({ burst: 1, perSecond: 1 });
  log.limited("127.0.0.9", "refused 127.0.0.9");
  log.limited("127.0.0.9", "refused 127.0.0.9");
  log.limited("127.0.0.9", "refused 127.0.0.9");
  log.prune();
  equal(lines.length, 1, "not refilled yet: nothing to say");
  advance(2000);
  log.prune();
  deepEqual(lines.slice(1), ["127.0.0.9: 2 similar lines suppressed"]);
  log.prune();
  equal(lines.length, 2);
});
