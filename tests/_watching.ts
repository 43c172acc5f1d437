/**
 * Reading members who watch together against one clock (issue 21): a member is anything whose
 * picture can be read as a frame number at a moment of the machine's clock (epoch ms): a terminal
 * client's player read off its virtual screen (`_screen.ts`), or a page's video read by its
 * `requestVideoFrameCallback` probe (`_page_video.ts`). Shared by the terminal test and the test of
 * all three kinds of member together.
 *
 * Tolerances: two reads are not simultaneous (each is corrected for the time between them) and
 * the machine is shared and slow, so "together" is within {@linkcode TOGETHER}, and every wait is
 * for the behaviour to show, with generous deadlines.
 * @module
 */

import { ok } from "node:assert/strict";
import type { CliClient } from "./_helpers.ts";
import { FRAMES_FPS, playerWindows, readFrame, type ScreenWindow, type Xvfb } from "./_screen.ts";
import { until } from "./_util.ts";

/** How far apart two pictures may be and still count as together, seconds. */
export const TOGETHER = 1;

/** A frame read off a member's picture: its number (-1 when not clean) and when (epoch ms). */
export interface FrameRead {
  n: number;
  at: number;
}

/** A member whose picture can be read. */
export interface Watcher {
  name: string;
  /** The frame on the member's picture now; -1 when it is not a clean one. */
  frameNow(): Promise<FrameRead>;
  /** What the member's side said, for a failure's message. */
  said(): string;
}

/** The machine's clock, epoch ms (one clock for every member). */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Waits.
 *
 * @param ms How long.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A terminal client and its screen. */
export interface Viewer extends Watcher {
  cli: CliClient;
  xvfb: Xvfb;
  window?: ScreenWindow;
}

/**
 * A terminal client on its virtual screen as a member: its picture is its one player window.
 *
 * @param name The person.
 * @param cli The client.
 * @param xvfb Its screen.
 * @returns The member.
 */
export function screenViewer(name: string, cli: CliClient, xvfb: Xvfb): Viewer {
  // A grab that failed (seen once under load: x11grab "Cannot open display … Input/output
  // error") is a read that was not clean: the waits read again, and a failure says the last one.
  let failed = "";
  const viewer: Viewer = {
    name,
    cli,
    xvfb,
    // A black window reads as frame 0: a restarting ffplay's new window.
    frameNow: async () => {
      const frame = await readFrame(xvfb.display, viewer.window!).catch((error) => {
        failed = String(error);
        return { n: -1, level: 0 };
      });
      return { n: frame.n === 0 && frame.level < 10 ? -1 : frame.n, at: clock() };
    },
    said: () =>
      `${name} said:\n${cli.out.lines.join("\n")}\n${cli.err.lines.join("\n")}${
        failed && `\nlast failed grab: ${failed}`
      }`,
  };
  return viewer;
}

/**
 * Types a line and waits for a line matching `re` printed after it.
 *
 * @param viewer The terminal client.
 * @param line The line.
 * @param re The answer awaited.
 * @param stream Where the answer comes.
 * @returns The answer.
 */
export async function command(
  viewer: Viewer,
  line: string,
  re: RegExp,
  stream: "out" | "err" = "out",
): Promise<string> {
  const reader = stream === "out" ? viewer.cli.out : viewer.cli.err;
  const from = reader.lines.length;
  await viewer.cli.type(line);
  return await reader.waitFor(re, { from, timeoutMs: 60_000 });
}

/**
 * Waits for the viewer's one player window to show numbered frames, and reads it from then on.
 *
 * @param viewer The terminal client.
 * @returns The window.
 */
export async function playerWindow(viewer: Viewer): Promise<ScreenWindow> {
  let windows: ScreenWindow[] = [];
  await until(async () => (windows = await playerWindows(viewer.xvfb.display)).length === 1, {
    ms: 90_000,
    what: () => `one player window for ${viewer.name}; ${viewer.said()}`,
  });
  const w = windows[0];
  await until(async () => (await readFrame(viewer.xvfb.display, w)).n >= 0, {
    ms: 40_000,
    what: () => `numbered frames in ${viewer.name}'s window; ${viewer.said()}`,
  });
  viewer.window = w;
  return w;
}

/**
 * Stops a terminal client, its players and its screen.
 *
 * @param viewer The terminal client.
 */
export async function stopViewer(viewer: Viewer): Promise<void> {
  try {
    viewer.cli.child.kill("SIGKILL");
  } catch {
    // Exited.
  }
  await viewer.cli.finish(10_000).catch(() => {});
  await Deno.remove(viewer.cli.home, { recursive: true }).catch(() => {});
  await viewer.xvfb.stop().catch(() => {});
}

/**
 * A clean read of the frame on a member's picture (a frame being drawn is read again).
 *
 * @param watcher The member.
 * @returns The frame.
 */
export async function cleanFrame(watcher: Watcher): Promise<FrameRead> {
  let frame = { n: -1, at: 0 };
  await until(async () => (frame = await watcher.frameNow()).n >= 0, {
    ms: 10_000,
    what: () => `a clean frame on ${watcher.name}'s picture; ${watcher.said()}`,
  });
  return frame;
}

/**
 * How far ahead a's picture is of b's, seconds, both playing: each read is corrected for the time
 * between the two reads.
 *
 * @returns The gap; undefined when a read was not clean (a frame being drawn).
 */
export async function apart(a: Watcher, b: Watcher): Promise<number | undefined> {
  const [fa, fb] = await Promise.all([a.frameNow(), b.frameNow()]);
  if (fa.n < 0 || fb.n < 0) return undefined;
  const bAtA = fb.n + (fa.at - fb.at) / 1000 * FRAMES_FPS;
  return (fa.n - bAtA) / FRAMES_FPS;
}

/**
 * `count` clean reads of how far apart two playing pictures are, sorted (absolute, seconds).
 *
 * @returns The gaps, smallest first.
 */
export async function settledGaps(a: Watcher, b: Watcher, count: number): Promise<number[]> {
  const gaps: number[] = [];
  let reads = 0;
  await until(async () => {
    reads++;
    const d = await apart(a, b);
    if (d !== undefined) gaps.push(Math.abs(d));
    return gaps.length >= count;
  }, {
    ms: 60_000,
    everyMs: 100,
    what: () =>
      `${count} clean reads of ${a.name} and ${b.name} (${gaps.length} of ${reads}); ${a.said()}\n${b.said()}`,
  });
  return gaps.sort((x, y) => x - y);
}

/**
 * Waits until both pictures play within {@linkcode TOGETHER} of each other.
 *
 * @returns The gap, seconds (a ahead of b).
 */
export async function together(a: Watcher, b: Watcher, what: string): Promise<number> {
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

/**
 * The frame a frozen picture holds, once two reads 400 ms apart agree.
 *
 * @returns The frame number.
 */
export async function frozen(watcher: Watcher, what: string): Promise<number> {
  let n = -1;
  await until(async () => {
    const a = (await watcher.frameNow()).n;
    await sleep(400);
    const b = (await watcher.frameNow()).n;
    n = b;
    return a === b && a >= 0;
  }, { ms: 30_000, what: () => `${what}: ${watcher.name}'s picture freezes; ${watcher.said()}` });
  return n;
}

/** Waits until a member's picture moves on past frame `from`. */
export async function moves(watcher: Watcher, from: number, what: string): Promise<void> {
  await until(async () => (await watcher.frameNow()).n > from, {
    ms: 30_000,
    everyMs: 200,
    what: () => `${what}: ${watcher.name}'s picture moves on from ${from}; ${watcher.said()}`,
  });
}

/** Waits until a member's picture shows a frame between `from` and `to` seconds. */
export async function within(
  watcher: Watcher,
  from: number,
  to: number,
  what: string,
): Promise<void> {
  const seen: number[] = [];
  await until(async () => {
    const n = (await watcher.frameNow()).n;
    seen.push(n);
    return n >= 0 && n >= from * FRAMES_FPS && n <= to * FRAMES_FPS;
  }, {
    ms: 30_000,
    everyMs: 200,
    what: () =>
      `${what}: ${watcher.name} between ${from} s and ${to} s; saw ${
        seen.join(" ")
      }; ${watcher.said()}`,
  });
}

/**
 * Stops a member's player (SIGSTOP) for 10 s: the others' pictures go on at the room's pace
 * meanwhile; after SIGCONT the stopped one comes back within {@linkcode TOGETHER} of the first
 * of the others.
 *
 * @param pid The player's process.
 * @param stopped Its member.
 * @param others The other members (at least one).
 * @returns How long after SIGCONT it was back, ms.
 */
export async function stopPlayer(
  pid: number,
  stopped: Watcher,
  others: readonly Watcher[],
): Promise<number> {
  const before = await Promise.all(others.map(cleanFrame));
  Deno.kill(pid, "SIGSTOP");
  try {
    const at = clock();
    await sleep(8_000);
    const later = await Promise.all(others.map(cleanFrame));
    others.forEach((other, i) => {
      ok(
        later[i].n - before[i].n > (later[i].at - at) / 1000 * FRAMES_FPS / 2,
        `${other.name}'s picture went on while ${stopped.name}'s player was stopped: frame ${
          before[i].n
        } then ${later[i].n} ${((later[i].at - at) / 1000).toFixed(1)} s later; ${other.said()}`,
      );
    });
    await sleep(Math.max(0, 10_000 - (clock() - at)));
  } finally {
    Deno.kill(pid, "SIGCONT");
  }
  const resumed = clock();
  await together(stopped, others[0], `${stopped.name} after SIGCONT`);
  const back = clock() - resumed;
  // The issue's bound: back with the room within 5 s (measured 1.0-2.6 s on the shared machine).
  ok(back < 5_000, `${stopped.name} back in ${back.toFixed(0)} ms`);
  return back;
}
