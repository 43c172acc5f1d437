/**
 * What a viewer sees in the terminal client's player window (issue 18), read off a virtual screen:
 * a test video whose every frame carries its number (`_screen.ts`) plays in real mpv and ffplay
 * windows under Xvfb, and grabs of the window prove what was on screen:
 *
 * - after PAUSE of 5 s and RESUME, the next frame is the one after the frozen frame;
 * - with mpv: after QUALITY no frame number repeats or jumps; after SEEK (while paused) the frame
 *   shown is the target's; one mpv process and one window, never missing, across PAUSE, QUALITY,
 *   SEEK and a new title;
 * - with ffplay (which must restart on a jump): no half-drawn frame, and the window's gap is
 *   measured.
 *
 * Tolerances: what is frozen is read exactly (PAUSE, SEEK and QUALITY while paused land on one
 * frame number, checked with no tolerance). What moves is grabbed at 50 fps, twice the video's 25,
 * but on a loaded 2-core machine a grab comes late now and then and misses a frame or a few (seen:
 * steps of 4 with mpv told never to drop); so "the next frame" after RESUME allows 2 missed, and
 * playing on allows steps of up to 6 frames (240 ms), while a frame shown again (a number lower
 * than one before it) fails at once. The faults these tests catch are far larger: ffplay skipped
 * the paused time (125-190 frames for 5 s), and a QUALITY restart shows again everything from the
 * segment's start (up to 50 frames back).
 *
 * Order, not time: a recording's first grab is in before the command it watches is typed (ffmpeg
 * took 0.5-0.9 s to its first grab here, so a fixed sleep let RESUME run before the recording
 * began, and "the frozen frame until RESUME" read the frame after it), and a client's answer is
 * a line printed after the command (the rendition's line from PLAY matched the QUALITY back to it
 * at once, so the frame was read off the old rendition's picture).
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { type CliClient, startCli, startServer } from "./_helpers.ts";
import {
  FRAMES_FPS,
  framesLibrary,
  playerWindows,
  readFrame,
  type ScreenWindow,
  shownNumbers,
  startRecording,
  startXvfb,
  watchWindow,
} from "./_screen.ts";
import { pgrep, until } from "./_util.ts";

/** Frames a grab may miss right after RESUME on a loaded machine (see the module notes). */
const MISSED = 2;
/** The largest step between frames grabbed while playing (see the module notes). */
const STEP = 6;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The one player window, once it shows numbered frames that advance. */
async function playingWindow(display: string, cli: CliClient): Promise<ScreenWindow> {
  let windows: ScreenWindow[] = [];
  await until(async () => (windows = await playerWindows(display)).length === 1, {
    // Generous: with the machine busy, a player has taken over 30 s to map its window.
    ms: 90_000,
    what: () =>
      `one player window; saw ${JSON.stringify(windows)}; the client said:\n${
        cli.out.lines.join("\n")
      }\n${cli.err.lines.join("\n")}`,
  });
  const w = windows[0];
  let first = -1;
  await until(async () => (first = (await readFrame(display, w)).n) > 0, {
    ms: 40_000,
    what: "the window shows numbered frames",
  });
  await until(async () => (await readFrame(display, w)).n > first, {
    ms: 20_000,
    what: "the frames advance",
  });
  return w;
}

/** The frame a frozen picture holds, once two reads 300 ms apart agree. */
async function frozenFrame(display: string, w: ScreenWindow): Promise<number> {
  let frozen = -1;
  await until(async () => {
    const a = (await readFrame(display, w)).n;
    await sleep(300);
    const b = (await readFrame(display, w)).n;
    frozen = b;
    return a === b && a >= 0;
  }, { ms: 10_000, what: "the picture freezes" });
  return frozen;
}

/**
 * PAUSE for 5 s, then RESUME while the window is recorded: the frames shown continue from the
 * frozen one.
 *
 * @returns How many frames the first frame after RESUME is past the next one (0 when exact).
 */
async function pauseResume(cli: CliClient, display: string, w: ScreenWindow): Promise<number> {
  await command(cli, "PAUSE", /^\* paused/);
  const frozen = await frozenFrame(display, w);
  // The pause's length is the subject here: 5 s, as a person would.
  await sleep(5_000);
  const recording = startRecording(display, w, 4);
  await recording.started;
  await sleep(300);
  await cli.type("RESUME");
  const shown = shownNumbers(await recording.frames);
  equal(shown[0], frozen, `the frozen frame until RESUME; shown ${shown.join(" ")}`);
  ok(shown.length > 1, `the picture moves after RESUME; shown ${shown.join(" ")}`);
  const offset = shown[1] - (frozen + 1);
  ok(
    offset >= 0 && offset <= MISSED,
    `after RESUME the frame after ${frozen}, not ${shown[1]}; shown ${shown.join(" ")}`,
  );
  // And it plays on from there, rather than catching up on the paused time a moment later.
  const step = assertForward(shown, "after RESUME");
  ok(step <= STEP, `after RESUME the picture jumped ${step} frames: ${shown.join(" ")}`);
  return offset;
}

/**
 * Types a command and waits for the client's answer to it: a line matching `re` printed after
 * the command, never one from before (a rendition's line is printed again on every switch).
 */
async function command(cli: CliClient, line: string, re: RegExp): Promise<void> {
  const from = cli.out.lines.length;
  await cli.type(line);
  await cli.out.waitFor(re, { from, timeoutMs: 15_000 });
}

/** The steps between the distinct frames shown; throws on a frame shown again. */
function assertForward(shown: readonly number[], what: string): number {
  let largest = 0;
  for (let i = 1; i < shown.length; i++) {
    ok(
      shown[i] > shown[i - 1],
      `${what}: frame ${shown[i]} after ${shown[i - 1]}: ${shown.join(" ")}`,
    );
    largest = Math.max(largest, shown[i] - shown[i - 1]);
  }
  return largest;
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

Deno.test("mpv on screen: exact PAUSE, QUALITY and SEEK, in one window of one process across a new title", async () => {
  const xvfb = await startXvfb();
  const dir = await framesLibrary();
  const server = await startServer({ args: ["--videos", dir], waitReady: true });
  const marker = `300.${Math.floor(Math.random() * 1e6)}`;
  const cli = await startCli(server.port, "mpvviewer", {
    // --framedrop=no: mpv on a loaded machine drops late frames on its own; the test is about
    // what the client makes it show.
    args: [
      "--ephemeral",
      "--player",
      `timeout -s KILL ${marker} mpv --vo=x11 --ao=null --framedrop=no`,
    ],
    env: { DISPLAY: xvfb.display },
  });
  const display = xvfb.display;
  // This run's mpv only, the child of its own `timeout`: another run on the machine (another
  // worktree's) has an mpv of its own, which made "one mpv" fail.
  const mpvs = async () => {
    const wrappers = await pgrep(`^timeout -s KILL ${marker.replace(".", "\\.")} mpv `);
    if (wrappers.length === 0) return [];
    return await pgrep(`^(\\S*/)?mpv .*--input-ipc-server=`, { parents: wrappers });
  };
  try {
    await cli.type("PLAY frames 360p");
    const w = await playingWindow(display, cli);
    const watch = watchWindow(display);
    const pids = await mpvs();
    equal(pids.length, 1, "one mpv");

    const pauseOffset = await pauseResume(cli, display, w);

    // QUALITY: no frame shown twice, none skipped.
    const recording = startRecording(display, w, 5);
    await recording.started;
    await sleep(500);
    await command(cli, "QUALITY 240p", /^\* frames: 240p/);
    const shown = shownNumbers(await recording.frames);
    const step = assertForward(shown, "QUALITY");
    ok(step <= STEP, `QUALITY jumped ${step} frames: ${shown.join(" ")}`);

    // QUALITY while paused: the same frame, in the other rendition, then the next one. The
    // client says "frames: 360p" once mpv shows the new input's first frame (its
    // `playback-restart`), so the frame read after it is the new rendition's, not the old one's.
    await command(cli, "PAUSE", /^\* paused/);
    const still = await frozenFrame(display, w);
    const switching = startRecording(display, w, 4);
    await switching.started;
    await command(cli, "QUALITY 360p", /^\* frames: 360p/);
    equal(await frozenFrame(display, w), still, "QUALITY while paused keeps the frame");
    const during = shownNumbers(await switching.frames);
    deepEqual(during, [still], `no other frame during the switch: ${during.join(" ")}`);
    const resumed = startRecording(display, w, 2.5);
    await resumed.started;
    await sleep(300);
    await cli.type("RESUME");
    const after = shownNumbers(await resumed.frames);
    equal(after[0], still, `then RESUME: ${after.join(" ")}`);
    ok(after[1] - still >= 1 && after[1] - still <= MISSED + 1, `then ${after.join(" ")}`);
    const resumedStep = assertForward(after, "then RESUME");
    ok(resumedStep <= STEP, `then RESUME jumped ${resumedStep} frames: ${after.join(" ")}`);

    // SEEK while paused: the target's frame, still paused, in the same window.
    await cli.type("PAUSE");
    const before = await frozenFrame(display, w);
    await cli.type("SEEK 15.2");
    let landed = -1;
    await until(async () => {
      landed = (await readFrame(display, w)).n;
      return landed >= 0 && landed !== before;
    }, { ms: 20_000, what: "the picture moves to the target" });
    equal(landed, Math.round(15.2 * FRAMES_FPS), `SEEK 15.2 shows frame 380, not ${landed}`);
    equal(await frozenFrame(display, w), landed, "still paused after SEEK");
    await cli.type("RESUME");
    await until(async () => (await readFrame(display, w)).n > landed, {
      ms: 10_000,
      what: "RESUME plays on",
    });

    // A new title takes the same window.
    await cli.type('PLAY "frames again" 360p');
    await cli.out.waitFor(/^\* playing "frames again"/, { timeoutMs: 15_000 });
    await until(async () => {
      const n = (await readFrame(display, w)).n;
      return n >= 0 && n < 5 * FRAMES_FPS;
    }, { ms: 20_000, what: "the new title shows from its start" });
    deepEqual(await mpvs(), pids, "the same mpv process throughout");
    const gaps = await watch.stop();
    equal(gaps.missing, 0, `the window was missing ${gaps.missing} of ${gaps.polls} polls`);
    console.log(
      `[figures] mpv: PAUSE 5 s -> RESUME frame offset ${pauseOffset}; QUALITY largest step ${step} frame(s), no repeat; SEEK lands on frame ${landed}; window gap ${
        gaps.longestGapMs.toFixed(0)
      } ms over ${gaps.polls} polls`,
    );

    await cli.type("STOP");
    await cli.out.waitFor(/^\* stopped "frames again"/);
    await until(async () => (await playerWindows(display)).length === 0, {
      ms: 10_000,
      what: "closed",
    });
    await until(async () => (await mpvs()).length === 0, { ms: 10_000, what: "mpv is gone" });
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
    await server.stop();
    await xvfb.stop();
  }
});

Deno.test("ffplay on screen: PAUSE of 5 s resumes at the next frame; jumps draw no half frame, gap measured", async () => {
  const xvfb = await startXvfb();
  const dir = await framesLibrary();
  const server = await startServer({ args: ["--videos", dir], waitReady: true });
  const marker = `300.${Math.floor(Math.random() * 1e6)}`;
  const cli = await startCli(server.port, "ffviewer", {
    args: ["--ephemeral", "--player", `timeout -s KILL ${marker} ffplay`],
    env: { DISPLAY: xvfb.display, SDL_AUDIODRIVER: "dummy" },
  });
  const display = xvfb.display;
  try {
    await cli.type("PLAY frames 360p");
    const w = await playingWindow(display, cli);
    const pauseOffset = await pauseResume(cli, display, w);

    const gapsMs: Record<string, number> = {};
    for (const command of ["QUALITY 240p", "SEEK 20"]) {
      const watch = watchWindow(display);
      const recording = startRecording(display, w, 4.5);
      await recording.started;
      await sleep(300);
      await cli.type(command);
      const frames = await recording.frames;
      await until(async () => (await playerWindows(display)).length === 1, {
        ms: 20_000,
        what: "back",
      });
      gapsMs[command] = (await watch.stop()).longestGapMs;
      // A grab is a clean frame, or no picture at all (the window gone, or black before its
      // first frame): never a mix of two pictures.
      const torn = frames.filter((f) => !f.clean && f.level > 20);
      equal(torn.length, 0, `${command}: ${torn.length} half-drawn grabs`);
    }
    console.log(
      `[figures] ffplay: PAUSE 5 s -> RESUME frame offset ${pauseOffset}; window gap on QUALITY ${
        gapsMs["QUALITY 240p"].toFixed(0)
      } ms, on SEEK ${gapsMs["SEEK 20"].toFixed(0)} ms`,
    );
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await closeCli(cli);
    await server.stop();
    await xvfb.stop();
  }
});
