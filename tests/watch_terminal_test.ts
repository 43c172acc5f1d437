/**
 * Watching together in the terminal (issue 21), end to end: a real `serve`, two real terminal
 * clients in one room, one with mpv and one with ffplay, each on a virtual screen of its own
 * (Xvfb), playing the test video whose frames carry their number (`_screen.ts`). What each window
 * shows is read off its screen:
 *
 * - `WATCH #club frames` by alice starts both (bob follows the room since his `WATCH #club`), and
 *   the two pictures come within a second of each other;
 * - PAUSE by bob freezes both on frames within a second; RESUME by alice runs both again;
 * - SEEK by alice lands both near the target (ffplay a little ahead, frozen until the room gets
 *   there), then together;
 * - bob stops watching, and 5 s later `WATCH #club` starts him near the room's position;
 * - alice's mpv stopped (SIGSTOP) for 10 s does not stop bob's picture, and after SIGCONT she is
 *   back within a second of the room; the same for bob's ffplay;
 * - in a host-only room (`ROOM CONTROL #club host`) bob's PAUSE is refused with the host's name.
 *
 * Tolerances: the players are steered to within 150 ms (mpv) and 300 ms (ffplay) on a quiet
 * machine; two x11grab reads are not simultaneous (each is corrected for the time between them)
 * and the machine is shared and slow, so "together" is asserted as within 1 s, and every wait is
 * for the behaviour to show, with generous deadlines. The video is 30 s long: the steps seek back
 * so that the room never reaches its end.
 * @module
 */

import { ok } from "node:assert/strict";
import { type CliClient, startCli, startServer } from "./_helpers.ts";
import {
  FRAMES_FPS,
  framesLibrary,
  playerWindows,
  readFrame,
  type ScreenWindow,
  startXvfb,
  type Xvfb,
} from "./_screen.ts";
import { pgrep, until } from "./_util.ts";

/** How far apart two pictures may be and still count as together, seconds. */
const TOGETHER = 1;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A terminal client and its screen. */
interface Viewer {
  name: string;
  cli: CliClient;
  xvfb: Xvfb;
  window?: ScreenWindow;
}

/** Types a line and waits for a line matching `re` on stdout printed after it. */
async function command(viewer: Viewer, line: string, re: RegExp, stream: "out" | "err" = "out") {
  const reader = stream === "out" ? viewer.cli.out : viewer.cli.err;
  const from = reader.lines.length;
  await viewer.cli.type(line);
  return await reader.waitFor(re, { from, timeoutMs: 60_000 });
}

/** What the client said, for a failure's message. */
function said(viewer: Viewer): string {
  return `${viewer.name} said:\n${viewer.cli.out.lines.join("\n")}\n${
    viewer.cli.err.lines.join("\n")
  }`;
}

/** The viewer's one player window, once it shows numbered frames. */
async function playerWindow(viewer: Viewer): Promise<ScreenWindow> {
  let windows: ScreenWindow[] = [];
  await until(async () => (windows = await playerWindows(viewer.xvfb.display)).length === 1, {
    ms: 90_000,
    what: () => `one player window for ${viewer.name}; ${said(viewer)}`,
  });
  const w = windows[0];
  await until(async () => (await readFrame(viewer.xvfb.display, w)).n >= 0, {
    ms: 40_000,
    what: () => `numbered frames in ${viewer.name}'s window; ${said(viewer)}`,
  });
  viewer.window = w;
  return w;
}

/**
 * The frame on a viewer's screen now, and when it was read (ms); -1 when it is not a clean frame,
 * or the window is black (a black window reads as frame 0: a restarting ffplay's new window).
 */
async function frameNow(viewer: Viewer): Promise<{ n: number; at: number }> {
  const frame = await readFrame(viewer.xvfb.display, viewer.window!);
  return { n: frame.n === 0 && frame.level < 10 ? -1 : frame.n, at: performance.now() };
}

/** A clean read of the frame on a viewer's screen (a frame being drawn is read again). */
async function cleanFrame(viewer: Viewer): Promise<{ n: number; at: number }> {
  let frame = { n: -1, at: 0 };
  await until(async () => (frame = await frameNow(viewer)).n >= 0, {
    ms: 10_000,
    what: () => `a clean frame on ${viewer.name}'s screen; ${said(viewer)}`,
  });
  return frame;
}

/**
 * How far ahead a's picture is of b's, seconds, both playing: each read is corrected for the time
 * between the two reads. Undefined when a read was not clean (a frame being drawn).
 */
async function apart(a: Viewer, b: Viewer): Promise<number | undefined> {
  const [fa, fb] = await Promise.all([frameNow(a), frameNow(b)]);
  if (fa.n < 0 || fb.n < 0) return undefined;
  const bAtA = fb.n + (fa.at - fb.at) / 1000 * FRAMES_FPS;
  return (fa.n - bAtA) / FRAMES_FPS;
}

/** Waits until both pictures play within {@linkcode TOGETHER} of each other; returns the gap. */
async function together(a: Viewer, b: Viewer, what: string): Promise<number> {
  const seen: string[] = [];
  let gap = Infinity;
  await until(async () => {
    const d = await apart(a, b);
    if (d === undefined) return false;
    seen.push(d.toFixed(2));
    gap = d;
    return Math.abs(d) <= TOGETHER;
  }, {
    ms: 45_000,
    everyMs: 250,
    what: () =>
      `${what}: ${a.name} and ${b.name} within ${TOGETHER} s; gaps seen ${seen.join(" ")}`,
  });
  return gap;
}

/** The frame a frozen picture holds, once two reads 400 ms apart agree. */
async function frozen(viewer: Viewer, what: string): Promise<number> {
  let n = -1;
  await until(async () => {
    const a = (await frameNow(viewer)).n;
    await sleep(400);
    const b = (await frameNow(viewer)).n;
    n = b;
    return a === b && a >= 0;
  }, { ms: 30_000, what: () => `${what}: ${viewer.name}'s picture freezes; ${said(viewer)}` });
  return n;
}

/** Waits until a viewer's picture moves on past `from`. */
async function moves(viewer: Viewer, from: number, what: string): Promise<void> {
  await until(async () => (await frameNow(viewer)).n > from, {
    ms: 30_000,
    everyMs: 200,
    what: () => `${what}: ${viewer.name}'s picture moves on from ${from}; ${said(viewer)}`,
  });
}

/** Waits until a viewer's picture shows a frame between `from` and `to` seconds. */
async function within(viewer: Viewer, from: number, to: number, what: string) {
  const seen: number[] = [];
  await until(async () => {
    const n = (await frameNow(viewer)).n;
    seen.push(n);
    return n >= 0 && n >= from * FRAMES_FPS && n <= to * FRAMES_FPS;
  }, {
    ms: 30_000,
    everyMs: 200,
    what: () =>
      `${what}: ${viewer.name} between ${from} s and ${to} s; saw ${seen.join(" ")}; ${
        said(viewer)
      }`,
  });
}

/**
 * Stops a viewer's player (SIGSTOP) for 10 s: the other's picture goes on at the room's pace;
 * after SIGCONT the stopped one comes back within {@linkcode TOGETHER} of the other.
 *
 * @returns How long after SIGCONT it was back, ms.
 */
async function stopPlayer(pid: number, stopped: Viewer, other: Viewer): Promise<number> {
  const before = await cleanFrame(other);
  Deno.kill(pid, "SIGSTOP");
  try {
    const at = performance.now();
    await sleep(8_000);
    const later = await cleanFrame(other);
    ok(
      later.n - before.n > (later.at - at) / 1000 * FRAMES_FPS / 2,
      `${other.name}'s picture went on while ${stopped.name}'s player was stopped: frame ${before.n} then ${later.n} ${
        ((later.at - at) / 1000).toFixed(1)
      } s later; ${said(other)}`,
    );
    await sleep(Math.max(0, 10_000 - (performance.now() - at)));
  } finally {
    Deno.kill(pid, "SIGCONT");
  }
  const resumed = performance.now();
  await together(stopped, other, `${stopped.name} after SIGCONT`);
  const back = performance.now() - resumed;
  // Generous (5 s on a quiet machine): the shared machine is 2-3x slower.
  ok(back < 15_000, `${stopped.name} back in ${back.toFixed(0)} ms`);
  return back;
}

async function stopViewer(viewer: Viewer) {
  try {
    viewer.cli.child.kill("SIGKILL");
  } catch {
    // Exited.
  }
  await viewer.cli.finish(10_000).catch(() => {});
  await Deno.remove(viewer.cli.home, { recursive: true }).catch(() => {});
  await viewer.xvfb.stop().catch(() => {});
}

Deno.test("watching together: mpv and ffplay in one room follow each other's WATCH, PAUSE, RESUME, SEEK; a late joiner and a stopped player catch up; a host-only room refuses a member", async () => {
  const dir = await framesLibrary();
  const server = await startServer({ args: ["--videos", dir], waitReady: true });
  const marker = `400.${Math.floor(Math.random() * 1e6)}`;
  const viewers: Viewer[] = [];
  try {
    const [xa, xb] = await Promise.all([startXvfb(), startXvfb()]);
    const alice: Viewer = {
      name: "alice",
      xvfb: xa,
      cli: await startCli(server.port, "alice", {
        args: [
          "--ephemeral",
          "--player",
          `timeout -s KILL ${marker} mpv --vo=x11 --ao=null --framedrop=no`,
        ],
        env: { DISPLAY: xa.display },
      }),
    };
    viewers.push(alice);
    const bob: Viewer = {
      name: "bob",
      xvfb: xb,
      cli: await startCli(server.port, "bob", {
        args: ["--ephemeral", "--player", `timeout -s KILL ${marker} ffplay`],
        env: { DISPLAY: xb.display, SDL_AUDIODRIVER: "dummy" },
      }),
    };
    viewers.push(bob);
    await command(alice, "ROOM CREATE club", /^\* created #club/);
    await command(alice, "INVITE #club bob", /^\* #club: you invited bob/);
    await bob.cli.out.waitFor(/^\* #club: alice invited you/, { timeoutMs: 60_000 });
    const from = alice.cli.out.lines.length;
    await bob.cli.type("ACCEPT #club");
    await alice.cli.out.waitFor(/^\* #club: bob joined$/, { from, timeoutMs: 60_000 });

    // bob follows the room before anything plays; alice's WATCH starts both.
    await command(bob, "WATCH #club", /^Nothing plays in #club yet/);
    await command(alice, "WATCH #club frames", /^\* alice started "frames" in #club$/);
    await bob.cli.out.waitFor(/^\* alice started "frames" in #club$/, { timeoutMs: 60_000 });
    await Promise.all([playerWindow(alice), playerWindow(bob)]);
    const started = await together(alice, bob, "after WATCH");

    // PAUSE by bob freezes both near one frame; RESUME by alice runs both again, together.
    await command(bob, "PAUSE", /^\* bob paused #club at \d+:\d\d$/);
    await alice.cli.out.waitFor(/^\* bob paused #club at /, { timeoutMs: 60_000 });
    const [fa, fb] = await Promise.all([frozen(alice, "PAUSE"), frozen(bob, "PAUSE")]);
    ok(
      Math.abs(fa - fb) <= TOGETHER * FRAMES_FPS,
      `paused on frames ${fa} (alice) and ${fb} (bob)`,
    );
    await command(alice, "RESUME", /^\* alice resumed #club at /);
    await Promise.all([moves(alice, fa, "RESUME"), moves(bob, fb, "RESUME")]);
    const resumed = await together(alice, bob, "after RESUME");

    // SEEK by alice lands both there: mpv on the frame; ffplay, which starts at a segment's first
    // frame, up to a segment and its start-up ahead, frozen until the room gets there.
    await command(alice, "SEEK 0:12", /^\* alice moved #club to 0:12$/);
    await Promise.all([within(alice, 11, 13.5, "SEEK"), within(bob, 11, 17, "SEEK")]);
    const sought = await together(alice, bob, "after SEEK");

    // bob stops watching; the room plays on; 5 s later he comes back at its position.
    await command(bob, "STOP", /^\* you stopped watching #club; it plays on/);
    await sleep(5_000);
    const roomAt = await frameNow(alice);
    await bob.cli.type("WATCH #club");
    bob.window = undefined;
    await playerWindow(bob);
    await together(alice, bob, "the late joiner");
    // Settled: the gap over a few seconds of both playing.
    const gaps: number[] = [];
    while (gaps.length < 8) {
      const d = await apart(alice, bob);
      if (d !== undefined) gaps.push(Math.abs(d));
    }
    gaps.sort((x, y) => x - y);
    ok(gaps[gaps.length - 1] <= TOGETHER, `settled gaps ${gaps.map((g) => g.toFixed(2))}`);
    ok(roomAt.n / FRAMES_FPS >= 16, `the room played on meanwhile (frame ${roomAt.n})`);

    // alice's player stops reading for 10 s: bob's picture goes on; she catches up after.
    await command(alice, "SEEK 0:01", /^\* alice moved #club to 0:01$/);
    // Both jumped back (a frame well before the late joiner's), then play together.
    await Promise.all([within(alice, 0, 8, "SEEK back"), within(bob, 0, 8, "SEEK back")]);
    await together(alice, bob, "before the stop");
    const mpvs = await pgrep(`^(\\S*/)?mpv .*--input-ipc-server=`, {
      parents: await pgrep(`^timeout -s KILL ${marker.replace(".", "\\.")} mpv `),
    });
    ok(mpvs.length === 1, `one mpv: ${mpvs}`);
    const mpvBack = await stopPlayer(mpvs[0], alice, bob);

    // The same for bob's ffplay (the one running now: each jump starts a new one).
    await command(alice, "SEEK 0:01", /^\* alice moved #club to 0:01$/);
    await Promise.all([within(alice, 0, 8, "SEEK back"), within(bob, 0, 8, "SEEK back")]);
    await together(alice, bob, "before ffplay's stop");
    const ffplays = await pgrep(`^(\\S*/)?ffplay `, {
      parents: await pgrep(`^timeout -s KILL ${marker.replace(".", "\\.")} ffplay `),
    });
    ok(ffplays.length === 1, `one ffplay: ${ffplays}`);
    const ffplayBack = await stopPlayer(ffplays[0], bob, alice);

    // A host-only room: bob may not pause it.
    await command(alice, "ROOM CONTROL #club host", /who controls playback: host/);
    await bob.cli.out.waitFor(/who controls playback: host/, { timeoutMs: 60_000 });
    await command(
      bob,
      "PAUSE",
      /Cannot pause #club: only its host, alice, controls playback in this room/,
      "err",
    );
    console.log(
      `[figures] watch together, mpv - ffplay gap (s), first read within ${TOGETHER} s: after WATCH ${
        started.toFixed(2)
      }, RESUME ${resumed.toFixed(2)}, SEEK ${
        sought.toFixed(2)
      }; settled after the late joiner, |gap| median ${gaps[3].toFixed(2)} max ${
        gaps[7].toFixed(2)
      }; back within ${TOGETHER} s after a 10 s SIGSTOP: mpv ${mpvBack.toFixed(0)} ms, ffplay ${
        ffplayBack.toFixed(0)
      } ms after SIGCONT`,
    );
  } finally {
    await Promise.all(viewers.map(stopViewer));
    await server.stop();
  }
});
