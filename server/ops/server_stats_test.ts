import { deepEqual, equal } from "node:assert/strict";
import { BucketCounts, limitOfCode, ServerStats } from "./server_stats.ts";

Deno.test("BucketCounts.observe() puts a value at a bound in that bucket, past the last in +Inf", () => {
  const h = new BucketCounts([0.1, 1]);
  for (const v of [0, 0.1, 0.1000001, 1, 1.5, 1e9]) h.observe(v);
  deepEqual(h.counts, [2, 2, 2]);
  deepEqual(h.cumulative(), [[0.1, 2], [1, 4], [Infinity, 6]]);
  equal(h.count, 6);
  equal(h.sum, 0 + 0.1 + 0.1000001 + 1 + 1.5 + 1e9);
});

Deno.test("BucketCounts with no observation gives zero everywhere", () => {
  deepEqual(new BucketCounts([1]).cumulative(), [[1, 0], [Infinity, 0]]);
});

Deno.test("ServerStats.refuse() counts the code and the limit it stands for, if any", () => {
  const stats = new ServerStats();
  stats.refuse("INBOX_FULL");
  stats.refuse("INBOX_FULL");
  stats.refuse("UNKNOWN_PEER");
  stats.refuse("RATE_LIMITED");
  deepEqual([...stats.refused], [["INBOX_FULL", 2], ["UNKNOWN_PEER", 1], ["RATE_LIMITED", 1]]);
  deepEqual([...stats.limits], [["relay_budget", 2]], "RATE_LIMITED is counted where it happens");
  equal(limitOfCode("SERVER_FULL"), undefined);
  equal(limitOfCode("FRAME_TOO_LARGE"), "frame_size");
});

Deno.test("ServerStats.copy() is a moment: later counts do not change it", () => {
  const stats = new ServerStats();
  stats.segment(0.002);
  stats.relayed++;
  stats.limit("connections");
  const copy = stats.copy();
  stats.segment(3);
  stats.relayed++;
  stats.limit("connections");
  deepEqual(
    [copy.segments, copy.relayed, copy.limits.get("connections"), copy.pacingLag.count],
    [1, 1, 1, 1],
  );
  deepEqual(copy.pacingLag.cumulative().at(-1), [Infinity, 1]);
  equal(stats.pacingLag.count, 2);
});
