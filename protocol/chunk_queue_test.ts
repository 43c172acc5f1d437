import { deepEqual, equal } from "node:assert/strict";
import { ChunkQueue } from "./chunk_queue.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

/** Reads everything with buffers of `size`, returning each read's bytes. */
function drain(queue: ChunkQueue, size: number): number[][] {
  const reads: number[][] = [];
  const buffer = new Uint8Array(size);
  for (let n = queue.take(buffer); n > 0; n = queue.take(buffer)) {
    reads.push([...buffer.subarray(0, n)]);
  }
  return reads;
}

Deno.test("ChunkQueue.take() fills the buffer across chunks and keeps the rest, in order", () => {
  // [chunks, buffer size, reads]
  const cases: [number[][], number, number[][]][] = [
    [[], 4, []],
    [[[1, 2, 3]], 3, [[1, 2, 3]]], // exactly the buffer
    [[[1, 2, 3]], 2, [[1, 2], [3]]], // one byte over
    [[[1, 2, 3]], 4, [[1, 2, 3]]], // one byte under
    [[[1], [2], [3]], 2, [[1, 2], [3]]], // across chunks
    [[[1, 2], [3, 4, 5]], 3, [[1, 2, 3], [4, 5]]], // a chunk split between reads
    [[[1, 2, 3, 4]], 1, [[1], [2], [3], [4]]], // one byte at a time
    [[[], [1], []], 4, [[1]]], // empty chunks carry nothing
  ];
  for (const [chunks, size, reads] of cases) {
    const queue = new ChunkQueue();
    for (const chunk of chunks) queue.push(bytes(...chunk));
    equal(queue.bytes, chunks.flat().length);
    deepEqual(drain(queue, size), reads, `${JSON.stringify(chunks)} by ${size}`);
    equal(queue.empty, true);
    equal(queue.bytes, 0);
  }
});

Deno.test("ChunkQueue.take() into an empty buffer takes nothing", () => {
  const queue = new ChunkQueue();
  queue.push(bytes(1, 2));
  equal(queue.take(new Uint8Array(0)), 0);
  equal(queue.bytes, 2);
});

Deno.test("ChunkQueue.clear() drops what waits; later chunks read as usual", () => {
  const queue = new ChunkQueue();
  queue.push(bytes(1, 2, 3));
  queue.take(new Uint8Array(1));
  queue.clear();
  equal(queue.empty, true);
  queue.push(bytes(9));
  deepEqual(drain(queue, 4), [[9]]);
});
