import { deepEqual, equal, notEqual } from "node:assert/strict";
import { FrameDecoder } from "../../protocol/frame.ts";
import {
  decodeMessage,
  encodeMediaFrames,
  encodeMessage,
  type SegmentMessage,
} from "../../protocol/messages.ts";
import { concatBytes } from "../../tests/_util.ts";
import { FramedSegments } from "./framed_segments.ts";

function announce(
  segment: Uint8Array,
  at: { streamId: number; epoch?: number; index: number },
): SegmentMessage {
  return {
    type: "segment",
    streamId: at.streamId,
    epoch: at.epoch ?? 0,
    index: at.index,
    height: 480,
    bitrate: 1_000_000,
    start: at.index * 2,
    duration: 2,
    bytes: segment.length,
  };
}

Deno.test("FramedSegments.frames() frames a segment, its message first, once per stream id, epoch and index", () => {
  const framed = new FramedSegments({ chunkBytes: 100 });
  const segment = new Uint8Array(250).map((_, i) => i);
  const message = announce(segment, { streamId: 1, index: 3 });
  const a = framed.frames(segment, message);
  equal(framed.frames(segment, { ...message }), a, "the same bytes for every viewer");
  deepEqual(
    a,
    concatBytes([encodeMessage(message), encodeMediaFrames(1, 3, segment, { chunkBytes: 100 })]),
  );
  const [head, ...media] = new FrameDecoder().push(a).map(decodeMessage);
  deepEqual(head, message);
  deepEqual(media.map((m) => m.type === "media" ? m.data.length : 0), [100, 100, 50]);
  deepEqual(concatBytes(media.map((m) => m.type === "media" ? m.data : new Uint8Array())), segment);
  const b = framed.frames(segment, announce(segment, { streamId: 2, index: 3 }));
  notEqual(b, a);
  equal(framed.frames(segment, announce(segment, { streamId: 2, index: 3 })), b);
  const c = framed.frames(segment, announce(segment, { streamId: 1, epoch: 1, index: 3 }));
  notEqual(c, a, "another epoch is another message");
  deepEqual(new FrameDecoder().push(c).map(decodeMessage)[0], { ...message, epoch: 1 });
  // Another segment with equal bytes is another entry: the cache follows the store's objects.
  notEqual(framed.frames(segment.slice(), message), a);
});

Deno.test("FramedSegments.frames() keeps the most recently used copies per segment", () => {
  const framed = new FramedSegments({ chunkBytes: 100, copiesPerSegment: 2 });
  const segment = new Uint8Array(10);
  const at = (streamId: number) => announce(segment, { streamId, index: 0 });
  const one = framed.frames(segment, at(1));
  const two = framed.frames(segment, at(2));
  equal(framed.frames(segment, at(1)), one, "1 used again: 2 is the oldest");
  framed.frames(segment, at(3));
  equal(framed.frames(segment, at(1)), one);
  notEqual(framed.frames(segment, at(2)), two, "2 was let go");
  // No copies kept at all: each call frames afresh.
  const none = new FramedSegments({ copiesPerSegment: 0 });
  notEqual(none.frames(segment, at(1)), none.frames(segment, at(1)));
});
