import { deepEqual, equal, ok } from "node:assert/strict";
import { COALESCE_BYTES, ControlQueue } from "./control_queue.ts";

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** The sizes of the writes a queue of frames of these sizes gives, in order. */
function writes(sizes: number[]): number[] {
  const queue = new ControlQueue();
  sizes.forEach((n, i) => queue.push(bytes(n, i)));
  const out: number[] = [];
  while (queue.length > 0) out.push(queue.take().length);
  equal(queue.bytes, 0);
  return out;
}

Deno.test("ControlQueue.take() coalesces small frames up to the limit and sends large ones alone", () => {
  const C = COALESCE_BYTES;
  const cases: [string, number[], number[]][] = [
    ["empty", [], []],
    ["one small frame", [10], [10]],
    ["small frames together", [10, 20, 30], [60]],
    ["exactly the limit together", [C / 2, C / 2], [C]],
    ["one byte past the limit: two writes", [C / 2, C / 2 + 1], [C / 2, C / 2 + 1]],
    ["a frame at the limit alone", [C, 10], [C, 10]],
    ["a large frame after small ones", [10, C + 5, 10], [10, C + 5, 10]],
  ];
  for (const [name, sizes, expected] of cases) deepEqual(writes(sizes), expected, name);
});

Deno.test("ControlQueue.take() keeps frames in order and returns a lone frame without a copy", () => {
  const queue = new ControlQueue();
  const a = bytes(3, 1);
  const b = bytes(2, 2);
  queue.push(a);
  queue.push(b);
  equal(queue.bytes, 5);
  deepEqual([...queue.take()], [1, 1, 1, 2, 2]);
  const alone = bytes(4, 9);
  queue.push(alone);
  ok(queue.take() === alone, "a lone frame is written as it is");
  equal(queue.take().length, 0);
});

Deno.test("ControlQueue.clear() drops everything queued", () => {
  const queue = new ControlQueue();
  queue.push(bytes(7, 1));
  queue.clear();
  equal(queue.bytes, 0);
  equal(queue.length, 0);
});
