/**
 * End-to-end streaming: real server processes, in-process clients and real CLI clients, and a real
 * decoder (ffprobe/ffmpeg reading stdin) as the player. One server is shared by most steps; the
 * adaptive-switching step gets its own server with a longer title generated at test time.
 *
 * Timings are measured and printed (lines starting with "[figures]"), never asserted.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { connectClient, startServer, TEST_CACHE, waitForReady } from "./_helpers.ts";
import {
  checkComplete,
  DRIFT_SECONDS,
  isStreamEnd,
  killChild,
  listFiles,
  manifestFor,
  newMarker,
  playerPattern,
  playToEnd,
  playWithin,
  segmentAfter,
  sleep,
  startDriftServer,
  startPlayerCli,
  streamSegments,
} from "./_stream.ts";
import { CountingSink, DecodingSink, sizeRuns } from "./_stream_probe.ts";
import { deadline, pgrep, until } from "./_util.ts";

Deno.test("streaming end to end: play, switch, adapt, stop, message, many viewers, no leftovers", async (t) => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const sinks = new Set<DecodingSink>();
  const driftRoot = await Deno.makeTempDir({ prefix: "peerstream-drift-" });
  cleanup.push(() => Deno.remove(driftRoot, { recursive: true }));
  // The long title is generated and prepared while the other steps run.
  const drift = startDriftServer(driftRoot);
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
          const bars = await playToEnd(viewer, "bars", 240, { sinks });
          equal(bars.probe.video.length, 200); // 8 s x 25 fps
          deepEqual(sizeRuns(bars.probe.video), ["428x240"]);
          const pattern = await playToEnd(viewer, "pattern", "auto", { sinks });
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
          const info = await playWithin(viewer, "testcard", {
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
          await viewer.waitFor(isStreamEnd(info.streamId), 30_000);
          const probe = await sink!.probe.end();
          const heights = streamSegments(viewer, info.streamId).map((s) => s.height);
          const order = heights.filter((h, i) => h !== heights[i - 1]);
          deepEqual(order, [240, 720, 480], `segment heights ${heights}`);
          deepEqual(sizeRuns(probe.video), ["426x240", "1280x720", "854x480"]);
          await checkComplete(viewer, info, sink!, probe);
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
          const info = await playWithin(viewer, "testcard", { quality: 720, sink: () => sink });
          const total = (await manifestFor(info)).renditions[2].segments.reduce(
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
          equal(viewer.events.filter(isStreamEnd(info.streamId)).length, 1);
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
          const info = await playWithin(viewer, "testcard", {
            quality: 240,
            sink: () => new CountingSink(),
          });
          await viewer.waitFor((e) => e.kind === "segment");
          await deadline(friend.session.sendText("watcher", "seen the test card?"), 5_000, "send");
          await viewer.waitFor(isStreamEnd(info.streamId), 30_000);
          const message = viewer.events.findIndex((e) =>
            e.kind === "message" && e.message.text === "seen the test card?"
          );
          const end = viewer.events.findIndex(isStreamEnd(info.streamId));
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
          plan.map(([, title, quality], i) => playToEnd(viewers[i], title, quality, { sinks })),
        );
        deepEqual(results.map((r) => r.probe.streams.includes("audio")), [true, true, true, false]);
      } finally {
        await Promise.all(viewers.map((v) => v.session.quit()));
      }
    });

    await t.step(
      "a CLI playing a title to the end writes no file (fresh HOME and cwd)",
      async () => {
        const marker = newMarker();
        const cli = await startPlayerCli(server.port, "nofiles", marker);
        cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
        try {
          await cli.type("PLAY bars");
          await cli.out.waitFor(/^\* playing "bars"/, { timeoutMs: 10_000 });
          await cli.out.waitFor(/^\* finished "bars"/, { timeoutMs: 30_000 });
          await cli.type("QUIT");
          equal(await cli.finish(), 0, cli.err.lines.join("\n"));
          deepEqual(cli.err.lines.filter((l) => l.trim() !== ""), []);
          deepEqual(await listFiles(cli.home), []);
          deepEqual(await pgrep(playerPattern(marker)), []);
        } finally {
          killChild(cli.child);
          await cli.finish().catch(() => {});
        }
      },
    );

    await t.step("CLI STOP ends the player process", async () => {
      const marker = newMarker();
      const cli = await startPlayerCli(server.port, "clistop", marker);
      cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
      try {
        await cli.type("PLAY testcard 720");
        await cli.out.waitFor(/^\* testcard: 720p/, { timeoutMs: 10_000 });
        ok((await pgrep(playerPattern(marker))).length === 1, "the player runs");
        await cli.type("STOP");
        await cli.out.waitFor(/^\* stopped "testcard"/, { timeoutMs: 20_000 });
        deepEqual(await pgrep(playerPattern(marker)), [], "player left after STOP");
        await cli.type("QUIT");
        equal(await cli.finish(), 0);
      } finally {
        killChild(cli.child);
        await cli.finish().catch(() => {});
      }
    });

    await t.step("a CLI killed while playing does not leave its player behind", async () => {
      const marker = newMarker();
      const cli = await startPlayerCli(server.port, "clikill", marker);
      cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
      try {
        await cli.type("PLAY testcard 240");
        await cli.out.waitFor(/^\* testcard: 240p/, { timeoutMs: 10_000 });
        ok((await pgrep(playerPattern(marker))).length === 1, "the player runs");
        const killedAt = performance.now();
        killChild(cli.child);
        await cli.finish();
        await until(async () => (await pgrep(playerPattern(marker))).length === 0, {
          ms: 5_000,
          what: "the player to end with its killed CLI",
        });
        figures.push(
          `CLI SIGKILLed while playing: player gone after ${
            (performance.now() - killedAt).toFixed(0)
          } ms`,
        );
      } finally {
        for (const pid of await pgrep(playerPattern(marker))) Deno.kill(pid, "SIGKILL");
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
          const info = await playWithin(viewer, "drift", {
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
            streamSegments(viewer, info.streamId).map((s) =>
              `#${s.index}:${s.height}p@${
                (((times.get(s.index) ?? 0) - started) / 1000).toFixed(1)
              }s`
            ).join(" ");
          // Note when each segment event arrived (polling at 50 ms), for the report.
          tracer = (async () => {
            while (tracing) {
              for (const s of streamSegments(viewer, info.streamId)) {
                if (!times.has(s.index)) times.set(s.index, performance.now());
              }
              await sleep(50);
            }
          })();
          const fail = (error: unknown): never => {
            throw new Error(`${(error as Error).message}\nsegments: ${trace()}`);
          };
          // 1. Unthrottled, auto climbs to the top.
          await segmentAfter(viewer, 0, (s) => s.height === 720, 15_000).catch(fail);
          // 2. Read at a third of the top bitrate: the server must step down.
          const slowBytesPerSecond = top.bitrate / 8 / 3;
          viewer.throttle.bytesPerSecond = slowBytesPerSecond;
          const throttledAt = performance.now();
          const down = await segmentAfter(
            viewer,
            viewer.events.length,
            (s) => s.height < 720,
            30_000,
          ).catch(fail);
          const downAt = down.at;
          // 3. Read at full speed again: back up.
          viewer.throttle.bytesPerSecond = Infinity;
          await segmentAfter(
            viewer,
            viewer.events.length,
            (s) => s.height > down.segment.height,
            20_000,
          )
            .catch(fail);
          const upAt = performance.now();
          await viewer.waitFor(isStreamEnd(info.streamId), 60_000);
          const probe = await sink!.probe.end();
          await checkComplete(viewer, info, sink!, probe, `${driftRoot}/cache`);
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
              const info = await playWithin(viewer, "testcard", {
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
          const info = await playWithin(viewer, "testcard", { quality: 240, sink: () => sink });
          await deadline(viewer.session.stop(), 5_000, "STOP");
          const manifest = await manifestFor(info);
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
        const marker = newMarker();
        const cli = await startPlayerCli(server.port, "lastone", marker);
        cleanup.push(() => Deno.remove(cli.home, { recursive: true }).catch(() => {}));
        try {
          await cli.type("PLAY testcard 480");
          await cli.out.waitFor(/^\* testcard: 480p/, { timeoutMs: 10_000 });
          ok((await pgrep(playerPattern(marker))).length === 1, "the player runs");
          const driftServer = await drift;
          await Promise.all([server.stop(), driftServer.stop()]);
          await until(async () => (await pgrep(playerPattern(marker))).length === 0, {
            ms: 5_000,
            what: "the player to end once the server stopped",
          });
          await deadline(cli.child.status, 5_000, "the CLI to exit once the server stopped");
          // Nothing the servers started (ffmpeg preparing into the caches) survives them.
          deepEqual(await pgrep(`ffmpeg .*${driftRoot}`), []);
          deepEqual(await pgrep(`ffmpeg .*${TEST_CACHE}`), []);
        } finally {
          killChild(cli.child);
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
