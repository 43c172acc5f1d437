/**
 * The tests' one waiting helper, {@linkcode until}: it returns once the check holds, and fails
 * with what was awaited when the check never holds or never returns.
 * @module
 */

import { equal, rejects } from "node:assert/strict";
import { until } from "./_util.ts";

Deno.test("until() returns once the check holds, sync or async", async () => {
  let calls = 0;
  await until(() => ++calls === 3, { ms: 5_000, what: "the third call", everyMs: 1 });
  equal(calls, 3);
  let asyncCalls = 0;
  await until(() => Promise.resolve(++asyncCalls === 2), { ms: 5_000, what: "two", everyMs: 1 });
  equal(asyncCalls, 2);
});

Deno.test("until() fails with what was awaited: a check that never holds, one that never returns", async (t) => {
  const cases: { name: string; check: () => boolean | Promise<boolean>; message: RegExp }[] = [
    {
      name: "never holds",
      check: () => false,
      message: /Error: Timed out after 50 ms waiting for the thing$/,
    },
    {
      name: "never returns",
      check: () => new Promise<boolean>(() => {}),
      message: /Error: Timed out after 50 ms waiting for the thing \(a check never returned\)$/,
    },
    {
      name: "returns false, then hangs",
      check: (() => {
        let first = true;
        return () => first ? (first = false) : new Promise<boolean>(() => {});
      })(),
      message: /a check never returned/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await rejects(until(c.check, { ms: 50, what: () => "the thing", hangMs: 50 }), c.message);
    });
  }
});
