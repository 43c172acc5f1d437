import { deepEqual, equal } from "node:assert/strict";
import { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, type StreamEndReason } from "../../protocol/messages.ts";
import { SegmentStore } from "../../video/segment_store.ts";
import type { PreparedTitle } from "../../video/prepared_title.ts";
import { readUntilEof, socketPair, until } from "../../tests/_util.ts";
import { Connection } from "../door/connection.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { LeadGate } from "./lead_gate.ts";
import { type StreamClock, StreamSession } from "./stream_session.ts";

/** A clock that moves only when told, running what falls due in order. */
class FakeClock implements StreamClock {
  #now = 0;
  #due: { at: number; fn: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  schedule(fn: () => void, ms: number): () => void {
    const entry = { at: this.#now + ms, fn };
    this.#due.push(entry);
    return () => {
      this.#due = this.#due.filter((e) => e !== entry);
    };
  }

  /**
   * Moves the time by `ms`, running each call that falls due in order, and letting what each
   * call resumes run (microtasks) before the next; one macrotask at the end lets I/O move.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    while (true) {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      const next = this.#due.filter((e) => e.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.#due = this.#due.filter((e) => e !== next);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Bounds a wait on real I/O (a file read, a socket write), ms: generous for a busy machine. */
const WAIT_MS = 20_000;

/** A title of segments of the given durations (seconds), 2,000 bytes each, in a temporary folder. */
async function title(durations = [2, 2, 2]): Promise<{ prepared: PreparedTitle; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-session-" });
  const path = `${dir}/0.mjpeg`;
  await Deno.writeFile(path, new Uint8Array(2_000).fill(7));
  let start = 0;
  const segments = durations.map((duration, index) => {
    const segment = { index, start, duration, bytes: 2_000, path };
    start += duration;
    return segment;
  });
  const prepared: PreparedTitle = {
    name: "card",
    codec: "mjpeg",
    container: "mjpeg",
    duration: start,
    hasAudio: false,
    fps: 25,
    renditions: [{ height: 240, width: 320, bitrate: 8_000, segments }],
  };
  return { prepared, dir };
}

Deno.test("StreamSession ends a paused stream at the pause limit of its injected clock, not the wall clock's", async () => {
  const { prepared, dir } = await title();
  const { server, client } = await socketPair();
  const conn = new Connection(server);
  const clock = new FakeClock();
  const ends: [StreamEndReason, string | undefined][] = [];
  const session = new StreamSession(conn, {
    streamId: 1,
    requestId: 9,
    prepared,
    store: new SegmentStore(),
    quality: 240,
    maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
    clock,
    onEnd: (reason, detail) => ends.push([reason, detail]),
  });
  try {
    session.start();
    session.pause(); // the first segment was already chosen: it goes, then the stream holds
    await clock.advance(DEFAULT_LIMITS.pauseTimeoutMs - 1);
    equal(session.phase, "paused");
    deepEqual(ends, [], "a millisecond before the limit it still holds");
    await clock.advance(1);
    deepEqual(ends, [["error", "PAUSE_TIMEOUT"]]);
    equal(session.phase, "ended");
    await conn.flush();
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
  const messages = await readUntilEof(client);
  client.close();
  const control = messages.filter((m) => m.type !== "media" && m.type !== "segment");
  deepEqual(
    control.map((m) => m.type === "stream-end" ? `${m.type} ${m.reason} ${m.code}` : m.type),
    ["stream-start", "stream-end error PAUSE_TIMEOUT"],
  );
  equal(messages.at(-1)?.type, "stream-end", "nothing of the stream after its end");
});

Deno.test("StreamSession paces by its injected clock: a segment beyond the lead waits for that clock, then goes", async () => {
  // Segments at 0, 2, 4, 6 and 1,006 s: the last is due after 1,000 s of playback, which only
  // the fake clock can reach within the test.
  const { prepared, dir } = await title([2, 2, 2, 1_000, 2]);
  const { server, client } = await socketPair();
  const conn = new Connection(server);
  const clock = new FakeClock();
  const ends: StreamEndReason[] = [];
  let sent = 0;
  const session = new StreamSession(conn, {
    streamId: 1,
    requestId: 9,
    prepared,
    store: new SegmentStore(),
    quality: 240,
    maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
    clock,
    onSegment: () => sent++,
    onEnd: (reason) => ends.push(reason),
  });
  const reaches = async (what: string, check: () => boolean) => {
    // Real time only bounds the wait for file reads and socket writes; the pacing is the fake's.
    await until(async () => (await clock.advance(0), check()), { ms: WAIT_MS, what });
  };
  try {
    session.start();
    await reaches("segments 0 and 1 fill the pipeline", () => sent === 2);
    equal(session.phase, "draining");
    session.ack(0, 0); // playback starts at 0 ms on the fake clock
    session.ack(0, 1);
    await reaches("segments 2 and 3 go within the 6 s lead", () => sent === 4);
    session.ack(0, 2);
    session.ack(0, 3);
    await reaches("segment 4 (1,006 s) waits for the lead", () => session.phase === "leading");
    await clock.advance(999_999);
    equal(session.phase, "leading");
    equal(sent, 4, "not before the fake clock reaches 1,000 s of playback");
    await clock.advance(1);
    await reaches("segment 4 goes at 1,000 s, and the title ends", () => ends.length > 0);
    equal(sent, 5);
    deepEqual(ends, ["finished"]);
    equal(session.phase, "ended");
    await conn.flush();
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
  const messages = await readUntilEof(client);
  client.close();
  deepEqual(
    messages.filter((m) => m.type === "segment").map((m) => m.type === "segment" && m.index),
    [0, 1, 2, 3, 4],
  );
});

Deno.test("StreamSession hands each segment's `segment` message and its media to the transport in one write", async () => {
  const { prepared, dir } = await title([2, 2, 2]);
  const { server, client } = await socketPair();
  // The real socket, with every write's bytes recorded as they are handed to it.
  const writes: Uint8Array[] = [];
  const counted = {
    read: (buffer: Uint8Array) => server.read(buffer),
    write: async (bytes: Uint8Array) => {
      const n = await server.write(bytes);
      writes.push(bytes.slice(0, n));
      return n;
    },
    close: () => server.close(),
    remoteAddr: server.remoteAddr,
  };
  const conn = new Connection(counted);
  const clock = new FakeClock();
  const ends: StreamEndReason[] = [];
  const session = new StreamSession(conn, {
    streamId: 1,
    requestId: 9,
    prepared,
    store: new SegmentStore(),
    quality: 240,
    maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
    clock,
    onEnd: (reason) => ends.push(reason),
  });
  try {
    session.start();
    await until(async () => (await clock.advance(0), session.phase === "draining"), {
      ms: WAIT_MS,
      what: "segments 0 and 1 fill the pipeline",
    });
    for (const index of [0, 1, 2]) session.ack(0, index);
    await until(async () => (await clock.advance(0), ends.length > 0), {
      ms: WAIT_MS,
      what: "the title ends",
    });
    await conn.flush();
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
  const messages = await readUntilEof(client);
  client.close();
  deepEqual(
    messages.map((m) =>
      m.type === "segment" || m.type === "media" ? `${m.type} ${m.index}` : m.type
    ),
    [
      "stream-start",
      "segment 0",
      "media 0",
      "segment 1",
      "media 1",
      "segment 2",
      "media 2",
      "stream-end",
    ],
  );
  // Each segment's message and media leave together: one write (the socket takes 2 KB at once).
  const decoded = writes.map((bytes) => new FrameDecoder().push(bytes).map(decodeMessage));
  deepEqual(
    decoded.filter((ms) => ms.some((m) => m.type === "segment" || m.type === "media")).map((ms) =>
      ms.map((m) => m.type === "segment" || m.type === "media" ? `${m.type} ${m.index}` : m.type)
    ),
    [["segment 0", "media 0"], ["segment 1", "media 1"], ["segment 2", "media 2"]],
  );
});

Deno.test("StreamSession counts a segment in the lead gate's backlog as soon as the gate lets it go, so streams woken together cannot all pass a full gate", async () => {
  const { prepared, dir } = await title([2, 2, 2]);
  // Nothing is urgent and the gate lets a segment go only while nothing else is being written.
  const gate = new LeadGate({ urgentSeconds: -1, maxBacklogBytes: 0 });
  const clock = new FakeClock();
  const store = new SegmentStore();
  const pairs = await Promise.all([0, 1, 2].map(() => socketPair()));
  const conns = pairs.map(({ server }) => new Connection(server));
  let sent = 0;
  const sessions = conns.map((conn) =>
    new StreamSession(conn, {
      streamId: 1,
      requestId: 9,
      prepared,
      store,
      quality: 240,
      maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
      leadGate: gate,
      clock,
      onSegment: () => sent++,
      onEnd: () => {},
    })
  );
  try {
    // All three decide in the same tick, before any segment is read or written.
    for (const session of sessions) session.start();
    for (let i = 0; i < 20; i++) await Promise.resolve();
    equal(sent, 1, "the first one goes; its segment counts at once");
    equal(gate.waiting, 2, "the others wait for their turn");
    await until(async () => (await clock.advance(0), sent >= 3), {
      ms: WAIT_MS,
      what: "the others go as writes end",
    });
  } finally {
    for (const session of sessions) session.abort();
    for (const conn of conns) conn.close();
    for (const { client } of pairs) client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
