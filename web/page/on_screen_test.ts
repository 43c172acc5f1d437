import { deepEqual, equal } from "node:assert/strict";
import { LANDING_GIVE_UP_MS, OnScreenFrame } from "./on_screen.ts";

Deno.test("OnScreenFrame.position() moves the last frame on while playing, not once frozen or paused", () => {
  const frames = new OnScreenFrame();
  equal(frames.position(1_000, true, 1), undefined);
  frames.framed(1_000, 10);
  // [now, playing, rate, position]
  const cases: [number, boolean, number, number][] = [
    [1_000, true, 1, 10],
    [1_100, true, 1, 10.1],
    [1_200, true, 1.05, 10.21],
    [1_249, false, 1, 10],
    // 250 ms without a new frame: the picture is frozen where it is.
    [1_250, true, 1, 10],
    [5_000, true, 1, 10],
  ];
  for (const [now, playing, rate, position] of cases) {
    equal(frames.position(now, playing, rate)?.toFixed(3), position.toFixed(3), `${now}`);
  }
});

Deno.test("OnScreenFrame.framed() tells a landing once, with the first frame near its target", () => {
  const frames = new OnScreenFrame();
  frames.framed(500, 3);
  frames.asked(1_000, 20);
  equal(frames.position(1_000, true, 1), undefined, "the frame before the seek no longer counts");
  equal(frames.landing(1_100), true);
  equal(frames.framed(1_200, 3.04), undefined, "an old frame still on its way");
  deepEqual(frames.framed(1_700, 19.6), { askedAt: 1_000, shownAt: 1_700 });
  equal(frames.landing(1_700), false);
  equal(frames.framed(1_740, 19.64), undefined, "told once");
});

Deno.test("OnScreenFrame.landing() gives up on a frame that never shows", () => {
  const frames = new OnScreenFrame();
  frames.asked(1_000, 20);
  equal(frames.landing(1_000 + LANDING_GIVE_UP_MS), true);
  equal(frames.landing(1_001 + LANDING_GIVE_UP_MS), false);
});
