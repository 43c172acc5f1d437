import { deepEqual, equal, ok } from "node:assert/strict";
import { DEFAULT_LIMITS, TokenBucket } from "./limits.ts";
import { MAX_FRAME_BYTES } from "../protocol/frame.ts";

/** Takes `count` tokens at one instant and returns the results. */
function takeMany(bucket: TokenBucket, count: number, now: number): boolean[] {
  return Array.from({ length: count }, () => bucket.take(now));
}

// Rates and times are powers of two over 1000 ms (4/s, 125 ms, 250 ms), so the arithmetic is exact.

Deno.test("TokenBucket.take() gives exactly the burst at once, then refuses", () => {
  for (const burst of [1, 2, 5]) {
    const bucket = new TokenBucket(4, { burst, now: 0 });
    deepEqual(takeMany(bucket, burst + 1, 0), [...Array(burst).fill(true), false]);
    equal(bucket.take(0), false);
  }
});

Deno.test("TokenBucket.take() refuses every take when the burst is 0", () => {
  const bucket = new TokenBucket(4, { burst: 0, now: 0 });
  deepEqual(takeMany(bucket, 3, 0), [false, false, false]);
  equal(bucket.take(10_000), false);
});

Deno.test("TokenBucket.take() refills at the rate: one token per 1/rate second", () => {
  const bucket = new TokenBucket(4, { burst: 2, now: 1000 });
  deepEqual(takeMany(bucket, 3, 1000), [true, true, false]);
  equal(bucket.take(1125), false); // 0.5 token
  equal(bucket.take(1250), true); // 0.5 + 0.5 = 1 token, exactly at the boundary
  equal(bucket.take(1250), false);
  equal(bucket.take(1499), false); // just short of one token
  equal(bucket.take(1500), true);
  deepEqual(takeMany(bucket, 2, 2000), [true, true]); // 2 tokens after 500 ms
  equal(bucket.take(2000), false);
});

Deno.test("TokenBucket.take() never holds more than the burst after a long idle", () => {
  const bucket = new TokenBucket(4, { burst: 3, now: 0 });
  deepEqual(takeMany(bucket, 3, 0), [true, true, true]);
  deepEqual(takeMany(bucket, 4, 3_600_000), [true, true, true, false]);
  // Starts full and does not grow past the burst while untouched.
  const fresh = new TokenBucket(1000, { burst: 2, now: 0 });
  deepEqual(takeMany(fresh, 3, 60_000), [true, true, false]);
});

Deno.test("TokenBucket.take() sustains exactly the rate over a long run", () => {
  const bucket = new TokenBucket(8, { burst: 1, now: 0 });
  let granted = 0;
  // One attempt every 1/64 s for 10 s: 1 token at start, then 8 per second.
  for (let t = 0; t <= 10_000; t += 15.625) if (bucket.take(t)) granted++;
  equal(granted, 1 + 80);
});

Deno.test("DEFAULT_LIMITS are consistent with the protocol and with each other", () => {
  equal(DEFAULT_LIMITS.maxFrameBytes, MAX_FRAME_BYTES);
  ok(DEFAULT_LIMITS.maxSealedBytes < DEFAULT_LIMITS.maxFrameBytes);
  ok(DEFAULT_LIMITS.messageBurst >= DEFAULT_LIMITS.messagesPerSecond);
  ok(DEFAULT_LIMITS.keepaliveMs < DEFAULT_LIMITS.idleMs);
  ok(DEFAULT_LIMITS.maxConnectionsPerAddress <= DEFAULT_LIMITS.maxConnections);
});
