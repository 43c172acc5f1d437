/**
 * `chooseRendition()` from tables: stepping up within upFactor, staying within stayFactor, stepping
 * down fast on a low buffer or a slow last segment or an overdue one, no oscillation, clamping;
 * `ABR_DEFAULTS` and `inFlightCap()`.
 * @module
 */

import assert from "node:assert/strict";
import { ABR_DEFAULTS, chooseRendition, EwmaEstimator, inFlightCap } from "./abr.ts";

import { close } from "../tests/_abr.ts";

const LADDER = [
  { height: 240, bitrate: 400_000 },
  { height: 480, bitrate: 1_000_000 },
  { height: 720, bitrate: 2_500_000 },
];

const HIGH_BUFFER = 10;

Deno.test("`chooseRendition()` steps up only within upFactor of the estimate", () => {
  // 720p needs 2.5 Mbit/s: allowed up when 0.7 × estimate ≥ 2.5 M, i.e. estimate ≥ 3_571_428.6.
  const table: [number, number, number][] = [
    // [current, estimate, expected]
    [0, 0, 0],
    [0, 571_428, 0], // 0.7 × 571_428 = 399_999.6 < 400 k: index 0 anyway (lowest)
    [0, 1_428_571, 0], // 999_999.7 < 1 M
    [0, 1_428_572, 1], // 1_000_000.4 ≥ 1 M
    [0, 3_571_428, 1],
    [0, 3_571_429, 2],
    [1, 3_571_429, 2],
    [0, 100_000_000, 2],
  ];
  for (const [cur, estimate, want] of table) {
    assert.equal(
      chooseRendition(LADDER, cur, { estimate, bufferSeconds: HIGH_BUFFER }),
      want,
      `current ${cur}, estimate ${estimate}`,
    );
  }
});

Deno.test("`chooseRendition()` stays while the current rendition fits stayFactor", () => {
  // Staying on 720p needs 0.85 × estimate ≥ 2.5 M, i.e. estimate ≥ 2_941_176.5.
  const table: [number, number, number][] = [
    [2, 2_941_177, 2],
    [2, 2_941_176, 1], // drops to the highest that fits 0.85 × estimate
    [2, 1_176_471, 1], // 1 M ≤ 0.85 × 1_176_471
    [2, 1_176_470, 0], // two steps down
    [1, 1_176_471, 1],
    [1, 1_176_470, 0],
    [2, 0, 0],
  ];
  for (const [cur, estimate, want] of table) {
    assert.equal(
      chooseRendition(LADDER, cur, { estimate, bufferSeconds: HIGH_BUFFER }),
      want,
      `current ${cur}, estimate ${estimate}`,
    );
  }
});

Deno.test("`chooseRendition()` steps down fast when the buffer is low", () => {
  const low = ABR_DEFAULTS.lowBufferSeconds - 0.001;
  // Low buffer: the highest rendition ≤ 0.5 × estimate, from any current one.
  const table: [number, number, number][] = [
    // [current, estimate, expected]
    [2, 5_000_000, 2], // 2.5 M = 0.5 × 5 M
    [2, 4_999_999, 1],
    [2, 2_000_000, 1], // 1 M = 0.5 × 2 M
    [2, 1_999_999, 0], // two steps down at once
    [1, 0, 0],
    // Up from a low buffer only when the link carries twice the bit rate.
    [0, 1_999_999, 0],
    [0, 2_000_000, 1],
    [0, 4_999_999, 1],
    [0, 5_000_000, 2],
    [1, 100e6, 2],
  ];
  for (const [cur, estimate, want] of table) {
    assert.equal(
      chooseRendition(LADDER, cur, { estimate, bufferSeconds: low }),
      want,
      `current ${cur}, estimate ${estimate}`,
    );
    assert.equal(chooseRendition(LADDER, cur, { estimate, bufferSeconds: 0 }), want);
  }
  // Exactly at lowBufferSeconds is not low.
  assert.equal(
    chooseRendition(LADDER, 1, {
      estimate: 100e6,
      bufferSeconds: ABR_DEFAULTS.lowBufferSeconds,
    }),
    2,
  );
});

Deno.test("`chooseRendition()` never oscillates on a steady estimate", () => {
  for (let estimate = 100_000; estimate <= 6_000_000; estimate += 37_000) {
    for (let start = 0; start < LADDER.length; start++) {
      let cur = chooseRendition(LADDER, start, { estimate, bufferSeconds: HIGH_BUFFER });
      const settled = cur;
      for (let i = 0; i < 20; i++) {
        cur = chooseRendition(LADDER, cur, { estimate, bufferSeconds: HIGH_BUFFER });
        assert.equal(cur, settled, `estimate ${estimate}, start ${start}`);
      }
    }
  }
  // Between 480p and 720p: 480p from below, 720p kept from above (hysteresis).
  assert.equal(chooseRendition(LADDER, 0, { estimate: 3_200_000, bufferSeconds: 10 }), 1);
  assert.equal(chooseRendition(LADDER, 2, { estimate: 3_200_000, bufferSeconds: 10 }), 2);
});

Deno.test("`chooseRendition()` clamps the current index and rejects an empty list", () => {
  assert.equal(chooseRendition(LADDER, 99, { estimate: 3_000_000, bufferSeconds: 10 }), 2);
  assert.equal(chooseRendition(LADDER, -1, { estimate: 0, bufferSeconds: 10 }), 0);
  assert.equal(chooseRendition(LADDER, 1.5, { estimate: NaN, bufferSeconds: 10 }), 0);
  assert.equal(
    chooseRendition([{ height: 240, bitrate: 1e9 }], 0, { estimate: 1, bufferSeconds: 0 }),
    0,
  );
  assert.throws(
    () => chooseRendition([], 0, { estimate: 1, bufferSeconds: 1 }),
    (e: unknown) => e instanceof RangeError && /list is empty/.test(e.message),
  );
});

Deno.test("`ABR_DEFAULTS` has the documented values and is frozen", () => {
  assert.equal(ABR_DEFAULTS.fastHalfLife, 3);
  assert.equal(ABR_DEFAULTS.slowHalfLife, 9);
  assert.equal(ABR_DEFAULTS.upFactor, 0.7);
  assert.equal(ABR_DEFAULTS.stayFactor, 0.85);
  assert.ok(ABR_DEFAULTS.upFactor < ABR_DEFAULTS.stayFactor);
  assert.ok(Object.isFrozen(ABR_DEFAULTS));
});

Deno.test("chooseRendition() steps down at once when the last segment was slower than the current bit rate", () => {
  const ladder = [
    { height: 240, bitrate: 400_000 },
    { height: 480, bitrate: 1_000_000 },
    { height: 720, bitrate: 2_500_000 },
  ];
  const steady = { estimate: 50_000_000, bufferSeconds: 8 };
  // The averages still say 50 Mbit/s, but the last segment came at 0.9 Mbit/s.
  assert.equal(chooseRendition(ladder, 2, { ...steady, lastThroughput: 900_000 }), 0);
  assert.equal(chooseRendition(ladder, 2, { ...steady, lastThroughput: 1_500_000 }), 1);
  // At or above the current bit rate the last sample keeps it ...
  assert.equal(chooseRendition(ladder, 2, { ...steady, lastThroughput: 2_500_000 }), 2);
  assert.equal(chooseRendition(ladder, 1, { ...steady, lastThroughput: 1_200_000 }), 1);
  // ... and steps up only within upFactor of it (0.7 × 3.6 M ≥ 2.5 M).
  assert.equal(chooseRendition(ladder, 1, { ...steady, lastThroughput: 3_570_000 }), 1);
  assert.equal(chooseRendition(ladder, 1, { ...steady, lastThroughput: 3_580_000 }), 2);
  // With a low buffer too: 0.5 × 2 M fits 480p only, whatever the averages say ...
  assert.equal(
    chooseRendition(ladder, 0, { ...steady, bufferSeconds: 1, lastThroughput: 2_000_000 }),
    1,
  );
  // ... but a rendition the averages keep is kept (0.5 × 1.5 M would not fit 480p).
  assert.equal(
    chooseRendition(ladder, 1, { ...steady, bufferSeconds: 1, lastThroughput: 1_500_000 }),
    1,
  );
  // It never pushes the choice up.
  assert.equal(
    chooseRendition(ladder, 0, { estimate: 300_000, bufferSeconds: 8, lastThroughput: 200_000 }),
    0,
  );
});

Deno.test("`chooseRendition()` reaches the top from the second segment after one measured first segment", () => {
  // The sample testcard ladder (bits/s, made non-decreasing): 240p, 480p, 720p.
  const ladder = [
    { height: 240, bitrate: 346_171 },
    { height: 480, bitrate: 825_696 },
    { height: 720, bitrate: 2_407_403 },
  ];
  // Segment 0 goes at the default estimate's choice with an empty buffer model (Infinity).
  const first = chooseRendition(ladder, 2, {
    estimate: ABR_DEFAULTS.defaultEstimate,
    bufferSeconds: Infinity,
  });
  assert.equal(first, 1); // 825_696 ≤ 0.85 × 1 M
  // Its 206_424 bytes arrive within minSampleMs on loopback: 206_424 × 8 / 0.05 s.
  const e = new EwmaEstimator();
  e.sample(12, 206_424);
  close(e.estimate(), 33_027_840);
  // Segment 1 is chosen with 2 s buffered: low, but the link carries far more than 2 × 720p.
  assert.equal(chooseRendition(ladder, first, { estimate: e.estimate(), bufferSeconds: 2 }), 2);
  // A link at 4 Mbit/s starts at 480p and stays there while the buffer is short ...
  const slow = new EwmaEstimator();
  slow.sample(412, 206_424);
  assert.equal(chooseRendition(ladder, first, { estimate: slow.estimate(), bufferSeconds: 2 }), 1);
  // ... and steps up once 4 s are buffered (0.7 × 4 M ≥ 2.41 M).
  assert.equal(chooseRendition(ladder, 1, { estimate: slow.estimate(), bufferSeconds: 4 }), 2);
});

Deno.test("`inFlightCap()` is the rate a segment still on its way cannot have exceeded", () => {
  close(inFlightCap({ bytes: 250_000, ms: 2000 }), 1_000_000);
  // Clamped up to minSampleMs, like a sample.
  close(inFlightCap({ bytes: 1000, ms: 0 }), 160_000);
  assert.equal(inFlightCap(undefined), Infinity);
  assert.equal(inFlightCap({ bytes: 0, ms: 2000 }), Infinity);
  assert.equal(inFlightCap({ bytes: NaN, ms: 2000 }), Infinity);
  assert.equal(inFlightCap({ bytes: 1000, ms: Infinity }), Infinity);
});

Deno.test("`chooseRendition()` steps down while a segment is overdue, before its receipt", () => {
  // 720p's 2 s segment (625 kB) went 2 s ago and has not arrived: the link is below 2.5 Mbit/s.
  const overdue = { bytes: 625_000, ms: 2000 };
  const steady = { estimate: 5_000_000, bufferSeconds: 6, lastThroughput: 5_000_000 };
  assert.equal(chooseRendition(LADDER, 2, { ...steady, inFlight: overdue }), 1);
  // After 1.7 s it may still be a link at 2.94 Mbit/s, which 720p fits within stayFactor.
  assert.equal(
    chooseRendition(LADDER, 2, { ...steady, inFlight: { bytes: 625_000, ms: 1700 } }),
    2,
  );
  assert.equal(
    chooseRendition(LADDER, 2, { ...steady, inFlight: { bytes: 625_000, ms: 1800 } }),
    1,
  );
  // Far overdue: down to what the bound allows.
  assert.equal(
    chooseRendition(LADDER, 2, { ...steady, inFlight: { bytes: 625_000, ms: 9000 } }),
    0,
  );
  // A segment just sent says nothing.
  assert.equal(chooseRendition(LADDER, 2, { ...steady, inFlight: { bytes: 625_000, ms: 10 } }), 2);
  // It never pushes the choice up.
  assert.equal(
    chooseRendition(LADDER, 0, { estimate: 300_000, bufferSeconds: 6, inFlight: overdue }),
    0,
  );
});
