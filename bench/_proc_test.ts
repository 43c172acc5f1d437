/**
 * `cpuBetween()`: a process's CPU time from its threads' readings, a thread that ended left out
 * rather than subtracted.
 * @module
 */

import { deepEqual, ok } from "node:assert/strict";
import { cpuBetween, readThreadsCpu, type ThreadsCpu } from "./_proc.ts";

function reading(at: number, threads: [number, number][]): ThreadsCpu {
  return { at, threads: new Map(threads) };
}

Deno.test("cpuBetween() sums each thread's growth, a new thread whole, an ended one left out", () => {
  const table: [string, ThreadsCpu, ThreadsCpu, { cpuSeconds: number; seconds: number }][] = [
    ["no threads", reading(0, []), reading(1000, []), { cpuSeconds: 0, seconds: 1 }],
    ["unchanged", reading(0, [[1, 5e9]]), reading(2000, [[1, 5e9]]), { cpuSeconds: 0, seconds: 2 }],
    [
      "grown",
      reading(0, [[1, 5e9], [2, 1e9]]),
      reading(1000, [[1, 5.25e9], [2, 1.5e9]]),
      { cpuSeconds: 0.75, seconds: 1 },
    ],
    ["born in between", reading(0, [[1, 0]]), reading(1000, [[1, 0], [7, 3e8]]), {
      cpuSeconds: 0.3,
      seconds: 1,
    }],
    // Summing the threads would give 0.1 − 9 = −8.9 s.
    ["ended in between", reading(0, [[1, 1e9], [9, 9e9]]), reading(1000, [[1, 1.1e9]]), {
      cpuSeconds: 0.1,
      seconds: 1,
    }],
  ];
  for (const [what, a, b, expected] of table) {
    const got = cpuBetween(a, b);
    deepEqual(
      { cpuSeconds: Math.round(got.cpuSeconds * 1e9) / 1e9, seconds: got.seconds },
      expected,
      what,
    );
  }
});

Deno.test("readThreadsCpu() reads this process's threads, their time growing while it is busy", async () => {
  const first = await readThreadsCpu(Deno.pid);
  let second = first;
  // Busy until a reading shows it (a loaded machine may leave this thread unscheduled a while).
  const deadline = performance.now() + 30_000;
  while (cpuBetween(first, second).cpuSeconds <= 0 && performance.now() < deadline) {
    const end = performance.now() + 20;
    while (performance.now() < end) {
      // Busy.
    }
    second = await readThreadsCpu(Deno.pid);
  }
  ok(second.threads.has(Deno.pid), `threads ${[...second.threads.keys()]}`);
  // Deno runs JavaScript on a thread of its own, not the process's first: any thread may grow.
  ok(cpuBetween(first, second).cpuSeconds > 0, "the threads' time grew");
});
