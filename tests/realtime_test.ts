/**
 * End to end with a real-time player (issue 8): the player is a real decoder that reads at
 * playback speed (`ffmpeg -re -i pipe:0 ... -f null -`, under `timeout -s KILL`), so a client that
 * read its socket at the player's pace would lag. Scenarios run side by side against one server
 * whose slow-consumer and pause limits are shortened with `PEERSTREAM_LIMITS`.
 *
 * Timings are printed as "[figures]" lines, never asserted; every wait has a generous deadline.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { SegmentMessage } from "../protocol/messages.ts";
import {
  type CliClient,
  type ClientEvent,
  connectClient,
  LOOPBACK_LIMITS,
  type ServerProcess,
  startCli,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { deadline, pgrep, processState, until } from "./_util.ts";

/**
 * Shortened limits: a stall of 2 s would end a stream that is not paused; a pause ends at 6 s.
 * Every client connects from 127.0.0.1, so the per-address limits are lifted as in every test.
 */
const LIMITS = {
  ...LOOPBACK_LIMITS,
  stallStepDownMs: 1_000,
  stallStopMs: 2_000,
  pauseTimeoutMs: 6_000,
};

interface RealtimePlayer {
  /** The `--player` value. */
  spec: string;
  /** Matches the decoder's own command line (not the wrapper's, nor the CLI's). */
  pattern: string;
  /** Where the decoder writes its errors. */
  log: string;
}

/** A real-time decoder with a unique marker, its errors going to a file of its own. */
function realtimePlayer(dir: string): RealtimePlayer {
  const marker = `rtmark${crypto.randomUUID().slice(0, 8)}`;
  const log = `${dir}/${marker}.log`;
  return {
    spec:
      `timeout -s KILL 120 sh -c "exec ffmpeg -v error -re -i pipe:0 -metadata comment=${marker} -f null - 2>>${log}"`,
    pattern: `^(\\S*/)?ffmpeg .*${marker}`,
    log,
  };
}

/** Starts a CLI with a real-time player. */
async function startRealtimeCli(
  server: ServerProcess,
  name: string,
  player: RealtimePlayer,
): Promise<CliClient> {
  return await startCli(server.port, name, { args: ["--ephemeral", "--player", player.spec] });
}

async function closeCli(cli: CliClient) {
  try {
    cli.child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await cli.finish().catch(() => {});
  await Deno.remove(cli.home, { recursive: true }).catch(() => {});
}

/** Runs scenarios side by side; fails with every scenario that failed, by name. */
async function scenarios(table: Record<string, () => Promise<void>>) {
  const names = Object.keys(table);
  const results = await Promise.allSettled(names.map((name) => table[name]()));
  const failures = results.flatMap((r, i) =>
    r.status === "rejected" ? [`${names[i]}: ${(r.reason as Error)?.stack ?? r.reason}`] : []
  );
  if (failures.length > 0) {
    throw new Error(`${failures.length} scenario(s) failed:\n${failures.join("\n\n")}`);
  }
}

function segments(client: TestClient): SegmentMessage[] {
  return client.events.flatMap((e) => e.kind === "segment" ? [e.segment] : []);
}

const figures: string[] = [];

/**
 * A CLI plays testcard with auto on a real-time player: auto reaches 720p on screen; a message
 * to it and its own message with `delivered`, and LIST, all arrive while it plays; SEEK then
 * restarts the player at the asked segment, which plays to the end.
 */
async function chatWhilePlaying(server: ServerProcess, dir: string) {
  const player = realtimePlayer(dir);
  const friend = await connectClient(server.port, "rt-friend");
  const cli = await startRealtimeCli(server, "rt-viewer", player);
  try {
    await cli.type("PLAY testcard");
    const started = performance.now();
    await cli.out.waitFor(/^\* testcard: 720p/, { timeoutMs: 15_000 });
    figures.push(
      `PLAY testcard auto -> 720p on screen (CLI notice): ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
    const [first] = await pgrep(player.pattern);
    ok(first, "the player runs");

    let t = performance.now();
    await friend.session.sendText("rt-viewer", "seen the test card?");
    await cli.out.waitFor(/^<rt-friend> seen the test card\?$/);
    figures.push(
      `message to a viewer during playback, delivered: ${(performance.now() - t).toFixed(0)} ms`,
    );
    t = performance.now();
    await cli.type("MESSAGE rt-friend yes, in 720p");
    await cli.out.waitFor(/^\* delivered to rt-friend$/);
    figures.push(`viewer's own message -> delivered: ${(performance.now() - t).toFixed(0)} ms`);
    await friend.waitFor((e) => e.kind === "message" && e.message.text === "yes, in 720p");
    t = performance.now();
    await cli.type("LIST");
    await cli.out.waitFor(/^testcard\s+240p 480p 720p/);
    figures.push(`LIST during playback: ${(performance.now() - t).toFixed(0)} ms`);
    // All of that happened while the stream played: the same player, nothing finished.
    deepEqual(await pgrep(player.pattern), [first], "the same player still plays");
    ok(!cli.out.lines.some((l) => l.startsWith("* finished")), "still playing");

    await cli.type("SEEK 0:08");
    await cli.out.waitFor(/^\* testcard from 0:08$/);
    await until(async () => {
      const pids = await pgrep(player.pattern);
      return pids.length === 1 && pids[0] !== first;
    }, { ms: 5_000, what: "one new player after SEEK" });
    await cli.out.waitFor(/^\* finished "testcard"$/, { timeoutMs: 20_000 });
    deepEqual(await pgrep(player.pattern), []);
    equal(await Deno.readTextFile(player.log), "", "decode errors");
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    deepEqual(cli.err.lines.filter((l) => l.trim() !== ""), []);
  } finally {
    await closeCli(cli);
    await friend.session.quit();
  }
}

/** Once the whole title has arrived, the player still plays the last seconds; STOP closes it. */
async function stopNearTheEnd(server: ServerProcess, dir: string) {
  const player = realtimePlayer(dir);
  const cli = await startRealtimeCli(server, "rt-stopper", player);
  try {
    await cli.type("PLAY pattern");
    await server.out.waitFor(/stream #\d+ "rt-stopper" pattern: finished/, { timeoutMs: 15_000 });
    equal((await pgrep(player.pattern)).length, 1, "the player still plays after the last byte");
    ok(!cli.out.lines.some((l) => l.startsWith("* finished")));
    const t = performance.now();
    await cli.type("STOP");
    await cli.out.waitFor(/^\* stopped "pattern"$/);
    deepEqual(await pgrep(player.pattern), [], "STOP closed the player");
    figures.push(
      `STOP after the last byte -> player gone and "stopped": ${
        (performance.now() - t).toFixed(0)
      } ms`,
    );
    ok(!cli.err.lines.some((l) => /nothing is playing/.test(l)));
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
  }
}

/** A second PLAY replaces the first: there are never two players. */
async function secondPlay(server: ServerProcess, dir: string) {
  const player = realtimePlayer(dir);
  const cli = await startRealtimeCli(server, "rt-replayer", player);
  try {
    await cli.type("PLAY testcard 240");
    await cli.out.waitFor(/^\* testcard: 240p/, { timeoutMs: 15_000 });
    const [first] = await pgrep(player.pattern);
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, (await pgrep(player.pattern)).length);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await cli.type("PLAY bars 240");
    await cli.out.waitFor(/^\* playing "bars"/);
    await cli.out.waitFor(/^\* bars: 240p/, { timeoutMs: 15_000 });
    // The window closes when the replacement is the only player (the first is gone).
    await until(async () => {
      const pids = await pgrep(player.pattern);
      return pids.length === 1 && pids[0] !== first;
    }, { ms: 15_000, what: "the new player alone" });
    sampling = false;
    await sampler;
    equal(most, 1, "never two players");
    equal((await pgrep(player.pattern)).length, 1);
    await cli.type("STOP");
    await cli.out.waitFor(/^\* stopped "bars"$/);
    deepEqual(await pgrep(player.pattern), []);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
  }
}

/**
 * A client killed with SIGKILL while paused cannot resume its frozen player, so the player must not
 * outlive it: the kernel kills it with the client (`setpriv --pdeathsig`). The player here is the
 * decoder itself, with no wrapper in between.
 */
async function killedWhilePaused(server: ServerProcess) {
  const marker = `rtorphan${crypto.randomUUID().slice(0, 8)}`;
  const spec = `ffmpeg -v error -re -i pipe:0 -metadata comment=${marker} -f null -`;
  const pattern = `^(\\S*/)?ffmpeg .*${marker}`;
  const cli = await startRealtimeCli(server, "rt-orphan", { spec, pattern, log: "" });
  try {
    await cli.type("PLAY bars 240");
    await cli.out.waitFor(/^\* bars: 240p/, { timeoutMs: 15_000 });
    await cli.type("PAUSE");
    await cli.out.waitFor(/^\* paused; RESUME to continue$/);
    const [pid] = await pgrep(pattern);
    ok(pid !== undefined, "the player runs");
    await until(async () => await processState(pid) === "T", {
      ms: 20_000,
      what: "the player is stopped",
    });
    cli.child.kill("SIGKILL");
    await cli.finish().catch(() => {});
    // Gone, or a zombie where nothing reaps orphans.
    await until(async () => ["", "Z"].includes(await processState(pid)), {
      ms: 10_000,
      what: "the player is gone",
    });
  } finally {
    for (const left of await pgrep(pattern)) Deno.kill(left, "SIGKILL");
    await closeCli(cli);
  }
}

/**
 * PAUSE for longer than the slow-consumer limit freezes the player (SIGSTOP, through its
 * `timeout` wrapper) and holds the stream; RESUME plays on to the end, decoding without errors.
 */
async function pauseLongerThanTheLimit(server: ServerProcess, dir: string) {
  const player = realtimePlayer(dir);
  const cli = await startRealtimeCli(server, "rt-pauser", player);
  try {
    await cli.type("PLAY bars 240");
    await cli.out.waitFor(/^\* bars: 240p/, { timeoutMs: 15_000 });
    await cli.type("PAUSE");
    await cli.out.waitFor(/^\* paused; RESUME to continue$/);
    const [pid] = await pgrep(player.pattern);
    await until(async () => await processState(pid) === "T", {
      ms: 20_000,
      what: "the player is stopped",
    });
    await new Promise((r) => setTimeout(r, LIMITS.stallStopMs + 1_500));
    equal(await processState(pid), "T", "still frozen");
    await cli.type("RESUME");
    await cli.out.waitFor(/^\* resumed$/);
    await cli.out.waitFor(/^\* finished "bars"$/, { timeoutMs: 30_000 });
    await server.out.waitFor(/stream #\d+ "rt-pauser" bars: finished/);
    ok(!server.out.lines.some((l) => /"rt-pauser".*SLOW_CONSUMER/.test(l)), "not a slow consumer");
    equal(await Deno.readTextFile(player.log), "", "decode errors");
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
  }
}

/**
 * A player paused from its own window (here: one that stops itself after 20 kB, as ffplay stops
 * reading on space) holds the stream, is never taken for a slow consumer, and plays to the end
 * once it reads again.
 */
async function playerPausedInItsWindow(server: ServerProcess) {
  const marker = `rtwin${crypto.randomUUID().slice(0, 8)}`;
  const spec =
    `timeout -s KILL 120 sh -c "head -c 20000 >/dev/null; kill -STOP $$; exec cat >/dev/null" ${marker}`;
  const cli = await startCli(server.port, "rt-windowed", {
    args: ["--ephemeral", "--player", spec],
  });
  try {
    await cli.type("PLAY testcard 240");
    await cli.out.waitFor(/^\* the player is not taking "testcard" .*holding the stream/, {
      timeoutMs: 20_000,
    });
    const [pid] = await pgrep(`^sh -c head -c 20000 .* ${marker}$`);
    ok(pid, "the player runs");
    equal(await processState(pid), "T", "it stopped itself");
    // Held past the stall limit (the subject here: a duration, not a wait for an event).
    await new Promise((r) => setTimeout(r, LIMITS.stallStopMs + 1_000));
    Deno.kill(pid, "SIGCONT");
    // Finishing proves it was never stopped as a slow consumer: that would have ended it first.
    await cli.out.waitFor(/^\* finished "testcard"$/, { timeoutMs: 30_000 });
    await server.out.waitFor(/stream #\d+ "rt-windowed" testcard: finished/);
    ok(!server.out.lines.some((l) => /"rt-windowed".*SLOW_CONSUMER/.test(l)));
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
  }
}

/**
 * The protocol, in process: a SEEK while paused lands on the asked segment and stays paused, and
 * RESUME sends from there. The sink reads instantly, so the server sends 6 s ahead at once and
 * finishes the stream when the last segment is out: the seeks come while paused (nothing is sent),
 * so that none of them can race the end of the stream.
 */
async function seekLandsOnTheSegment(server: ServerProcess) {
  const viewer = await connectClient(server.port, "rt-seeker");
  try {
    const info = await viewer.session.play("testcard", {
      quality: 240,
      sink: () => ({ write() {}, close() {} }),
    });
    await viewer.waitFor((e) => e.kind === "segment");
    await viewer.session.pause();
    // Past the end: the last segment.
    const last = await deadline(viewer.session.seek(999), 5_000, "SEEK");
    deepEqual([last.epoch, last.index, last.paused], [1, 5, true]);
    const seek = await viewer.session.seek(6.5);
    deepEqual([seek.epoch, seek.index, seek.position, seek.paused], [2, 3, 6, true]);
    // The answer to a later request closes the window: a segment sent after the seek while
    // paused would have come before it.
    await deadline(viewer.session.list(), 10_000, "LIST after SEEK");
    equal(segments(viewer).filter((s) => s.epoch > 0).length, 0, "nothing sent while paused");
    const back = await viewer.session.seek(2.5);
    deepEqual([back.epoch, back.index, back.position, back.paused], [3, 1, 2, true]);
    await viewer.session.resume();
    const next = await viewer.waitFor((e) => e.kind === "segment" && e.segment.epoch === 3);
    deepEqual(next.kind === "segment" && [next.segment.index, next.segment.start], [1, 2]);
    await viewer.waitFor(
      (e) => e.kind === "stream-end" && e.end.streamId === info.streamId,
      15_000,
    );
    deepEqual(segments(viewer).filter((s) => s.epoch === 3).map((s) => s.index), [1, 2, 3, 4, 5]);
  } finally {
    await viewer.session.quit();
  }
}

/** In process: auto starts from one measured segment and sends the top rendition second. */
async function autoReachesTheTop(server: ServerProcess) {
  const viewer = await connectClient(server.port, "rt-auto");
  try {
    const info = await viewer.session.play("testcard", {
      quality: "auto",
      sink: () => ({ write() {}, close() {} }),
    });
    // How soon it gets there is the bench's (issue 8: top rendition decoded within 4 s); here,
    // that it does on loopback within the first few segments, however busy the machine (a step up
    // goes no higher than the last segment's measured rate, which a starved reader lowers).
    await viewer.waitFor((e) => e.kind === "segment" && e.segment.index === 4);
    const heights = segments(viewer).map((s) => s.height);
    ok(
      heights.slice(0, 5).includes(720),
      `segments ${heights}: the top rendition within the first five segments`,
    );
    await viewer.session.stop();
    void info;
  } finally {
    await viewer.session.quit();
  }
}

/** In process: a stream paused longer than the pause limit ends with PAUSE_TIMEOUT. */
async function pauseTimeout(server: ServerProcess) {
  const viewer = await connectClient(server.port, "rt-sleeper");
  try {
    const info = await viewer.session.play("testcard", {
      quality: 240,
      sink: () => ({ write() {}, close() {} }),
    });
    await viewer.session.pause();
    const end = await viewer.waitFor(
      (e) => e.kind === "stream-end" && e.end.streamId === info.streamId,
      LIMITS.pauseTimeoutMs + 5_000,
    ) as Extract<ClientEvent, { kind: "stream-end" }>;
    deepEqual([end.end.reason, end.end.code], ["error", "PAUSE_TIMEOUT"]);
    ok(/paused longer than 6\.0 s; PLAY it again/.test(end.end.message ?? ""), end.end.message);
    // The connection stays up.
    equal((await viewer.session.list()).length, 3);
  } finally {
    await viewer.session.quit();
  }
}

Deno.test("real-time player: chat, LIST, STOP, PLAY, PAUSE, SEEK and auto behave as on screen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-realtime-" });
  const server = await startServer({
    waitReady: true,
    env: { PEERSTREAM_LIMITS: JSON.stringify(LIMITS) },
  });
  try {
    await scenarios({
      "chat, LIST and SEEK while a real-time player plays auto": () =>
        chatWhilePlaying(server, dir),
      "STOP in the last seconds closes the player": () => stopNearTheEnd(server, dir),
      "a second PLAY never leaves two players": () => secondPlay(server, dir),
      "a player paused in its own window holds the stream": () => playerPausedInItsWindow(server),
      "PAUSE longer than the slow-consumer limit, then RESUME": () =>
        pauseLongerThanTheLimit(server, dir),
      "SEEK lands on the asked segment": () => seekLandsOnTheSegment(server),
      "auto reaches the top rendition on loopback": () => autoReachesTheTop(server),
      "a pause past the limit ends with PAUSE_TIMEOUT": () => pauseTimeout(server),
      "a client killed while paused takes its player with it": () => killedWhilePaused(server),
    });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
    for (const line of figures) console.log(`[figures] ${line}`);
  }
});
