import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  DEFAULT_LIMITS,
  KeyedBuckets,
  parseLimits,
  remoteTimeoutOf,
  TokenBucket,
} from "./limits.ts";
import { MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { DELIVER_OVERHEAD_BYTES } from "./community/relay.ts";

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

Deno.test("DEFAULT_LIMITS keep relayed messages within the recipient's queue and a sealed message within every budget", () => {
  const l = DEFAULT_LIMITS;
  // A deliver frame carries the sealed body plus at most DELIVER_OVERHEAD_BYTES of header and JSON.
  const largest = l.maxSealedBytes + DELIVER_OVERHEAD_BYTES;
  ok(largest <= MAX_FRAME_BYTES, "the largest deliver fits a frame");
  ok(largest <= l.relayPairBytes, "one largest message fits a sender's budget");
  ok(l.relayPairBytes < l.relayRecipientBytes, "one sender cannot fill an inbox");
  ok(l.relayPairMessages < l.relayRecipientMessages);
  ok(l.relayRecipientBytes * 2 <= l.maxQueuedControlBytes, "relay uses at most half the queue");
  ok(l.messageBurst >= l.messagesPerSecond);
  ok(l.keepaliveMs < l.idleMs);
  ok(l.handshakeMs < l.idleMs);
  ok(l.maxConnectionsPerAddress <= l.maxConnections);
  ok(l.helloBurstPerAddress >= l.maxRefusedHellos, "one connection can use all its attempts");
});

Deno.test("parseLimits() reads known limits and refuses unknown ones, including the protocol's fixed sizes", () => {
  deepEqual(parseLimits('{"handshakeMs": 500, "maxConnectionsPerAddress": 2}'), {
    handshakeMs: 500,
    maxConnectionsPerAddress: 2,
  });
  deepEqual(parseLimits(undefined), {});
  deepEqual(parseLimits("  "), {});
  // The frame size and name length are the protocol's: a server cannot change them.
  for (const key of ["maxFrameBytes", "maxNameLength", "nope"]) {
    throws(
      () => parseLimits(`{"${key}": 1}`),
      (e: unknown) => e instanceof SyntaxError && e.message.includes(`unknown limit "${key}"`),
    );
  }
  throws(() => parseLimits('{"handshakeMs": -1}'), RangeError);
  throws(() => parseLimits('{"handshakeMs": 1.5}'), RangeError);
  throws(() => parseLimits("[]"), SyntaxError);
});

Deno.test("KeyedBuckets.take() keeps one bucket per key and prune() forgets refilled ones", () => {
  const buckets = new KeyedBuckets<string>(4, { burst: 2 });
  deepEqual([buckets.take("a", 0), buckets.take("a", 0), buckets.take("a", 0)], [
    true,
    true,
    false,
  ]);
  equal(buckets.take("b", 0), true, "another key has its own burst");
  equal(buckets.size, 2);
  buckets.prune(250); // a: 1 token of 2, b: 2 of 2
  equal(buckets.size, 1);
  deepEqual([buckets.take("a", 250), buckets.take("a", 250)], [true, false]);
  buckets.prune(10_000);
  equal(buckets.size, 0);
});

Deno.test("KeyedBuckets.take() forgets the oldest key beyond maxKeys", () => {
  const buckets = new KeyedBuckets<number>(1, { burst: 1, maxKeys: 2 });
  equal(buckets.take(1, 0), true);
  equal(buckets.take(2, 0), true);
  equal(buckets.take(3, 0), true);
  equal(buckets.size, 2);
  equal(buckets.take(2, 0), false, "key 2 is still tracked");
  equal(buckets.take(1, 0), true, "key 1 was forgotten and starts full");
});

Deno.test("remoteTimeoutOf() waits for another node at least 5 s past the receipt deadline, never under 30 s", () => {
  const cases: [Partial<typeof DEFAULT_LIMITS>, number][] = [
    [{}, 35_000],
    [{ receiptTimeoutMs: 2_000 }, 30_000],
    [{ receiptTimeoutMs: 25_000 }, 30_000],
    [{ receiptTimeoutMs: 25_001 }, 30_001],
    [{ receiptTimeoutMs: 60_000 }, 65_000],
  ];
  for (const [limits, want] of cases) equal(remoteTimeoutOf(limits), want, JSON.stringify(limits));
});

Deno.test("DEFAULT_LIMITS: the receipt deadline is below the client's 60 s request timeout", () => {
  ok(DEFAULT_LIMITS.receiptTimeoutMs < 60_000);
  deepEqual(parseLimits('{"receiptTimeoutMs": 2000}'), { receiptTimeoutMs: 2000 });
});
