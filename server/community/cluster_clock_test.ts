import { equal, ok } from "node:assert/strict";
import { CLOCK_FIRST_SAMPLES, ClusterClock } from "./cluster_clock.ts";

/**
 * A node's clock and a Redis whose TIME runs `ahead` ms ahead of it; each TIME takes `rtt` ms
 * (the answer stamped half-way), the next from `rtts`.
 */
function fakes(ahead: number, rtts: number[]) {
  let local = 1_700_000_000_000;
  let asked = 0;
  const redisTime = () => {
    const rtt = rtts[Math.min(asked++, rtts.length - 1)];
    local += rtt / 2;
    const stamp = local + ahead;
    local += rtt / 2;
    return Promise.resolve(stamp);
  };
  return { redisTime, local: () => local, asked: () => asked, step: (ms: number) => local += ms };
}

Deno.test("ClusterClock reads Redis TIME's clock: its offset, from the sample of least round trip", async () => {
  const fake = fakes(5_000, [40, 4, 30, 12]);
  const clock = new ClusterClock(fake.redisTime, { local: fake.local });
  // Before a sample: this node's clock.
  equal(clock.offset, 0);
  equal(clock.now(), fake.local());
  await clock.start();
  clock.stop();
  equal(fake.asked(), CLOCK_FIRST_SAMPLES);
  equal(clock.offset, 5_000);
  equal(clock.roundTrip, 4);
  fake.step(123);
  equal(clock.now(), fake.local() + 5_000);
});

Deno.test("ClusterClock keeps the offset it measured when Redis does not answer, and says so", async () => {
  const fake = fakes(-250, [2]);
  const logged: string[] = [];
  let down = false;
  const clock = new ClusterClock(
    () => down ? Promise.reject(new Error("The client is closed")) : fake.redisTime(),
    { local: fake.local, log: (line) => logged.push(line) },
  );
  equal(await clock.measure(2), true);
  equal(clock.offset, -250);
  down = true;
  equal(await clock.measure(3), false);
  equal(clock.offset, -250);
  equal(logged.length, 1);
  ok(
    /^cluster: cannot read the cluster's clock \(Redis TIME\): The client is closed;/.test(
      logged[0],
    ),
  );
  // Stopped (the node shutting down, its link closed): not news, not logged.
  clock.stop();
  equal(await clock.measure(), false);
  equal(logged.length, 1);
});

// Stopped means stopped: the test's op sanitizer fails it if the interval were left running.
Deno.test("ClusterClock measures again every period until stopped", async () => {
  const fake = fakes(10, [1]);
  const clock = new ClusterClock(fake.redisTime, { local: fake.local, everyMs: 20 });
  await clock.start();
  const deadline = Date.now() + 10_000;
  while (fake.asked() < CLOCK_FIRST_SAMPLES + 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  clock.stop();
  ok(fake.asked() >= CLOCK_FIRST_SAMPLES + 2, `${fake.asked()} samples`);
});
