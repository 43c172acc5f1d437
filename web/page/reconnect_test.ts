import { deepEqual, equal, throws } from "node:assert/strict";
import {
  backoffDelay,
  Reconnector,
  type ReconnectState,
  type ReconnectTimers,
} from "./reconnect.ts";

Deno.test("backoffDelay() doubles from 0.5 s up to 10 s, jittered down by up to half", () => {
  const table: [attempt: number, random: number, ms: number][] = [
    [1, 0, 500],
    [2, 0, 1000],
    [3, 0, 2000],
    [5, 0, 8000],
    [6, 0, 10_000], // 16 s capped
    [7, 0, 10_000],
    [1_000, 0, 10_000], // no overflow to Infinity or NaN
    [1, 0.5, 375],
    [1, 0.999_999, 250],
    [6, 0.999_999, 5000],
    [1, -1, 500], // a random out of range is clamped
    [1, 2, 250],
  ];
  for (const [attempt, random, ms] of table) {
    equal(backoffDelay(attempt, random), ms, `attempt ${attempt}, random ${random}`);
  }
  equal(backoffDelay(2, 0, { initialMs: 100, factor: 3, maxMs: 250 }), 250);
  equal(backoffDelay(2, 0.5, { jitter: 0 }), 1000);
});

Deno.test("backoffDelay() refuses an attempt that is not a whole number ≥ 1", () => {
  for (const attempt of [0, -1, 1.5, Number.NaN]) {
    throws(() => backoffDelay(attempt, 0), RangeError);
    throws(() => backoffDelay(attempt, 0), /Cannot compute a backoff: attempt/);
  }
});

/** Timers that fire only when the test says. */
class FakeTimers implements ReconnectTimers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 1;
  set(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires the one pending timer and returns its wait. */
  fire(): number {
    equal(this.pending.size, 1, "one timer pending");
    const [id, { fn, ms }] = [...this.pending][0];
    this.pending.delete(id);
    fn();
    return ms;
  }
}

function harness(outcomes: ("ok" | "fail" | "fatal")[]) {
  const timers = new FakeTimers();
  const states: string[] = [];
  let calls = 0;
  const settle: (() => void)[] = [];
  const reconnector = new Reconnector({
    timers,
    random: () => 0,
    isFatal: (error) => error === "fatal",
    onState: (state: ReconnectState) => states.push(describe(state)),
    connect: () => {
      const outcome = outcomes[calls++] ?? "ok";
      return new Promise<void>((resolve, reject) => {
        settle.push(() => outcome === "ok" ? resolve() : reject(outcome));
      });
    },
  });
  return { timers, states, reconnector, settle, calls: () => calls };
}

function describe(state: ReconnectState): string {
  if (state.kind === "waiting") return `waiting ${state.attempt} ${state.delayMs}`;
  if (state.kind === "connecting") return `connecting ${state.attempt}`;
  if (state.kind === "stopped") return `stopped${state.error === undefined ? "" : " fatal"}`;
  return state.kind;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Reconnector waits longer after each failure and is connected after a success", async () => {
  const { timers, states, reconnector, settle } = harness(["fail", "fail", "ok"]);
  reconnector.lost();
  for (let i = 0; i < 3; i++) {
    timers.fire();
    settle[i]();
    await tick();
  }
  deepEqual(states, [
    "waiting 1 500",
    "connecting 1",
    "waiting 2 1000",
    "connecting 2",
    "waiting 3 2000",
    "connecting 3",
    "connected",
  ]);
  equal(timers.pending.size, 0);
  // Lost again: the backoff starts over from the first wait.
  reconnector.lost();
  equal(states.at(-1), "waiting 1 500");
});

Deno.test("Reconnector stops on a fatal failure, ignores lost() while trying, and starts over after a stop", async () => {
  const { timers, states, reconnector, settle, calls } = harness(["fatal"]);
  reconnector.lost();
  reconnector.lost();
  timers.fire();
  reconnector.lost(); // while connecting
  settle[0]();
  await tick();
  deepEqual(states, ["waiting 1 500", "connecting 1", "stopped fatal"]);
  equal(calls(), 1);
  equal(timers.pending.size, 0);
  // "Reconnect now" after a stop starts over from the first wait.
  reconnector.lost();
  equal(states.at(-1), "waiting 1 500");
});

Deno.test("Reconnector.retryNow() skips the wait; stop() cancels the wait and ignores an attempt in flight", async () => {
  const { timers, states, reconnector, settle, calls } = harness(["fail", "ok"]);
  reconnector.retryNow(); // connected: nothing to skip
  reconnector.lost();
  reconnector.retryNow();
  equal(timers.pending.size, 0);
  equal(calls(), 1);
  reconnector.stop();
  settle[0](); // the failure arrives after stop: no new wait
  await tick();
  deepEqual(states, ["waiting 1 500", "connecting 1", "stopped"]);
  equal(timers.pending.size, 0);
  reconnector.connected();
  reconnector.lost();
  reconnector.stop();
  equal(timers.pending.size, 0, "stop() clears the pending wait");
});
