/**
 * The ABR policy in a simulated stream over a link whose rate follows a schedule (the bench's
 * ladder): it settles without oscillating, steps down at the next turn after a drop, stalls less
 * after a deep drop, and steps up within 3 segments after a rise.
 * @module
 */

import assert from "node:assert/strict";
import { chooseRendition, EwmaEstimator } from "./abr.ts";

/** The bench's ladder (scenario 16's title, bits/s): 240p, 480p, 720p. */
const SHAPED_LADDER = [
  { height: 240, bitrate: 330_000 },
  { height: 480, bitrate: 807_000 },
  { height: 720, bitrate: 2_353_000 },
];

/** A rate from a moment on: seconds, bits/s. */
type RateStep = [at: number, bitsPerSecond: number];

/** When a transfer of `bits` that begins at `from` (s) ends on a link that follows `steps`. */
function transferEnd(steps: readonly RateStep[], from: number, bits: number): number {
  let t = from;
  let left = bits;
  for (let i = 0; i < steps.length; i++) {
    const until = steps[i + 1]?.[0] ?? Infinity;
    if (until <= t) continue;
    const rate = steps[i][1];
    if (left <= (until - t) * rate) return t + left / rate;
    left -= (until - t) * rate;
    t = until;
  }
  return Infinity;
}

/** One segment of a simulated stream: when it went, began to move and arrived; its rendition. */
interface SimSegment {
  sentAt: number;
  began: number;
  end: number;
  index: number;
  bytes: number;
}

/** What a simulated stream did. */
interface SimRun {
  /** Each segment: when it went (s) and its rendition. */
  sent: { sentAt: number; index: number }[];
  /** Each change of rendition chosen: from when (s), and to which. */
  choices: { at: number; index: number }[];
  /** Seconds the player waited for a segment (playback starts 6 s after the first send). */
  stalledSeconds: number;
}

/**
 * The server's loop on a simulated link, as `stream_session.ts` runs it: 2 s segments, each sent
 * once playback is within the 6 s lead of it and at most 2 in flight, the link carrying them one
 * after the other; receipts feed the estimator as they come. When the oldest segment on its way
 * is not in by the next one's turn (`hold`, as the server does), the next is chosen at once from
 * the bound (`inFlight`) and then waits for that receipt to be chosen again; without `hold`, it
 * is chosen and sent at its turn.
 */
function simulate(
  steps: readonly RateStep[],
  options: { segments: number; inFlight?: boolean; hold?: boolean },
): SimRun {
  const D = 2;
  const LEAD = 6;
  const estimator = new EwmaEstimator();
  const sent: SimSegment[] = [];
  const choices: { at: number; index: number }[] = [];
  let fed = 0;
  let current = SHAPED_LADDER.length - 1;
  let last: number | undefined;
  let stalled = 0;
  const feed = (until: number) => {
    while (fed < sent.length && sent[fed].end <= until) {
      const s = sent[fed++];
      estimator.sample((s.end - s.began) * 1000, s.bytes, { mediaSeconds: D });
      last = (s.bytes * 8) / Math.max(s.end - s.began, 0.05);
    }
  };
  const choose = (at: number) => {
    const pending = sent[fed];
    const next = chooseRendition(SHAPED_LADDER, current, {
      estimate: estimator.estimate(),
      bufferSeconds: fed * D - (at - LEAD - stalled),
      lastThroughput: last,
      ...(options.inFlight !== false && pending !== undefined
        ? { inFlight: { bytes: pending.bytes, ms: (at - pending.began) * 1000 } }
        : {}),
    });
    if (next !== current) choices.push({ at, index: next });
    current = next;
  };
  for (let k = 0; k < options.segments; k++) {
    let sentAt = Math.max(k * D + stalled, sent[k - 2]?.end ?? 0, sent[k - 1]?.sentAt ?? 0);
    feed(sentAt);
    const pending = sent[fed];
    if (options.hold !== false && pending !== undefined && sentAt - pending.began >= D) {
      choose(Math.max(pending.began + D, sent[k - 1].sentAt));
      sentAt = pending.end;
      feed(sentAt);
    }
    choose(sentAt);
    const bytes = (SHAPED_LADDER[current].bitrate * D) / 8;
    const began = Math.max(sentAt, sent[k - 1]?.end ?? 0);
    const end = transferEnd(steps, began, bytes * 8);
    // Segment k plays from 6 s after the first send, plus the stalls so far.
    stalled += Math.max(0, end - (k * D + LEAD + stalled));
    sent.push({ sentAt, began, end, index: current, bytes });
  }
  return {
    sent: sent.map((s) => ({ sentAt: s.sentAt, index: s.index })),
    choices,
    stalledSeconds: stalled,
  };
}

/** Seconds from `at` to the first choice of a rendition that `fits`; NaN if none. */
function chosenAfter(run: SimRun, at: number, fits: (index: number) => boolean): number {
  const found = run.choices.find((c) => c.at >= at && fits(c.index));
  return found === undefined ? NaN : found.at - at;
}

Deno.test("the policy settles without oscillating on a steady link, on a rendition the link sustains", () => {
  for (const rate of [400_000, 600_000, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000]) {
    const run = simulate([[0, rate]], { segments: 60 });
    const settled = run.sent.slice(10);
    const heights = new Set(settled.map((s) => SHAPED_LADDER[s.index].height));
    assert.equal(heights.size, 1, `${rate} bits/s: ${[...heights]}`);
    assert.ok(SHAPED_LADDER[settled[0].index].bitrate <= rate, `${rate} bits/s: ${[...heights]}`);
    assert.equal(run.stalledSeconds, 0, `${rate} bits/s`);
  }
});

Deno.test("the policy chooses a lower rendition 2 s after a drop to 0.6× shows, at the next turn", () => {
  // 720p on 5 Mbit/s, then 0.6× 720p's rate at several phases of a segment's 2 s slot (the one
  // that went at 40 s arrives at 40.94 s at 5 Mbit/s): the first segment that crosses the link
  // after the drop shows it, and is not in by the next turn, 2 s after it went.
  const rate = 0.6 * SHAPED_LADDER[2].bitrate;
  const fits = (i: number) => SHAPED_LADDER[i].bitrate <= rate;
  for (const [drop, shows] of [[40, 40], [40.5, 40], [41, 42], [41.9, 42]]) {
    const run = simulate([[0, 5_000_000], [drop, rate]], { segments: 40 });
    assert.equal(run.sent.find((s) => s.sentAt >= 30 && s.sentAt < drop)?.index, 2);
    assert.equal(chosenAfter(run, drop, fits), shows + 2 - drop, `drop at ${drop}`);
    // Without the bound of the segment on its way (or the hold), the receipt tells it later.
    const before = simulate([[0, 5_000_000], [drop, rate]], {
      segments: 40,
      inFlight: false,
      hold: false,
    });
    assert.ok(chosenAfter(before, drop, fits) > shows + 2 - drop, `drop at ${drop}, before`);
  }
});

Deno.test("the policy stalls less after a deep drop by choosing the segment after the slow one from its receipt", () => {
  // 720p on 5 Mbit/s, then 0.6 Mbit/s (a quarter of 720p): the segment on its way needs 7.8 s.
  const steps: RateStep[] = [[0, 5_000_000], [41, 600_000]];
  const now = simulate(steps, { segments: 40 });
  const boundOnly = simulate(steps, { segments: 40, hold: false });
  const before = simulate(steps, { segments: 40, inFlight: false, hold: false });
  // The segment after the slow one is 240p (the bound alone says 480p, the old policy 720p).
  const after = (run: SimRun) => run.sent.find((s) => s.sentAt > 42)!.index;
  assert.deepEqual([after(now), after(boundOnly), after(before)], [0, 1, 2]);
  assert.ok(now.stalledSeconds < boundOnly.stalledSeconds, `${now.stalledSeconds}`);
  assert.ok(boundOnly.stalledSeconds < before.stalledSeconds, `${boundOnly.stalledSeconds}`);
});

Deno.test("the policy steps up within 3 segments after the link rises to 5× the rendition", () => {
  const run = simulate([[0, 600_000], [60, 3_000_000]], { segments: 60 });
  assert.equal(run.sent.find((s) => s.sentAt >= 50 && s.sentAt < 60)?.index, 0);
  const seconds = chosenAfter(run, 60, (i) => i > 0);
  assert.ok(seconds <= 6, `up after ${seconds} s`);
});
