import { deepEqual, equal, ok } from "node:assert/strict";
import { lineShape, ServerLog } from "./server_log.ts";
import { formatJson } from "./log_format.ts";

function logWith(
  options: {
    burst?: number;
    perSecond?: number;
    textChars?: number;
    total?: number;
    totalBurst?: number;
    maxSummaries?: number;
    maxKeys?: number;
    json?: boolean;
  } = {},
) {
  const lines: string[] = [];
  let now = 0;
  const log = new ServerLog((line) => lines.push(line), {
    linesPerSecond: options.perSecond ?? 1,
    lineBurst: options.burst ?? 2,
    textChars: options.textChars ?? 8,
    totalLinesPerSecond: options.total ?? 1000,
    totalLineBurst: options.totalBurst ?? 1000,
    windowMs: 10_000,
    maxSummaries: options.maxSummaries ?? 10,
    maxKeys: options.maxKeys ?? 10_000,
    now: () => now,
    wallClock: () => Date.UTC(2026, 11, 7, 6, 0, 0) + now,
    format: options.json ? formatJson : undefined,
  });
  return { log, lines, advance: (ms: number) => void (now += ms) };
}

Deno.test("ServerLog.line() writes every line with control and invisible characters escaped", () => {
  const { log, lines } = logWith();
  log.line('join #1 "a"\njoin #2 "admin"\x1b[2J\r\u202e\u200b\ufeff');
  deepEqual(lines, ['join #1 "a"\\njoin #2 "admin"\\x1b[2J\\r\\u202e\\u200b\\ufeff']);
});

Deno.test("ServerLog.text() quotes, escapes and cuts untrusted text to textChars", () => {
  const { log } = logWith({ textChars: 4 });
  equal(log.text("bob"), '"bob"');
  equal(log.text('a"\nb'), '"a\\"\\nb"');
  equal(log.text("x".repeat(1000)), '"xxxx"…(+996)');
});

Deno.test("ServerLog.limited() writes a burst per key, then holds lines back and counts them", () => {
  const { log, lines, advance } = logWith({ burst: 2, perSecond: 1 });
  deepEqual([1, 2, 3, 4].map((n) => log.limited(7, `reject #7 ${n}`)), [true, true, false, false]);
  equal(log.limited(8, "reject #8"), true, "another key has its own burst");
  advance(1000);
  equal(log.limited(7, "reject #7 5"), true, "a refilled token writes at once");
  deepEqual(lines, ["reject #7 1", "reject #7 2", "reject #8", "reject #7 5"]);
  equal(log.limited(7, "reject #7 6"), false);
  equal(log.forget(7), 3, "three held back, none summarised yet");
  equal(log.forget(7), 0);
  equal(log.forget(99), 0);
});

Deno.test("ServerLog.flush() writes one summary per key once its window has passed", () => {
  const { log, lines, advance } = logWith({ burst: 1, perSecond: 0.001 });
  log.limited("refused 10.0.0.7", "refused 10.0.0.7: SERVER_FULL 1");
  for (let n = 2; n <= 2000; n++) {
    log.limited("refused 10.0.0.7", `refused 10.0.0.7: SERVER_FULL ${n}`);
  }
  advance(9_999);
  log.flush();
  equal(lines.length, 1, "the window has not passed: nothing to say yet");
  advance(1);
  log.flush();
  deepEqual(lines.slice(1), [
    "refused 10.0.0.7: SERVER_FULL 2000 (1,999 more like this in the last 10 s)",
  ]);
  advance(20_000);
  log.flush();
  equal(lines.length, 2, "a summary is written once");
  equal(log.forget("refused 10.0.0.7"), 0);
});

Deno.test("ServerLog caps lines across all keys: 10,000 addresses cost a bounded number of lines", () => {
  const { log, lines, advance } = logWith({
    burst: 5,
    perSecond: 1,
    total: 5,
    totalBurst: 20,
    maxSummaries: 3,
    maxKeys: 100,
  });
  for (let i = 0; i < 10_000; i++) log.limited(`10.${i >> 8}.${i & 255}.1`, `refused #${i}`);
  equal(lines.length, 20, "the total burst, not one line per address");
  advance(10_000);
  log.flush();
  equal(lines.length, 20 + 3 + 1, "3 summaries and one line for the rest");
  ok(lines[20].endsWith("(1 more like this in the last 10 s)"), lines[20]);
  equal(lines[23], "9,977 more lines from other sources held back in the last 10 s");
});

Deno.test("ServerLog.flush() summarises the largest runs first and counts the rest in one line", () => {
  const { log, lines, advance } = logWith({ burst: 0, perSecond: 0.001, maxSummaries: 2 });
  for (const [key, n] of [["a", 1], ["b", 5], ["c", 3], ["d", 2]] as const) {
    for (let i = 0; i < n; i++) log.limited(key, `from ${key}`);
  }
  advance(10_000);
  log.flush();
  deepEqual(lines, [
    "from b (5 more like this in the last 10 s)",
    "from c (3 more like this in the last 10 s)",
    "3 more lines from 2 other sources held back in the last 10 s",
  ]);
});

Deno.test("ServerLog.line() is held back and summarised by event once the total budget is spent", () => {
  const { log, lines, advance } = logWith({ total: 0.001, totalBurst: 2 });
  for (let i = 1; i <= 5; i++) log.line(`join #${i}`, { event: "join" });
  log.line("stopped", { event: "stop" });
  deepEqual(lines, ["join #1", "join #2"]);
  advance(10_000);
  log.flush();
  deepEqual(lines.slice(2), [
    "join #5 (3 more like this in the last 10 s)",
    "stopped (1 more like this in the last 10 s)",
  ]);
});

Deno.test("ServerLog.error() writes a stack on one line the first time, then only its number", () => {
  const { log, lines } = logWith({ burst: 10 });
  const fail = () => {
    throw new TypeError("x is undefined");
  };
  for (let i = 0; i < 2; i++) {
    try {
      fail();
    } catch (error) {
      log.error(1, "internal error #1", error);
    }
  }
  log.error(1, "internal error #1", "a string");
  equal(lines.length, 3);
  ok(
    /^internal error #1: TypeError: x is undefined \(stack 1: at fail .* ← at /.test(lines[0]),
    lines[0],
  );
  equal(lines[1], "internal error #1: TypeError: x is undefined (stack 1 above)");
  equal(lines[2], "internal error #1: a string (stack 2: )");
  ok(lines.every((line) => !line.includes("\n")));
});

Deno.test("ServerLog with formatJson writes one JSON object per line, kinds and counts as fields", () => {
  const { log, lines, advance } = logWith({ json: true, burst: 1, perSecond: 0.001 });
  log.limited("refused 127.0.0.1", 'refused "e\u202ev\u200be\nx"', {
    event: "refused",
    level: "warn",
    fields: { code: "SERVER_FULL" },
  });
  log.limited("refused 127.0.0.1", "refused again", { event: "refused", level: "warn" });
  advance(10_000);
  log.flush();
  equal(lines.length, 2);
  ok(lines.every((line) => !/[\n\u202e\u200b]/.test(line)), "nothing invisible or breaking");
  deepEqual(JSON.parse(lines[0]), {
    time: "2026-12-07T06:00:00.000Z",
    level: "warn",
    event: "refused",
    msg: 'refused "e\\u202ev\\u200be\\nx"',
    code: "SERVER_FULL",
  });
  deepEqual(JSON.parse(lines[1]), {
    time: "2026-12-07T06:00:10.000Z",
    level: "warn",
    event: "refused",
    msg: "refused again",
    repeated: 1,
    window_s: 10,
  });
});

Deno.test("lineShape() keys lines of one kind together: numbers, addresses and quoted text go", () => {
  const rows: [string, string][] = [
    ["", ""],
    ["cluster: lost Redis (timeout)", "cluster: lost Redis (timeout)"],
    [
      'cluster: cannot register "bob": timeout after 500 ms',
      'cluster: cannot register "": timeout after # ms',
    ],
    ['web: refused 10.0.0.7:5123: Host "a\\"b" bad', 'web: refused #: Host "" bad'],
    ["x".repeat(200), "x".repeat(80)],
  ];
  for (const [line, shape] of rows) equal(lineShape(line), shape, line);
});
