import { equal } from "node:assert/strict";
import { FakeClock } from "../session/_testing.ts";
import { CLOCK_FIRST_SAMPLES, CLOCK_SAMPLE_MS, ClockSampler } from "./clock_sampler.ts";

Deno.test("ClockSampler.start() samples a few times, then every 30 s, keeping the shortest round trip", async () => {
  const clock = new FakeClock(1_000);
  let asked = 0;
  // The server is 5,000 ms ahead; the answers take 40, 10, 30 ms, then 0 ms.
  const trips = [40, 10, 30, 2];
  const sampler = new ClockSampler({
    clock,
    ask: () => {
      const trip = trips[asked++] ?? 50;
      const server = clock.now() + trip / 2 + 5_000 + (trip === 10 ? 1 : 3);
      clock.advance(trip);
      return Promise.resolve(server);
    },
  });
  equal(sampler.offset, undefined, "no offset before a sample");
  equal(sampler.serverNow(), clock.now(), "this end's time before a sample");
  await sampler.start();
  equal(asked, CLOCK_FIRST_SAMPLES);
  equal(sampler.offset, 5_001, "the 10 ms exchange wins");
  // Inside a timer the fake clock cannot move, so the periodic answer comes at once (0 ms).
  trips[3] = 0;
  clock.advance(CLOCK_SAMPLE_MS);
  await new Promise((resolve) => setTimeout(resolve, 0));
  equal(asked, CLOCK_FIRST_SAMPLES + 1, "one more after 30 s");
  equal(sampler.offset, 5_003, "the 0 ms exchange wins");
  equal(sampler.serverNow(), clock.now() + 5_003);
  sampler.stop();
  clock.advance(CLOCK_SAMPLE_MS * 3);
  equal(asked, CLOCK_FIRST_SAMPLES + 1, "none after stop");
});

Deno.test("ClockSampler.sample() skips an exchange that fails", async () => {
  const clock = new FakeClock();
  const sampler = new ClockSampler({ clock, ask: () => Promise.reject(new Error("lost")) });
  await sampler.sample();
  equal(sampler.offset, undefined);
});
