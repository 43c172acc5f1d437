/**
 * End-to-end streaming: real server processes, in-process clients and real CLI clients, and a real
 * decoder (ffprobe/ffmpeg reading stdin) as the player. One server is shared by most steps; the
 * adaptive-switching step gets its own server with a longer title generated at test time.
 *
 * Timings are measured and printed (lines starting with "[figures]"), never asserted.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { MediaSink } from "../client/session.ts";
import { PLAYER_KILL_GRACE_MS, PlayerProcess, ValidatingSink } from "../client/player.ts";
import type { SegmentMessage, StreamStartMessage } from "../protocol/messages.ts";
import {
  type CliClient,
  type ClientEvent,
  connectClient,
  startCli,
  startServer,
  TEST_CACHE,
  type TestClient,
  waitForReady,
} from "./_helpers.ts";
import { deadline, pgrep, until } from "./_util.ts";

// ---------------------------------------------------------------------------------------------
// Small bounded-wait helpers

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Plays, failing after 5 s when the server's `stream-start` does not answer (a PLAY that hangs
 * must fail the test, not stall it).
 */
function _play(
  client: TestClient,
  title: string,
  options: { quality: number | "auto"; sink: (info: StreamStartMessage) => MediaSink },
): Promise<StreamStartMessage> {
  return deadline(client.session.play(title, options), 5_000, `PLAY ${title} to be answered`);
}

/** SIGKILLs a child unless it has exited. */
function _kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
}

/** Waits for a segment event after the first `from` events that satisfies `predicate`. */
async function _segmentAfter(
  client: TestClient,
  from: number,
  predicate: (segment: SegmentMessage) => boolean,
  timeoutMs: number,
): Promise<{ segment: SegmentMessage; at: number }> {
  const event = await client.waitFor(
    (e) => e.kind === "segment" && client.events.indexOf(e) >= from && predicate(e.segment),
    timeoutMs,
  );
  return {
    segment: (event as Extract<ClientEvent, { kind: "segment" }>).segment,
    at: performance.now(),
  };
}

/** A unique word to put in a player's command line, to find the process later. */
function _marker(): string {
  return `psmark${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * A `--player` value: a real ffmpeg decoder whose command line carries `marker` (as output
 * metadata, which `-f null` ignores).
 */
function _playerSpec(marker: string): string {
  return `ffmpeg -v error -i pipe:0 -metadata comment=${marker} -f null -`;
}

/** Matches the player's own command line, not the CLI's (which also carries the marker). */
function _playerPattern(marker: string): string {
  return `^(\\S*/)?ffmpeg .*${marker}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding: ffprobe reading stdin, listing every decoded frame and the streams

interface ProbeResult {
  /** ffprobe's stderr (-v warning): must be empty for a clean stream. */
  stderr: string;
  code: number;
  /** Decoded video frames, in order. */
  video: { width: number; height: number; pts: number }[];
  /** Decoded audio frames. */
  audioFrames: number;
  /** Codec types of the streams found. */
  streams: string[];
}

/** Runs ffprobe over bytes fed on stdin; each frame is decoded (`-show_frames`). */
class Probe {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly result: Promise<ProbeResult>;
  /** Set when ffprobe refused input (it exited early). */
  writeError?: string;

  constructor() {
    this.#child = new Deno.Command("ffprobe", {
      args: [
        "-v",
        "warning",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-show_entries",
        "frame=media_type,width,height,pts_time:stream=codec_type",
        "-of",
        "json",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const child = this.#child;
    this.result = (async () => {
      const [out, err, status] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.status,
      ]);
      type Entry = Record<string, string | number | undefined>;
      const json = JSON.parse(out || "{}") as { frames?: Entry[]; streams?: Entry[] };
      const frames = json.frames ?? [];
      return {
        stderr: err,
        code: status.code,
        video: frames.filter((f) => f.media_type === "video").map((f) => ({
          width: Number(f.width),
          height: Number(f.height),
          pts: Number(f.pts_time),
        })),
        audioFrames: frames.filter((f) => f.media_type === "audio").length,
        streams: (json.streams ?? []).map((s) => String(s.codec_type)),
      };
    })();
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.writeError !== undefined) return;
    try {
      await this.#writer.write(data);
    } catch (error) {
      this.writeError = (error as Error).message;
    }
  }

  async end(): Promise<ProbeResult> {
    await this.#writer.close().catch(() => {});
    return await deadline(this.result, 30_000, "ffprobe to finish");
  }

  /** For cleanup after a failure. */
  kill(): void {
    this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Probes the concatenation of whole files. */
async function _probeFiles(paths: string[]): Promise<ProbeResult> {
  const probe = new Probe();
  for (const path of paths) await probe.write(await Deno.readFile(path));
  return await probe.end();
}

/** The runs of consecutive equal frame sizes, e.g. ["426x240", "1280x720"]. */
function _sizeRuns(video: ProbeResult["video"]): string[] {
  const runs: string[] = [];
  for (const f of video) {
    const size = `${f.width}x${f.height}`;
    if (runs[runs.length - 1] !== size) runs.push(size);
  }
  return runs;
}

/**
 * The test's player: every byte goes to a real decoder (ffprobe) and through the client's own
 * {@linkcode ValidatingSink}; it counts bytes and remembers when they arrived.
 */
class DecodingSink implements MediaSink {
  readonly probe = new Probe();
  readonly validator: ValidatingSink;
  bytes = 0;
  firstByteAt?: number;
  lastByteAt?: number;
  ended?: "finished" | "stopped" | "error";

  constructor(info: StreamStartMessage) {
    this.validator = new ValidatingSink(info.container);
  }

  async write(data: Uint8Array): Promise<void> {
    const now = performance.now();
    this.firstByteAt ??= now;
    this.lastByteAt = now;
    this.bytes += data.length;
    this.validator.write(data);
    await this.probe.write(data);
  }

  close(reason: "finished" | "stopped" | "error"): void {
    this.ended = reason;
    this.validator.close(reason);
  }
}

/** Counts bytes only (for STOP: what arrives after the confirmation). */
class CountingSink implements MediaSink {
  bytes = 0;
  lastByteAt?: number;
  ended?: "finished" | "stopped" | "error";
  write(data: Uint8Array): void {
    this.bytes += data.length;
    this.lastByteAt = performance.now();
  }
  close(reason: "finished" | "stopped" | "error"): void {
    this.ended = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// The prepared segments, read from the server's cache (the reference for bytes and frames)

interface Manifest {
  name: string;
  duration: number;
  fps: number;
  hasAudio: boolean;
  renditions: {
    height: number;
    width: number;
    bitrate: number;
    segments: { index: number; start: number; duration: number; bytes: number; path: string }[];
  }[];
}

/** Finds the prepared folder the server streams `info` from (name and bitrates match). */
async function _manifestFor(info: StreamStartMessage, cacheDir = TEST_CACHE): Promise<Manifest> {
  const root = `${cacheDir}/prepared`;
  for await (const entry of Deno.readDir(root)) {
    if (!entry.isDirectory || entry.name.startsWith(".")) continue;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await Deno.readTextFile(`${root}/${entry.name}/manifest.json`));
    } catch {
      continue;
    }
    if (manifest.name !== info.title) continue;
    const same = manifest.renditions.length === info.renditions.length &&
      manifest.renditions.every((r, i) =>
        r.height === info.renditions[i].height && r.bitrate === info.renditions[i].bitrate
      );
    if (!same) continue;
    for (const r of manifest.renditions) {
      for (const s of r.segments) s.path = `${root}/${entry.name}/${(s as { file?: string }).file}`;
    }
    return manifest;
  }
  throw new Error(`No prepared folder for "${info.title}" in ${root}`);
}

/** The prepared segment the server sent for a segment event. */
function _preparedSegment(manifest: Manifest, segment: SegmentMessage) {
  const rendition = manifest.renditions.find((r) => r.height === segment.height);
  ok(rendition, `no ${segment.height}p rendition of "${manifest.name}"`);
  return rendition.segments[segment.index];
}

function _segments(client: TestClient, streamId: number): SegmentMessage[] {
  return client.events.flatMap((e) =>
    e.kind === "segment" && e.segment.streamId === streamId ? [e.segment] : []
  );
}

function _isEnd(streamId: number) {
  return (e: ClientEvent) => e.kind === "stream-end" && e.end.streamId === streamId;
}

/**
 * Plays a title to the end into a {@linkcode DecodingSink} and checks everything the issue asks of
 * a complete stream: the decoder is silent, every byte of every prepared segment arrived, the
 * frame count and duration match the title and the reference, audio is there iff the title has it.
 */
async function _playToEnd(
  client: TestClient,
  title: string,
  quality: number | "auto",
  options: { sinks?: Set<DecodingSink>; cacheDir?: string } = {},
): Promise<{ info: StreamStartMessage; sink: DecodingSink; probe: ProbeResult }> {
  let sink: DecodingSink | undefined;
  const info = await _play(client, title, {
    quality,
    sink: (i) => {
      sink = new DecodingSink(i);
      options.sinks?.add(sink);
      return sink;
    },
  });
  ok(sink);
  const end = await client.waitFor(_isEnd(info.streamId), 60_000);
  equal(end.kind === "stream-end" && end.end.reason, "finished");
  const probe = await sink.probe.end();
  await _checkComplete(client, info, sink, probe, options.cacheDir);
  return { info, sink, probe };
}

async function _checkComplete(
  client: TestClient,
  info: StreamStartMessage,
  sink: DecodingSink,
  probe: ProbeResult,
  cacheDir?: string,
) {
  const label = `"${info.title}" for ${client.session.name}`;
  equal(sink.ended, "finished", label);
  equal(sink.probe.writeError, undefined, `${label}: the decoder refused input`);
  equal(probe.code, 0, `${label}: ffprobe exit code`);
  equal(probe.stderr, "", `${label}: decoder errors/warnings`);
  equal(sink.validator.errors, 0, `${label}: MPEG-TS sync errors`);
  // Every segment, in order, each exactly as prepared.
  const segments = _segments(client, info.streamId);
  const manifest = await _manifestFor(info, cacheDir);
  deepEqual(segments.map((s) => s.index), manifest.renditions[0].segments.map((s) => s.index));
  for (const s of segments) {
    equal(s.bytes, _preparedSegment(manifest, s).bytes, `${label} #${s.index}`);
  }
  equal(sink.bytes, segments.reduce((n, s) => n + s.bytes, 0), `${label}: bytes received`);
  // Frames: as many as the title has (duration x fps, +-1), and as the reference decodes.
  const expected = Math.round(info.duration * info.fps);
  ok(
    Math.abs(probe.video.length - expected) <= 1,
    `${label}: ${probe.video.length} video frames, expected ${expected} +-1`,
  );
  const span = probe.video[probe.video.length - 1].pts - probe.video[0].pts + 1 / info.fps;
  ok(Math.abs(span - info.duration) <= 1.01 / info.fps, `${label}: ${span} s of video`);
  const reference = await _probeFiles(segments.map((s) => _preparedSegment(manifest, s).path));
  equal(probe.video.length, reference.video.length, `${label}: frames vs the prepared segments`);
  equal(
    probe.audioFrames,
    reference.audioFrames,
    `${label}: audio frames vs the prepared segments`,
  );
  // Audio iff the title has it.
  equal(probe.streams.includes("audio"), info.hasAudio, `${label}: audio stream`);
  equal(probe.audioFrames > 0, info.hasAudio, `${label}: audio frames`);
  ok(probe.streams.includes("video"));
}

/** Starts a CLI whose player is a real ffmpeg decoder with a marker in its command line. */
function _startPlayerCli(port: number, name: string, marker: string): Promise<CliClient> {
  return startCli(port, name, { args: ["--ephemeral", "--player", _playerSpec(marker)] });
}

async function _listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    found.push(path);
    if (entry.isDirectory) found.push(...await _listFiles(path));
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The adaptive-switching title: 30 s of 720p + tone, generated into a temporary library

const DRIFT_SECONDS = 30;

async function _startDriftServer(root: string) {
  const videos = `${root}/videos`;
  await Deno.mkdir(videos);
  const source = await new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc2=size=1280x720:rate=25:duration=${DRIFT_SECONDS}`,
      "-f",
      "lavfi",
      "-i",
      `sine=frequency=440:duration=${DRIFT_SECONDS}`,
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-c:a",
      "aac",
      "-shortest",
      `${videos}/drift_720p.mp4`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  equal(source.code, 0, new TextDecoder().decode(source.stderr));
  return await startServer({ args: ["--videos", videos], cacheDir: `${root}/cache` });
}

// ---------------------------------------------------------------------------------------------

Deno.test("streaming end to end: play, switch, adapt, stop, message, many viewers, no leftovers", async (t) => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const sinks = new Set<DecodingSink>();
  const driftRoot = await Deno.makeTempDir({ prefix: "peerstream-drift-" });
  cleanup.push(() => Deno.remove(driftRoot, { recursive: true }));
  // The long title is generated and prepared while the other steps run.
  const drift = _startDriftServer(driftRoot);
  drift.catch(() => {});
  cleanup.push(async () => {
    const server = await drift.catch(() => undefined);
    await server?.stop();
  });
  const server = await startServer({ waitReady: true });
  cleanup.push(() => server.stop());
  const figures: string[] = [];
  try {
    await t.step(
      "PLAY of a whole title decodes cleanly and completely, audio iff the title has it",
      async () => {
        const viewer = await connectClient(server.port, "fullplay");
        try {
          const bars = await _playToEnd(viewer, "bars", 240, { sinks });
          equal(bars.probe.video.length, 200); // 8 s x 25 fps
          deepEqual(_sizeRuns(bars.probe.video), ["428x240"]);
          const pattern = await _playToEnd(viewer, "pattern", "auto", { sinks });
          equal(pattern.info.hasAudio, false);
          deepEqual(pattern.probe.streams, ["video"]);
        } finally {
          await viewer.session.quit();
        }
      },
    );

    await t.step(
      "setQuality() switches 240p -> 720p -> 480p at segment boundaries, decoding cleanly",
      async () => {
        const viewer = await connectClient(server.port, "switcher");
        try {
          let sink: DecodingSink | undefined;
          const info = await _play(viewer, "testcard", {
            quality: 240,
            sink: (i) => {
              sink = new DecodingSink(i);
              sinks.add(sink);
              return sink;
            },
          });
          await viewer.waitFor((e) => e.kind === "segment");
          await deadline(viewer.session.setQuality(720), 5_000, "QUALITY 720");
          await viewer.waitFor((e) => e.kind === "segment" && e.segment.height === 720, 15_000);
          await deadline(viewer.session.setQuality(480), 5_000, "QUALITY 480");
          await viewer.waitFor(_isEnd(info.streamId), 30_000);
          const probe = await sink!.probe.end();
          const heights = _segments(viewer, info.streamId).map((s) => s.height);
          const order = heights.filter((h, i) => h !== heights[i - 1]);
          deepEqual(order, [240, 720, 480], `segment heights ${heights}`);
          deepEqual(_sizeRuns(probe.video), ["426x240", "1280x720", "854x480"]);
          await _checkComplete(viewer, info, sink!, probe);
        } finally {
          await viewer.session.quit();
        }
      },
    );

    await t.step("stop() mid-stream: once confirmed, no media of the stream arrives", async () => {
      // Tapped: the session drops media of a stream it no longer plays, so the check reads what
      // the server sent, off the socket.
      const viewer = await connectClient(server.port, "stopper", { tap: true });
      try {
        // A fast reader (everything sent so far has arrived) and a slow one (2 Mbit/s, below the
        // 720p rate: media is still in flight, in the socket buffers, when STOP goes out).
        for (const bytesPerSecond of [Infinity, 250_000]) {
          const sink = new CountingSink();
          viewer.throttle.bytesPerSecond = bytesPerSecond;
          const info = await _play(viewer, "testcard", { quality: 720, sink: () => sink });
          const total = (await _manifestFor(info)).renditions[2].segments.reduce(
            (n, s) => n + s.bytes,
            0,
          );
          await viewer.waitFor((e) => e.kind === "segment" && e.segment.streamId === info.streamId);
          const stopAt = performance.now();
          const atRequest = sink.bytes;
          await deadline(viewer.session.stop(), 10_000, "STOP to be confirmed");
          const confirmedAt = performance.now();
          equal(sink.ended, "stopped");
          equal(viewer.session.stream, undefined);
          const atStop = sink.bytes;
          ok(atStop < total, "the stream was stopped before its end");
          // The answer to a later request closes the window: the server writes in order, so
          // media it sent after confirming STOP would have been read before this answer.
          await deadline(viewer.session.list(), 10_000, "LIST after STOP");
          equal(sink.bytes, atStop, "media bytes after STOP was confirmed");
          const ofStream = viewer.wire.filter((m) => m.streamId === info.streamId);
          const end = ofStream.findIndex((m) => m.type === "stream-end");
          ok(end >= 0, "stream-end on the wire");
          deepEqual(ofStream.slice(end + 1), [], "sent after STOP was confirmed");
          equal(viewer.events.filter(_isEnd(info.streamId)).length, 1);
          figures.push(
            `STOP (reader ${
              bytesPerSecond === Infinity ? "unthrottled" : `at ${bytesPerSecond} B/s`
            }): -> confirmed ${(confirmedAt - stopAt).toFixed(1)} ms; -> last media byte ${
              Math.max(0, (sink.lastByteAt ?? stopAt) - stopAt).toFixed(1)
            } ms; ${
              atStop - atRequest
            } bytes arrived between STOP and its confirmation (${atStop} of ${total} in all)`,
          );
        }
      } finally {
        await viewer.session.quit();
      }
    });

    await t.step(
      "a message sent to a viewer arrives during playback, before stream-end",
      async () => {
        const viewer = await connectClient(server.port, "watcher");
        const friend = await connectClient(server.port, "friend");
        try {
          const info = await _play(viewer, "testcard", {
            quality: 240,
            sink: () => new CountingSink(),
          });
          await viewer.waitFor((e) => e.kind === "segment");
          await deadline(friend.session.sendText("watcher", "seen the test card?"), 5_000, "send");
          await viewer.waitFor(_isEnd(info.streamId), 30_000);
          const message = viewer.events.findIndex((e) =>
            e.kind === "message" && e.message.text === "seen the test card?"
          );
          const end = viewer.events.findIndex(_isEnd(info.streamId));
          ok(message >= 0, "message received");
          ok(message < end, `message at event ${message}, stream-end at ${end}`);
        } finally {
          await viewer.session.quit();
          await friend.session.quit();
        }
      },
    );

    await t.step("four concurrent viewers all receive complete, decodable streams", async () => {
      const plan: [string, string, number | "auto"][] = [
        ["viewa", "testcard", 720],
        ["viewb", "testcard", "auto"],
        ["viewc", "bars", 480],
        ["viewd", "pattern", "auto"],
      ];
      const viewers = await Promise.all(plan.map(([name]) => connectClient(server.port, name)));
      try {
        const results = await Promise.all(
          plan.map(([, title, quality], i) => _playToEnd(viewers[i], title, quality, { sinks })),
        );
        deepEqual(results.map((r) => r.probe.streams.includes("audio")), [true, true, true, false]);
      } finally {
        await Promise.all(viewers.map((v) => v.session.quit()));
      }
    });

    await t.step(
      "a CLI playing a title to the end writes no file (fresh HOME and cwd)",
      async () => {
        const marker = _marker();
        const cli = await _startPlayerCli(server.port, "nofiles", marker);
        cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
        try {
          await cli.type("PLAY bars");
          await cli.out.waitFor(/^\* playing "bars"/, { timeoutMs: 10_000 });
          await cli.out.waitFor(/^\* finished "bars"/, { timeoutMs: 30_000 });
          await cli.type("QUIT");
          equal(await cli.finish(), 0, cli.err.lines.join("\n"));
          deepEqual(cli.err.lines.filter((l) => l.trim() !== ""), []);
          deepEqual(await _listFiles(cli.home), []);
          deepEqual(await pgrep(_playerPattern(marker)), []);
        } finally {
          _kill(cli.child);
          await cli.finish().catch(() => {});
        }
      },
    );

    await t.step("CLI STOP ends the player process", async () => {
      const marker = _marker();
      const cli = await _startPlayerCli(server.port, "clistop", marker);
      cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
      try {
        await cli.type("PLAY testcard 720");
        await cli.out.waitFor(/^\* testcard: 720p/, { timeoutMs: 10_000 });
        ok((await pgrep(_playerPattern(marker))).length === 1, "the player runs");
        await cli.type("STOP");
        await cli.out.waitFor(/^\* stopped "testcard"/, { timeoutMs: 20_000 });
        deepEqual(await pgrep(_playerPattern(marker)), [], "player left after STOP");
        await cli.type("QUIT");
        equal(await cli.finish(), 0);
      } finally {
        _kill(cli.child);
        await cli.finish().catch(() => {});
      }
    });

    await t.step("a CLI killed while playing does not leave its player behind", async () => {
      const marker = _marker();
      const cli = await _startPlayerCli(server.port, "clikill", marker);
      cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
      try {
        await cli.type("PLAY testcard 240");
        await cli.out.waitFor(/^\* testcard: 240p/, { timeoutMs: 10_000 });
        ok((await pgrep(_playerPattern(marker))).length === 1, "the player runs");
        const killedAt = performance.now();
        _kill(cli.child);
        await cli.finish();
        await until(async () => (await pgrep(_playerPattern(marker))).length === 0, {
          ms: 5_000,
          what: "the player to end with its killed CLI",
        });
        figures.push(
          `CLI SIGKILLed while playing: player gone after ${
            (performance.now() - killedAt).toFixed(0)
          } ms`,
        );
      } finally {
        for (const pid of await pgrep(_playerPattern(marker))) Deno.kill(pid, "SIGKILL");
      }
    });

    await t.step(
      "auto quality steps down when the viewer reads slowly and back up when it recovers",
      async () => {
        const driftServer = await deadline(drift, 30_000, "the long title's server to start");
        const waitStarted = performance.now();
        await waitForReady(driftServer.port, 90_000);
        const prepared = driftServer.out.lines.find((l) => /Prepared "drift"/.test(l));
        figures.push(
          `drift (${DRIFT_SECONDS} s 720p): ${prepared?.replace(/^.*Prepared/, "prepared")}; ${
            ((performance.now() - waitStarted) / 1000).toFixed(1)
          } s still to wait when this step began`,
        );
        const viewer = await connectClient(driftServer.port, "adaptive");
        let tracing = true;
        let tracer = Promise.resolve();
        try {
          let sink: DecodingSink | undefined;
          const started = performance.now();
          const info = await _play(viewer, "drift", {
            quality: "auto",
            sink: (i) => {
              sink = new DecodingSink(i);
              sinks.add(sink);
              return sink;
            },
          });
          deepEqual(info.renditions.map((r) => r.height), [240, 480, 720]);
          const top = info.renditions[2];
          const times = new Map<number, number>();
          const trace = () =>
            _segments(viewer, info.streamId).map((s) =>
              `#${s.index}:${s.height}p@${
                (((times.get(s.index) ?? 0) - started) / 1000).toFixed(1)
              }s`
            ).join(" ");
          // Note when each segment event arrived (polling at 50 ms), for the report.
          tracer = (async () => {
            while (tracing) {
              for (const s of _segments(viewer, info.streamId)) {
                if (!times.has(s.index)) times.set(s.index, performance.now());
              }
              await _sleep(50);
            }
          })();
          const fail = (error: unknown): never => {
            throw new Error(`${(error as Error).message}\nsegments: ${trace()}`);
          };
          // 1. Unthrottled, auto climbs to the top.
          await _segmentAfter(viewer, 0, (s) => s.height === 720, 15_000).catch(fail);
          // 2. Read at a third of the top bitrate: the server must step down.
          const slowBytesPerSecond = top.bitrate / 8 / 3;
          viewer.throttle.bytesPerSecond = slowBytesPerSecond;
          const throttledAt = performance.now();
          const down = await _segmentAfter(
            viewer,
            viewer.events.length,
            (s) => s.height < 720,
            30_000,
          ).catch(fail);
          const downAt = down.at;
          // 3. Read at full speed again: back up.
          viewer.throttle.bytesPerSecond = Infinity;
          await _segmentAfter(
            viewer,
            viewer.events.length,
            (s) => s.height > down.segment.height,
            20_000,
          )
            .catch(fail);
          const upAt = performance.now();
          await viewer.waitFor(_isEnd(info.streamId), 60_000);
          const probe = await sink!.probe.end();
          await _checkComplete(viewer, info, sink!, probe, `${driftRoot}/cache`);
          figures.push(
            `auto: read throttled to ${(slowBytesPerSecond * 8 / 1e6).toFixed(2)} Mbit/s (720p is ${
              (top.bitrate / 1e6).toFixed(2)
            } Mbit/s): step-down seen ${
              ((downAt - throttledAt) / 1000).toFixed(1)
            } s after throttling, step-up ${
              ((upAt - downAt) / 1000).toFixed(1)
            } s after unthrottling; segments ${trace()}; total ${
              ((performance.now() - started) / 1000).toFixed(1)
            } s`,
          );
        } finally {
          tracing = false;
          await tracer;
          await viewer.session.quit();
        }
      },
    );

    await t.step(
      "every quality decodes to a first frame [figures: time to it; rates]",
      async () => {
        const viewer = await connectClient(server.port, "timer");
        try {
          for (const quality of [240, 480, 720]) {
            for (const probing of ["default", "fast"] as const) {
              const decoder = new Deno.Command("ffmpeg", {
                args: [
                  "-v",
                  "error",
                  ...(probing === "fast" ? ["-probesize", "32", "-analyzeduration", "0"] : []),
                  "-f",
                  "mpegts",
                  "-i",
                  "pipe:0",
                  "-f",
                  "null",
                  "-",
                  "-stats_period",
                  "0.02",
                  "-progress",
                  "pipe:1",
                ],
                stdin: "piped",
                stdout: "piped",
                stderr: "null",
              }).spawn();
              const writer = decoder.stdin.getWriter();
              let firstByte = 0;
              let firstFrame = 0;
              const started = performance.now();
              const progress = (async () => {
                let text = "";
                for await (const chunk of decoder.stdout.pipeThrough(new TextDecoderStream())) {
                  text += chunk;
                  if (firstFrame === 0 && /^frame=[1-9]/m.test(text)) {
                    firstFrame = performance.now();
                  }
                }
              })();
              const info = await _play(viewer, "testcard", {
                quality,
                sink: () => ({
                  async write(data) {
                    if (firstByte === 0) firstByte = performance.now();
                    await writer.write(data).catch(() => {});
                  },
                  close() {
                    writer.close().catch(() => {});
                  },
                }),
              });
              // No decoded frame is a failure, not a figure of "none".
              await until(() => firstFrame !== 0, {
                ms: 15_000,
                what: `a first decoded frame of testcard ${quality}p (${probing} probing)`,
              });
              await deadline(viewer.session.stop(), 5_000, "STOP");
              await deadline(decoder.status, 10_000, "decoder exit");
              await progress;
              figures.push(
                `testcard ${quality}p (${probing} probing): PLAY -> first byte ${
                  (firstByte - started).toFixed(1)
                } ms, -> first decoded frame ${
                  (firstFrame - started).toFixed(0)
                } ms (progress granularity 20 ms)`,
              );
              void info;
            }
          }
          const sink = { write() {}, close() {} };
          const info = await _play(viewer, "testcard", { quality: 240, sink: () => sink });
          await deadline(viewer.session.stop(), 5_000, "STOP");
          const manifest = await _manifestFor(info);
          for (const r of manifest.renditions) {
            const bytes = r.segments.reduce((n, s) => n + s.bytes, 0);
            const seconds = r.segments.reduce((n, s) => n + s.duration, 0);
            figures.push(
              `testcard ${r.height}p: ${bytes} bytes / ${seconds} s = ${
                Math.round(bytes / seconds)
              } B/s per viewer (${(bytes * 8 / seconds / 1e6).toFixed(2)} Mbit/s)`,
            );
          }
        } finally {
          await viewer.session.quit();
        }
      },
    );

    await t.step(
      "server stop ends the players of its viewers and leaves no ffmpeg behind",
      async () => {
        const marker = _marker();
        const cli = await _startPlayerCli(server.port, "lastone", marker);
        cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
        try {
          await cli.type("PLAY testcard 480");
          await cli.out.waitFor(/^\* testcard: 480p/, { timeoutMs: 10_000 });
          ok((await pgrep(_playerPattern(marker))).length === 1, "the player runs");
          const driftServer = await drift;
          await Promise.all([server.stop(), driftServer.stop()]);
          await until(async () => (await pgrep(_playerPattern(marker))).length === 0, {
            ms: 5_000,
            what: "the player to end once the server stopped",
          });
          await deadline(cli.child.status, 5_000, "the CLI to exit once the server stopped");
          // Nothing the servers started (ffmpeg preparing into the caches) survives them.
          deepEqual(await pgrep(`ffmpeg .*${driftRoot}`), []);
          deepEqual(await pgrep(`ffmpeg .*${TEST_CACHE}`), []);
        } finally {
          _kill(cli.child);
          await cli.finish().catch(() => {});
        }
      },
    );
  } finally {
    for (const sink of sinks) sink.probe.kill();
    for (const sink of sinks) await sink.probe.result.catch(() => {});
    for (const step of cleanup.reverse()) await step();
    for (const line of figures) console.log(`[figures] ${line}`);
  }
});

Deno.test("PlayerProcess.kill() ends a player that ignores SIGTERM", async () => {
  // mpv with its default video output under Xvfb ignores SIGTERM; STOP must not wait for it forever.
  const seconds = `60.${Math.floor(Math.random() * 1e6)}`;
  const player = new PlayerProcess(["sh", "-c", `trap '' TERM; exec sleep ${seconds}`]);
  try {
    // Once `sleep` runs, the trap is set (and inherited): only then is SIGTERM ignored.
    await until(async () => (await pgrep(`^sleep ${seconds}$`)).length === 1, {
      ms: 20_000,
      what: "the sleep under the SIGTERM trap",
    });
    await player.write(new Uint8Array(188));
    const started = performance.now();
    await deadline(player.kill(), PLAYER_KILL_GRACE_MS + 3_000, "the player to end");
    await player.exited;
    ok(performance.now() - started >= PLAYER_KILL_GRACE_MS - 50, "SIGTERM was not ignored");
    deepEqual(await pgrep(`^sleep ${seconds}$`), []);
  } finally {
    for (const pid of await pgrep(`^sleep ${seconds}$`)) Deno.kill(pid, "SIGKILL");
    await deadline(player.exited, 5_000, "the player to exit").catch(() => {});
  }
});
