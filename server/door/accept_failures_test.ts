import { deepEqual, equal, ok } from "node:assert/strict";
import { AcceptFailures, isOutOfDescriptors } from "./accept_failures.ts";

Deno.test("AcceptFailures.failed() doubles the back-off up to the cap and logs once per interval", () => {
  const failures = new AcceptFailures({ firstDelayMs: 10, maxDelayMs: 80, logIntervalMs: 1000 });
  const steps = [0, 1, 2, 3, 4, 999, 1000, 1001].map((t) =>
    failures.failed(t, "Too many open files")
  );
  deepEqual(steps.map((s) => s.delayMs), [10, 20, 40, 80, 80, 80, 80, 80]);
  deepEqual(steps.map((s) => s.log !== undefined), [
    true,
    false,
    false,
    false,
    false,
    false,
    true,
    false,
  ]);
  ok(steps[0].log!.startsWith("Cannot accept connections: Too many open files; refusing"));
  ok(steps[6].log!.includes("(5 more in the last 1 s)"), steps[6].log);
  equal(failures.inRow, 8);
});

Deno.test("AcceptFailures.succeeded() says once that accepts work again and resets the back-off", () => {
  const failures = new AcceptFailures({ firstDelayMs: 10, logIntervalMs: 1000 });
  equal(failures.succeeded(), undefined, "nothing to say without failures");
  for (let i = 0; i < 1500; i++) failures.failed(i, "x");
  equal(failures.succeeded(), "Accepting connections again after 1,500 failed accepts");
  equal(failures.succeeded(), undefined);
  const again = failures.failed(2000, "x");
  equal(again.delayMs, 10);
  ok(again.log !== undefined, "a new run past the interval logs at once");
});

Deno.test("AcceptFailures keeps one line per interval when accepts recover and fail again in between", () => {
  const failures = new AcceptFailures({ firstDelayMs: 10, logIntervalMs: 1000 });
  // Near the limit every descriptor freed elsewhere lets one accept through: runs of two
  // failures and a success, every 10 ms, for 2.5 s.
  const lines: string[] = [];
  for (let t = 0; t < 2500; t += 10) {
    for (const at of [t, t + 1]) {
      const step = failures.failed(at, "Too many open files");
      if (step.log !== undefined) lines.push(step.log);
      equal(step.delayMs <= 20, true, "each short run starts its back-off over");
    }
    const again = failures.succeeded();
    if (again !== undefined) lines.push(again);
  }
  deepEqual(lines.map((l) => l.split(":")[0].split(" after")[0]), [
    "Cannot accept connections",
    "Accepting connections again",
    "Cannot accept connections",
    "Accepting connections again",
    "Cannot accept connections",
    "Accepting connections again",
  ]);
  ok(lines[2].includes("(199 more in the last 1 s)"), lines[2]);
  ok(lines[3].endsWith("after 200 failed accepts"), lines[3]);
});

Deno.test("isOutOfDescriptors() matches EMFILE and ENFILE only", () => {
  ok(isOutOfDescriptors(new Error("Too many open files (os error 24)")));
  ok(isOutOfDescriptors(new Error("Too many open files in system (os error 23)")));
  ok(!isOutOfDescriptors(new Error("Connection reset by peer (os error 104)")));
  ok(!isOutOfDescriptors(new Error("os error 240")));
});

Deno.test("AcceptFailures.shed() starts the back-off over without ending the run", () => {
  const failures = new AcceptFailures({ firstDelayMs: 10, logIntervalMs: 1000 });
  deepEqual([0, 1, 2].map((t) => failures.failed(t, "x").delayMs), [10, 20, 40]);
  failures.shed();
  equal(failures.failed(3, "x").delayMs, 10);
  equal(failures.inRow, 4);
});
