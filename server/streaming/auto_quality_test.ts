import { deepEqual, equal } from "node:assert/strict";
import { AutoQuality, type AutoSwitch } from "./auto_quality.ts";

/** A ladder whose 720p asks less than 480p: ABR must see it at 480p's rate. */
const LADDER = [
  { height: 240, bitrate: 400_000 },
  { height: 480, bitrate: 2_000_000 },
  { height: 720, bitrate: 1_500_000 },
];

/** A receipt of a 2 s segment of `bitsPerSecond` that took 1 s. */
function sample(bitsPerSecond: number) {
  return { ms: 1000, bytes: bitsPerSecond / 8, mediaSeconds: 2 };
}

Deno.test("AutoQuality.initial() starts a new connection from the default estimate, a measured one from its estimate", () => {
  const measured = {};
  const first = new AutoQuality(measured, LADDER);
  equal(first.canEstimate(), false);
  equal(first.initial(), 0, "1 Mbit/s by default: 240p");
  first.sample(sample(10_000_000));
  equal(first.canEstimate(), true);
  // The estimate is kept per connection, across its streams.
  const again = new AutoQuality(measured, LADDER);
  equal(again.canEstimate(), true);
  equal(again.initial(), 2, "10 Mbit/s measured: 720p");
  const other = new AutoQuality({}, LADDER);
  equal(other.canEstimate(), false);
  equal(other.initial(), 0);
});

Deno.test("AutoQuality.choose() reports a change with what it was decided from, and nothing when it stays", () => {
  const auto = new AutoQuality({}, LADDER);
  auto.sample(sample(10_000_000));
  const changes: AutoSwitch[] = [];
  const onSwitch = (change: AutoSwitch) => changes.push(change);
  equal(auto.choose(0, 5, { bufferSeconds: 10, inFlight: undefined, onSwitch }), 2);
  equal(auto.choose(2, 6, { bufferSeconds: 10, inFlight: undefined, onSwitch }), 2);
  // A segment on its way at 400 kbit/s bounds the estimate: back to 240p at once.
  const inFlight = { bytes: 100_000, ms: 2000 };
  equal(auto.choose(2, 7, { bufferSeconds: 10, inFlight, onSwitch }), 0);
  equal(auto.choose(0, 8, { bufferSeconds: 10, inFlight: undefined }), 2, "no onSwitch: no report");
  deepEqual(changes, [
    {
      index: 5,
      from: 240,
      to: 720,
      estimate: 10_000_000,
      bufferSeconds: 10,
      lastThroughput: 10_000_000,
      inFlight: undefined,
      inFlightCap: Infinity,
    },
    {
      index: 7,
      from: 720,
      to: 240,
      estimate: 10_000_000,
      bufferSeconds: 10,
      lastThroughput: 10_000_000,
      inFlight,
      inFlightCap: 400_000,
    },
  ]);
});

Deno.test("AutoQuality.choose() sees a rendition at no less than the rate of the one below it", () => {
  const auto = new AutoQuality({}, LADDER);
  auto.sample(sample(2_500_000));
  // Stepping up takes 0.7 × 2.5 = 1.75 Mbit/s: 720p asks 1.5 but counts as 480p's 2.
  equal(auto.choose(0, 1, { bufferSeconds: 10, inFlight: undefined }), 0);
  // Staying takes 0.85 × 2.5 = 2.125 Mbit/s: 720p (as 2) stays.
  equal(auto.choose(2, 1, { bufferSeconds: 10, inFlight: undefined }), 2);
});
