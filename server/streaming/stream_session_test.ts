import { deepEqual, equal } from "node:assert/strict";
import { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, type Message, type StreamEndReason } from "../../protocol/messages.ts";
import { SegmentStore } from "../../video/segment_store.ts";
import type { PreparedTitle } from "../../video/prepared_title.ts";
import { readUntilEof, socketPair, until } from "../../tests/_util.ts";
import { Connection } from "../door/connection.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { LeadGate } from "./lead_gate.ts";
import { type StreamClock, StreamSession, switchText } from "./stream_session.ts";

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

/** A `StreamSession` on one end of a real socket pair, paced by a {@linkcode FakeClock}. */
interface Rig {
  session: StreamSession;
  conn: Connection;
  clock: FakeClock;
  /** How the stream ended: `[reason, detail]` for each call of `onEnd`. */
  ends: [StreamEndReason, string | undefined][];
  /** Segments sent so far. */
  sent: number;
  /** Closes the server's end and removes the title's folder (for `finally`). */
  close(): Promise<void>;
  /** What the client's end received, once the server's end is closed. */
  received(): Promise<Message[]>;
}

/** A stream of `title(durations)` at 240p with the default limits, not started yet. */
async function rig(durations?: number[]): Promise<Rig> {
  const { prepared, dir } = await title(durations);
  const { server, client } = await socketPair();
  const conn = new Connection(server);
  const clock = new FakeClock();
  const rig: Rig = {
    session: new StreamSession(conn, {
      streamId: 1,
      requestId: 9,
      prepared,
      store: new SegmentStore(),
      quality: 240,
      maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
      clock,
      onSegment: () => rig.sent++,
      onEnd: (reason, detail) => rig.ends.push([reason, detail]),
    }),
    conn,
    clock,
    ends: [],
    sent: 0,
    async close() {
      conn.close();
      await Deno.remove(dir, { recursive: true });
    },
    async received() {
      const messages = await readUntilEof(client);
      client.close();
      return messages;
    },
  };
  return rig;
}

Deno.test("StreamSession ends a paused stream at the pause limit of its injected clock, not the wall clock's", async () => {
  const { session, conn, clock, ends, close, received } = await rig();
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
    await close();
  }
  const messages = await received();
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
  const stream = await rig([2, 2, 2, 1_000, 2]);
  const { session, conn, clock, ends } = stream;
  const reaches = async (what: string, check: () => boolean) => {
    // Real time only bounds the wait for file reads and socket writes; the pacing is the fake's.
    await until(async () => (await clock.advance(0), check()), { ms: WAIT_MS, what });
  };
  try {
    session.start();
    await reaches("segments 0 and 1 fill the pipeline", () => stream.sent === 2);
    equal(session.phase, "draining");
    session.ack(0, 0); // playback starts at 0 ms on the fake clock
    session.ack(0, 1);
    await reaches("segments 2 and 3 go within the 6 s lead", () => stream.sent === 4);
    session.ack(0, 2);
    session.ack(0, 3);
    await reaches("segment 4 (1,006 s) waits for the lead", () => session.phase === "leading");
    await clock.advance(999_999);
    equal(session.phase, "leading");
    equal(stream.sent, 4, "not before the fake clock reaches 1,000 s of playback");
    await clock.advance(1);
    await reaches("segment 4 goes at 1,000 s, and the title ends", () => ends.length > 0);
    equal(stream.sent, 5);
    deepEqual(ends.map(([reason]) => reason), ["finished"]);
    equal(session.phase, "ended");
    await conn.flush();
  } finally {
    await stream.close();
  }
  const messages = await stream.received();
  deepEqual(
    messages.filter((m) => m.type === "segment").map((m) => m.type === "segment" && m.index),
    [0, 1, 2, 3, 4],
  );
});

/**
 * An auto stream of six 2 s segments, 240p at 2,000 bits/s (500-byte segments), 360p at 4,000
 * (1,000 bytes) and 480p at 8,000 (2,000 bytes), whose segments 0-2 arrived at once (320 kbit/s
 * measured) and segment 3 went at 0 ms and has not arrived: `then` moves the fake clock on.
 *
 * @returns The first five segments the viewer got, as `index height`, and auto's changes for
 *   segment 4 as `at ms: from → to from 4`.
 */
async function afterFastStart(
  then: (steps: {
    session: StreamSession;
    clock: FakeClock;
    reaches: (what: string, check: () => boolean) => Promise<void>;
    sent: () => number;
    playsOut: () => Promise<void>;
  }) => Promise<void>,
): Promise<{ segments: string[]; switches: string[] }> {
  const { prepared: one, dir } = await title([2, 2, 2, 2, 2, 2]);
  const high = one.renditions[0];
  const rung = async (height: number, bytes: number) => {
    const path = `${dir}/${height}.mjpeg`;
    await Deno.writeFile(path, new Uint8Array(bytes).fill(3));
    const segments = high.segments.map((s) => ({ ...s, bytes, path }));
    return { height, width: height * 2, bitrate: bytes * 4, segments };
  };
  const prepared: PreparedTitle = {
    ...one,
    renditions: [await rung(240, 500), await rung(360, 1_000), { ...high, height: 480 }],
  };
  const { server, client } = await socketPair();
  const conn = new Connection(server);
  const clock = new FakeClock();
  let sent = 0;
  const session = new StreamSession(conn, {
    streamId: 1,
    requestId: 9,
    prepared,
    store: new SegmentStore(),
    quality: "auto",
    maxUnackedBytes: DEFAULT_LIMITS.maxUnackedMediaBytes,
    clock,
    onSegment: () => sent++,
    onSwitch: (c) => switches.push(`${clock.now()} ms: ${c.from} → ${c.to} from ${c.index}`),
    onEnd: () => {},
  });
  const switches: string[] = [];
  const reaches = async (what: string, check: () => boolean) => {
    await until(async () => (await clock.advance(0), check()), { ms: WAIT_MS, what });
  };
  try {
    session.start();
    await reaches("segment 0 goes alone, to measure", () => sent === 1);
    // Confirmed at 0 ms, fast: 2,000 bytes within minSampleMs, 320 kbit/s. (A receipt before the
    // session has recorded the segment as sent is ignored: confirm until the next ones go.)
    await reaches("segments 1 and 2 go", () => (session.ack(0, 0), sent === 3));
    await reaches("segment 3 goes within the lead", () => {
      session.ack(0, 1);
      session.ack(0, 2);
      return sent === 4;
    });
    await reaches("segment 4 waits for the lead", () => session.phase === "leading");
    // The rest goes as the clock moves and the viewer confirms what it gets.
    const playsOut = () =>
      until(async () => {
        await clock.advance(250);
        for (const index of [4, 5]) session.ack(0, index);
        return session.phase === "ended";
      }, { ms: WAIT_MS, what: "the title ends" });
    await then({ session, clock, reaches, sent: () => sent, playsOut });
    session.stop(10);
    await conn.flush();
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
  const messages = await readUntilEof(client);
  client.close();
  const segments = messages.flatMap((m) => m.type === "segment" ? [`${m.index} ${m.height}p`] : [])
    .slice(0, 5);
  return { segments, switches: switches.filter((s) => s.endsWith(" from 4")) };
}

Deno.test("StreamSession in auto steps down at the turn of a segment not in by then, and sends it once that one is", async () => {
  const got = await afterFastStart(async ({ session, clock, reaches, sent, playsOut }) => {
    await clock.advance(1_999);
    equal(sent(), 4);
    // Segment 3 is not in by segment 4's turn (2 s): the link carried less than 8,000 bits/s.
    await clock.advance(1);
    await reaches("segment 4 waits for segment 3", () => session.phase === "draining");
    await clock.advance(500);
    equal(sent(), 4);
    // Segment 3 arrives at 2.5 s: 6,400 bits/s, which carries 360p.
    session.ack(0, 3);
    await playsOut();
  });
  deepEqual(got, {
    segments: ["0 480p", "1 480p", "2 480p", "3 480p", "4 360p"],
    switches: ["2000 ms: 480 → 360 from 4"],
  });
});

Deno.test("StreamSession in auto chooses from the bound once while it waits, not lower and lower", async () => {
  const got = await afterFastStart(async ({ session, clock, reaches, sent, playsOut }) => {
    await clock.advance(2_000);
    await reaches("segment 4 waits for segment 3", () => session.phase === "draining");
    // By 4 s the bound is 4,000 bits/s and the modelled buffer 2 s: no news, no new choice.
    await clock.advance(2_000);
    equal(sent(), 4);
    // Segment 3 arrives at 4 s: 4,000 bits/s, which still carries 360p.
    session.ack(0, 3);
    await playsOut();
  });
  deepEqual(got, {
    segments: ["0 480p", "1 480p", "2 480p", "3 480p", "4 360p"],
    switches: ["2000 ms: 480 → 360 from 4"],
  });
});

Deno.test("switchText() says the change and what it was decided from, without the caps that did not apply", () => {
  const change = {
    index: 21,
    from: 720,
    to: 480,
    estimate: 4_870_400,
    bufferSeconds: 4.04,
    lastThroughput: 4_912_000,
    inFlightCap: 2_351_000,
  };
  equal(
    switchText(change),
    "720p → 480p from segment 21 (estimate 4,870 kbit/s, last 4,912, on its way ≤ 2,351, buffer 4.0 s)",
  );
  equal(
    switchText({ ...change, from: 240, to: 720, lastThroughput: undefined, inFlightCap: Infinity }),
    "240p → 720p from segment 21 (estimate 4,870 kbit/s, buffer 4.0 s)",
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
