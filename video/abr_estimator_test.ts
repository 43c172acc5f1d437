/**
 * `EwmaEstimator` (hls.js-style fast and slow EWMAs): the default before samples, exact constant
 * rates, clamped and ignored samples, the min of both averages, a fast drop and slow recovery,
 * samples weighed by media seconds, and a custom config.
 * @module
 */

import assert from "node:assert/strict";
import { ABR_DEFAULTS, type AbrConfig, EwmaEstimator } from "./abr.ts";

import { close } from "../tests/_abr.ts";

Deno.test("`EwmaEstimator.estimate()` returns the default before any sample", () => {
  const e = new EwmaEstimator();
  assert.equal(e.canEstimate(), false);
  assert.equal(e.estimate(), ABR_DEFAULTS.defaultEstimate);
});

Deno.test("`EwmaEstimator.estimate()` equals a constant rate exactly", () => {
  const e = new EwmaEstimator();
  e.sample(1000, 250_000);
  close(e.estimate(), 2_000_000);
  e.sample(2000, 500_000);
  e.sample(500, 125_000);
  close(e.estimate(), 2_000_000);
});

Deno.test("`EwmaEstimator.sample()` clamps short samples to minSampleMs", () => {
  const e = new EwmaEstimator();
  e.sample(0, 1000); // counted as 50 ms: 8000 bits / 0.05 s
  close(e.estimate(), 160_000);
  const f = new EwmaEstimator();
  f.sample(10, 1000);
  close(f.estimate(), 160_000);
});

Deno.test("`EwmaEstimator.sample()` ignores invalid samples", () => {
  const e = new EwmaEstimator();
  e.sample(NaN, 1000);
  e.sample(1000, -1);
  e.sample(Infinity, 1000);
  assert.equal(e.canEstimate(), false);
});

Deno.test("`EwmaEstimator.estimate()` is the min of fast and slow averages with hls.js weights", () => {
  const e = new EwmaEstimator();
  e.sample(3000, 3_000_000); // 8 Mbit/s for 3 s
  e.sample(3000, 750_000); // 2 Mbit/s for 3 s
  // Fast (half-life 3 s): weights 1/2 on the new value after bias correction.
  const fastAlpha = 0.5; // alpha^3 with alpha = 0.5^(1/3)
  const fastRaw = (8e6 * (1 - fastAlpha)) * fastAlpha + 2e6 * (1 - fastAlpha);
  const fast = fastRaw / (1 - fastAlpha ** 2);
  const slowA = Math.pow(0.5, 3 / 9);
  const slowRaw = 8e6 * (1 - slowA) * slowA + 2e6 * (1 - slowA);
  const slow = slowRaw / (1 - slowA ** 2);
  close(fast, 4_000_000);
  assert.ok(slow > fast);
  close(e.estimate(), 4_000_000);
});

Deno.test("`EwmaEstimator.estimate()` drops fast and recovers slowly", () => {
  const e = new EwmaEstimator();
  for (let i = 0; i < 10; i++) e.sample(1000, 1_000_000); // 8 Mbit/s
  e.sample(1000, 125_000); // 1 Mbit/s
  const afterDrop = e.estimate();
  assert.ok(afterDrop < 7_000_000, String(afterDrop));
  e.sample(1000, 1_000_000);
  assert.ok(e.estimate() < 8_000_000);
  assert.ok(e.estimate() > afterDrop);
});

/** A fast start, then a slow spell: three 2 s segments of 625 kB at 640 kbit/s (7.8 s each). */
function afterSlowSpell(): EwmaEstimator {
  const e = new EwmaEstimator();
  for (let i = 0; i < 5; i++) e.sample(20, 625_000, { mediaSeconds: 2 }); // a fast start
  for (let i = 0; i < 3; i++) e.sample(7_812.5, 625_000, { mediaSeconds: 2 });
  return e;
}

Deno.test("`EwmaEstimator.sample()` with mediaSeconds recovers within a few segments once the link is fast", () => {
  // [fast 83 kB segments after the spell, with mediaSeconds, estimate above (bits/s)]
  const table: [number, boolean, number][] = [
    [0, true, 0],
    [1, true, 5_000_000],
    [3, true, 10_000_000],
    [6, true, 12_000_000],
  ];
  for (const [segments, withMedia, above] of table) {
    const e = afterSlowSpell();
    assert.ok(e.estimate() < 1_100_000, `the spell brings it down: ${e.estimate()}`);
    for (let i = 0; i < segments; i++) {
      e.sample(50, 83_000, withMedia ? { mediaSeconds: 2 } : {}); // 13.3 Mbit/s
    }
    assert.ok(e.estimate() > above, `${segments} fast segments: ${e.estimate()} <= ${above}`);
  }
  // Weighed by transfer time alone (50 ms each), 16 s of playback at 13 Mbit/s left it below
  // what 720p needs to step up (2.5 Mbit/s / 0.7).
  const e = afterSlowSpell();
  for (let i = 0; i < 8; i++) e.sample(50, 83_000);
  assert.ok(e.estimate() < 2_500_000, String(e.estimate()));
});

Deno.test("`EwmaEstimator.sample()` weighs a transfer slower than its media by its transfer time", () => {
  const table: [string, number | undefined][] = [
    ["media shorter than the transfer", 2],
    ["media exactly the transfer", 7.8125],
    ["no media time", undefined],
    ["NaN", NaN],
    ["negative", -1],
    ["infinite", Infinity],
  ];
  const reference = afterSlowSpell();
  reference.sample(7_812.5, 625_000);
  for (const [name, mediaSeconds] of table) {
    const e = afterSlowSpell();
    e.sample(7_812.5, 625_000, { mediaSeconds });
    close(e.estimate(), reference.estimate(), name);
  }
});

Deno.test("`EwmaEstimator` honours a custom config", () => {
  const config: AbrConfig = { ...ABR_DEFAULTS, defaultEstimate: 123, minWeight: 2 };
  const e = new EwmaEstimator(config);
  e.sample(1000, 1000);
  assert.equal(e.estimate(), 123);
  e.sample(1000, 1000);
  close(e.estimate(), 8000);
});
