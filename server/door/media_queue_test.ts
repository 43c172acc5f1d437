import { deepEqual, equal } from "node:assert/strict";
import { encodeMessage } from "../../protocol/messages.ts";
import { advance, dropStream, frameEndAt, mediaItem } from "./media_queue.ts";

/** Two media frames back to back, and where the first ends. */
function twoFrames() {
  const a = encodeMessage({ type: "media", streamId: 1, index: 0, data: new Uint8Array(10) });
  const b = encodeMessage({ type: "media", streamId: 1, index: 1, data: new Uint8Array(20) });
  const frames = new Uint8Array(a.length + b.length);
  frames.set(a);
  frames.set(b, a.length);
  return { frames, first: a.length };
}

Deno.test("frameEndAt() reads the header's length, and stops at the end of short bytes", () => {
  const { frames, first } = twoFrames();
  equal(frameEndAt(frames, 0), first);
  equal(frameEndAt(frames, first), frames.length);
  equal(frameEndAt(frames.subarray(0, first - 1), 0), first - 1, "a cut frame ends at the end");
  equal(frameEndAt(frames, frames.length - 2), frames.length, "no room for a header");
});

Deno.test("advance() moves to the next frame exactly at a frame's end, and says when all is written", () => {
  const { frames, first } = twoFrames();
  const cases: [string, number[], { frameStart: number; done: boolean }][] = [
    ["nothing", [0], { frameStart: 0, done: false }],
    ["one byte short of the first frame", [first - 1], { frameStart: 0, done: false }],
    ["exactly the first frame", [first], { frameStart: first, done: false }],
    ["byte by byte to the end", Array(frames.length).fill(1), { frameStart: first, done: true }],
    ["all at once", [frames.length], { frameStart: first, done: true }],
  ];
  for (const [name, steps, expected] of cases) {
    const item = mediaItem(1, { frames, done: () => {} });
    let done = false;
    for (const n of steps) done = advance(item, n);
    deepEqual({ frameStart: item.frameStart, done }, expected, name);
  }
});

Deno.test("dropStream() drops a stream's unstarted items, keeps one in progress marked, and leaves other streams", () => {
  const { frames } = twoFrames();
  const finished: string[] = [];
  const item = (name: string, streamId: number) =>
    mediaItem(streamId, { frames, done: () => finished.push(name) });
  const inFlight = item("in flight", 1);
  const midFrame = item("mid frame", 1);
  advance(midFrame, 3);
  const waiting = item("waiting", 1);
  const other = item("other stream", 2);
  const kept = dropStream([inFlight, midFrame, waiting, other], { streamId: 1, inFlight });
  deepEqual(kept, [inFlight, midFrame, other]);
  deepEqual(finished, ["waiting"]);
  deepEqual([inFlight.dropped, midFrame.dropped, other.dropped], [true, true, false]);
});
