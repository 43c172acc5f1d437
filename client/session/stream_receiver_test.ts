import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { ClientMessage, StreamEndReason } from "../../protocol/messages.ts";
import { type MediaSink, StreamReceiver } from "./stream_receiver.ts";
import { segmentOf, streamSeekOf, streamStartOf } from "./_testing.ts";

/** A sink that records what it is told, and can be made to throw. */
class RecordingSink implements MediaSink {
  readonly calls: string[] = [];
  bytes = 0;
  failOn?: "write" | "segment";
  write(data: Uint8Array) {
    if (this.failOn === "write") throw new Error("pipe closed");
    this.bytes += data.length;
    this.calls.push(`write ${data.length}`);
  }
  close(reason: StreamEndReason) {
    this.calls.push(`close ${reason}`);
  }
  segment(segment: { index: number }) {
    if (this.failOn === "segment") throw new Error("pipe closed");
    this.calls.push(`segment ${segment.index}`);
  }
  seek(seek: { epoch: number }) {
    this.calls.push(`seek ${seek.epoch}`);
  }
}

function receiver() {
  const sent: ClientMessage[] = [];
  const warnings: string[] = [];
  let id = 100;
  const stream = new StreamReceiver({
    send: (m) => sent.push(m),
    nextId: () => id++,
    warning: (text) => warnings.push(text),
  });
  const sink = new RecordingSink();
  stream.expect(() => sink);
  equal(stream.start(streamStartOf(1)), undefined);
  return { stream, sink, sent, warnings };
}

const acks = (sent: ClientMessage[]) =>
  sent.filter((m) => m.type === "seg-ack").map((m) => m.type === "seg-ack" ? m.index : -1);

Deno.test("StreamReceiver.media() acks a segment exactly when its last byte arrives", () => {
  // [segment bytes, chunks]: the ack goes out after the chunk that completes it, never before.
  const cases: [number, number[], number[]][] = [
    [0, [], [3]], // an empty segment is acked on its first (empty) chunk only
    [1, [1], [3]],
    [10, [10], [3]],
    [10, [9], []],
    [10, [9, 1], [3]],
    [10, [5, 5], [3]],
    [10, Array(10).fill(1), [3]],
  ];
  for (const [bytes, chunks, expected] of cases) {
    const { stream, sink, sent } = receiver();
    stream.segment(segmentOf(3, bytes));
    for (const n of bytes === 0 ? [0] : chunks) stream.media(1, new Uint8Array(n));
    deepEqual(acks(sent), expected, `${bytes} bytes in ${chunks}`);
    equal(sink.bytes, chunks.reduce((a, b) => a + b, 0));
  }
});

Deno.test("StreamReceiver.media() drops bytes of another stream, another epoch, or a cut segment", () => {
  const { stream, sink, sent } = receiver();
  // Before any segment: no segment to count them against.
  stream.media(1, new Uint8Array(4));
  equal(stream.segment(segmentOf(0, 8, { streamId: 2 })), false);
  equal(stream.segment(segmentOf(0, 8, { epoch: 1 })), false);
  equal(stream.segment(segmentOf(0, 8)), true);
  stream.media(2, new Uint8Array(8)); // another stream
  stream.media(1, new Uint8Array(4));
  // A jump cuts the segment short: its remaining bytes belong to no epoch.
  stream.seek(streamSeekOf(9, 1));
  stream.media(1, new Uint8Array(4));
  equal(stream.segment(segmentOf(0, 8)), false, "epoch 0 is over");
  equal(stream.segment(segmentOf(5, 4, { epoch: 1 })), true);
  stream.media(1, new Uint8Array(4));
  deepEqual(sink.calls, ["segment 0", "write 4", "seek 1", "segment 5", "write 4"]);
  deepEqual(acks(sent), [5]);
});

Deno.test("StreamReceiver stops the stream, not the connection, when the sink throws", () => {
  const { stream, sink, sent, warnings } = receiver();
  stream.segment(segmentOf(0, 8));
  sink.failOn = "write";
  stream.media(1, new Uint8Array(8));
  deepEqual(sent.map((m) => m.type), ["seg-ack", "stop"]);
  equal(sent[1].type === "stop" && sent[1].id, 100);
  equal(warnings.length, 1);
  ok(warnings[0].includes(`Stopped "cat": the player failed (pipe closed)`), warnings[0]);
  equal(stream.info, undefined, "a stopping stream is not shown as running");
  // Late media is still acked (the server counts it) but not written; no second stop.
  sink.failOn = undefined;
  stream.segment(segmentOf(1, 2));
  stream.media(1, new Uint8Array(2));
  deepEqual(sent.map((m) => m.type), ["seg-ack", "stop", "seg-ack"]);
  deepEqual(sink.calls, ["segment 0"], "nothing reached the sink after it failed");
});

Deno.test("StreamReceiver.start() returns the factory's error and stops the stream", () => {
  const sent: ClientMessage[] = [];
  const stream = new StreamReceiver({ send: (m) => sent.push(m), nextId: () => 7 });
  ok(stream.start(streamStartOf(1)) instanceof Error, "no play waits");
  stream.expect(() => {
    throw new Error("no player found");
  });
  equal(stream.expecting, true);
  const error = stream.start(streamStartOf(1));
  equal(error?.message, "no player found");
  deepEqual(sent, [{ type: "stop", id: 7 }]);
  equal(stream.expecting, false);
  equal(stream.info, undefined);
});

Deno.test("StreamReceiver.stop() closes the sink once; a later stream-end does not close it again", () => {
  const { stream, sink } = receiver();
  stream.stop();
  throws(() => stream.stop(), (error: unknown) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "NOT_PLAYING");
    ok(error.message.startsWith("Cannot stop: nothing is playing"));
    return true;
  });
  equal(stream.streamEnd({ type: "stream-end", streamId: 1, reason: "stopped", re: 2 }), true);
  equal(stream.streamEnd({ type: "stream-end", streamId: 1, reason: "stopped" }), false);
  deepEqual(sink.calls, ["close stopped"]);
});

Deno.test("StreamReceiver.streamEnd() closes the sink with the server's reason, only for its stream", () => {
  const { stream, sink } = receiver();
  equal(stream.streamEnd({ type: "stream-end", streamId: 2, reason: "finished" }), false);
  equal(stream.info?.streamId, 1);
  equal(stream.streamEnd({ type: "stream-end", streamId: 1, reason: "finished" }), true);
  equal(stream.info, undefined);
  stream.end("error"); // the connection is lost afterwards: nothing more to close
  deepEqual(sink.calls, ["close finished"]);
});
