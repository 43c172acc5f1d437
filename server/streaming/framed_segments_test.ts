import { deepEqual, equal, notEqual } from "node:assert/strict";
import { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, encodeMediaFrames } from "../../protocol/messages.ts";
import { concatBytes } from "../../tests/_util.ts";
import { FramedSegments } from "./framed_segments.ts";

Deno.test("FramedSegments.frames() frames a segment once per stream id and index", () => {
  const framed = new FramedSegments({ chunkBytes: 100 });
  const segment = new Uint8Array(250).map((_, i) => i);
  const a = framed.frames(segment, { streamId: 1, index: 3 });
  equal(framed.frames(segment, { streamId: 1, index: 3 }), a, "the same bytes for every viewer");
  deepEqual(a, encodeMediaFrames(1, 3, segment, { chunkBytes: 100 }));
  const media = new FrameDecoder().push(a).map(decodeMessage);
  deepEqual(media.map((m) => m.type === "media" ? m.data.length : 0), [100, 100, 50]);
  deepEqual(concatBytes(media.map((m) => m.type === "media" ? m.data : new Uint8Array())), segment);
  const b = framed.frames(segment, { streamId: 2, index: 3 });
  notEqual(b, a);
  equal(framed.frames(segment, { streamId: 2, index: 3 }), b);
  // Another segment with equal bytes is another entry: the cache follows the store's objects.
  notEqual(framed.frames(segment.slice(), { streamId: 1, index: 3 }), a);
});

Deno.test("FramedSegments.frames() keeps the most recently used copies per segment", () => {
  const framed = new FramedSegments({ chunkBytes: 100, copiesPerSegment: 2 });
  const segment = new Uint8Array(10);
  const one = framed.frames(segment, { streamId: 1, index: 0 });
  const two = framed.frames(segment, { streamId: 2, index: 0 });
  equal(framed.frames(segment, { streamId: 1, index: 0 }), one, "1 used again: 2 is the oldest");
  framed.frames(segment, { streamId: 3, index: 0 });
  equal(framed.frames(segment, { streamId: 1, index: 0 }), one);
  notEqual(framed.frames(segment, { streamId: 2, index: 0 }), two, "2 was let go");
  // No copies kept at all: each call frames afresh.
  const none = new FramedSegments({ copiesPerSegment: 0 });
  notEqual(
    none.frames(segment, { streamId: 1, index: 0 }),
    none.frames(segment, { streamId: 1, index: 0 }),
  );
});
