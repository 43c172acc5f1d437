import { equal } from "node:assert/strict";
import { reconnectDelay } from "./redis_link.ts";

Deno.test("reconnectDelay() doubles from 100 ms to a 2 s ceiling with ±20 % jitter", () => {
  const cases: [number, number, number][] = [
    [0, 0.5, 100],
    [1, 0.5, 200],
    [4, 0.5, 1600],
    [5, 0.5, 2000],
    [50, 0.5, 2000],
    [0, 0, 80],
    [5, 0.999999, 2400],
  ];
  for (const [retries, random, ms] of cases) equal(reconnectDelay(retries, random), ms);
});
