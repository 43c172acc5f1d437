import { deepEqual, equal, ok } from "node:assert/strict";
import { PLAYOUT_DEFAULTS, type PlayoutConfig, PlayoutQueue, shouldHold } from "./playout.ts";

function close(actual: number, expected: number, label = "") {
  ok(Math.abs(actual - expected) < 1e-9, `${label} ${actual} != ${expected}`);
}

/** Pushes one whole segment of `bytes` bytes in `pieces` chunks. */
function pushSegment(queue: PlayoutQueue, start: number, bytes: number, pieces = 1) {
  queue.segment({ start, duration: 2, bytes });
  const size = Math.ceil(bytes / pieces);
  for (let at = 0; at < bytes; at += size) {
    ok(queue.push(new Uint8Array(Math.min(size, bytes - at))));
  }
}

Deno.test("PlayoutQueue.seconds counts media time from what was taken to what arrived", () => {
  const queue = new PlayoutQueue(10);
  equal(queue.seconds, 0);
  equal(queue.takenEnd, 10);
  queue.segment({ start: 10, duration: 2, bytes: 1000 });
  queue.push(new Uint8Array(250));
  close(queue.seconds, 0.5);
  queue.push(new Uint8Array(750));
  close(queue.seconds, 2);
  pushSegment(queue, 12, 4000, 4);
  close(queue.seconds, 4);
  equal(queue.bytes, 5000);
});

Deno.test("PlayoutQueue.take() returns pieces in order, with their media end, split at max", () => {
  const queue = new PlayoutQueue(0);
  queue.segment({ start: 0, duration: 2, bytes: 100 });
  const a = Uint8Array.from({ length: 60 }, (_, i) => i);
  const b = Uint8Array.from({ length: 40 }, (_, i) => 60 + i);
  queue.push(a);
  queue.push(b);
  const pieces = [];
  for (let p = queue.take(25); p !== undefined; p = queue.take(25)) pieces.push(p);
  deepEqual(pieces.map((p) => p.data.length), [25, 25, 10, 25, 15]);
  deepEqual(pieces.map((p) => Math.round(p.mediaEnd * 100) / 100), [0.5, 1, 1.2, 1.7, 2]);
  deepEqual([...pieces.flatMap((p) => [...p.data])], Array.from({ length: 100 }, (_, i) => i));
  equal(queue.bytes, 0);
  equal(queue.seconds, 0);
  equal(queue.take(25), undefined);
  equal(queue.take(0), undefined);
});

Deno.test("PlayoutQueue.push() refuses past maxSeconds or maxBytes, exactly at the limit accepted", () => {
  const config: PlayoutConfig = { ...PLAYOUT_DEFAULTS, maxSeconds: 4, maxBytes: 1000 };
  const seconds = new PlayoutQueue(0, config);
  seconds.segment({ start: 0, duration: 2, bytes: 100 });
  ok(seconds.push(new Uint8Array(100)));
  seconds.segment({ start: 2, duration: 2, bytes: 100 });
  ok(seconds.push(new Uint8Array(100))); // exactly 4 s
  seconds.segment({ start: 4, duration: 2, bytes: 100 });
  equal(seconds.push(new Uint8Array(1)), false); // 4.02 s
  close(seconds.seconds, 4);
  equal(seconds.bytes, 200);
  // Taking makes room again.
  seconds.take(100);
  ok(seconds.push(new Uint8Array(1)));

  const bytes = new PlayoutQueue(0, config);
  bytes.segment({ start: 0, duration: 2, bytes: 2000 });
  ok(bytes.push(new Uint8Array(1000)));
  equal(bytes.push(new Uint8Array(1)), false);
  equal(bytes.bytes, 1000);
});

Deno.test("PlayoutQueue stays linear: 100,000 chunks in and out", () => {
  const queue = new PlayoutQueue(0, { ...PLAYOUT_DEFAULTS, maxSeconds: Infinity });
  const started = performance.now();
  queue.segment({ start: 0, duration: 2000, bytes: 100_000 * 10 });
  for (let i = 0; i < 100_000; i++) queue.push(new Uint8Array(10));
  let taken = 0;
  for (let p = queue.take(10); p !== undefined; p = queue.take(10)) taken += p.data.length;
  equal(taken, 1_000_000);
  close(queue.takenEnd, 2000);
  // Generous: a quadratic queue takes minutes here.
  ok(performance.now() - started < 5_000);
});

Deno.test("PlayoutQueue.end() and clear(): drained after the rest is taken; clear drops all", () => {
  const queue = new PlayoutQueue(0);
  pushSegment(queue, 0, 100);
  queue.end();
  equal(queue.ended, true);
  equal(queue.drained, false);
  queue.take(1000);
  equal(queue.drained, true);

  const other = new PlayoutQueue(4);
  pushSegment(other, 4, 100);
  pushSegment(other, 6, 100);
  other.clear();
  equal(other.bytes, 0);
  equal(other.seconds, 0);
  equal(other.takenEnd, 8);
  equal(other.take(10), undefined);
});

Deno.test("shouldHold() holds from holdSeconds, releases under releaseSeconds, always when paused", () => {
  const { holdSeconds: hold, releaseSeconds: release } = PLAYOUT_DEFAULTS;
  equal(hold, 10);
  equal(release, 4);
  const table: [number, boolean, boolean, boolean][] = [
    // [queued, held, userPaused, expected]
    [0, false, false, false],
    [hold - 0.001, false, false, false],
    [hold, false, false, true],
    [hold + 5, false, false, true],
    [hold - 0.001, true, false, true], // stays held in between (hysteresis)
    [release, true, false, true],
    [release - 0.001, true, false, false],
    [0, true, false, false],
    [0, false, true, true],
    [0, true, true, true],
  ];
  for (const [queuedSeconds, held, userPaused, want] of table) {
    equal(
      shouldHold({ queuedSeconds, held, userPaused }),
      want,
      `queued ${queuedSeconds}, held ${held}, paused ${userPaused}`,
    );
  }
});

Deno.test("PLAYOUT_DEFAULTS fit the server's 6 s lead: hold above lead + segment, max above hold + in flight", () => {
  const lead = 6;
  const segment = 2;
  const inFlight = 2 * segment;
  ok(PLAYOUT_DEFAULTS.holdSeconds > lead + segment);
  ok(PLAYOUT_DEFAULTS.releaseSeconds >= segment);
  ok(PLAYOUT_DEFAULTS.maxSeconds >= PLAYOUT_DEFAULTS.holdSeconds + inFlight);
  ok(Object.isFrozen(PLAYOUT_DEFAULTS));
});
