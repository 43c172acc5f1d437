/**
 * The shaped-link scenario's figures (pure): from the frames a player presented and the link's
 * rate changes, each player's start-up, stalls, bit rate, switches and step-down/step-up times, and
 * the rows that judge peerstream's players against hls.js.
 * @module
 */

import {
  countSwitches,
  findStalls,
  type LadderRung,
  meanBitrate,
  type ShownFrame,
  STALL_MS,
  stepDownAfter,
  stepUpAfter,
} from "../tests/_playback_stats.ts";
import type { Metric } from "./_scenario.ts";
import { type PlayerKind, PLAYERS, type Schedule } from "./_shaped_plan.ts";

/** The figures of one player's run. */
export interface PlayerFigures {
  startupMs: number;
  stalls: number;
  stalledS: number;
  meanKbps: number;
  switches: number;
  /**
   * Per drop of the link, ms to a sustainable rendition on screen; the time the new rate held
   * when none reached the screen before the next change (see `missed`).
   */
  stepDownMs: number[];
  /** Per rise, ms to a higher rendition on screen; as `stepDownMs` when none did. */
  stepUpMs: number[];
  /** The changes (ms from the start) after which the screen never got there while they held. */
  missed: number[];
  /**
   * The same times for the renditions auto chose on the server (its log), when known: how long
   * the decision took, without the buffered media that still plays out before it shows.
   */
  chosen?: { stepDownMs: number[]; stepUpMs: number[]; shown: [number, number][] };
  /** What was on screen: the first frame of each run of one height, [s from the start, height]. */
  shown: [number, number][];
  /** What the player said of itself at the end (set by the run, not by `figuresOf`). */
  stateAtEnd?: string;
}

/**
 * The figures of a run: stalls counted to the end of the window (a player frozen at the end has
 * stalled too); a step down or up is timed only while the rate that called for it held.
 *
 * @param frames The frames, ms from the schedule's start.
 * @param options The schedule, the ladder, and the renditions auto chose (ms from the start).
 * @returns The figures.
 */
export function figuresOf(
  frames: readonly ShownFrame[],
  options: { schedule: Schedule; ladder: readonly LadderRung[]; choices?: readonly ShownFrame[] },
): PlayerFigures {
  const end = options.schedule.seconds * 1000;
  const stalls = findStalls(frames);
  const last = frames.at(-1);
  if (last !== undefined && end - last.at > STALL_MS) stalls.push({ from: last.at, to: end });
  const bitrateOf = (h: number) => options.ladder.find((r) => r.height === h)?.bitrate ?? 0;
  const { stepDownMs, stepUpMs, missed } = changeTimes(frames, options);
  const chosen = options.choices === undefined ? undefined : changeTimes(options.choices, options);
  const shown: [number, number][] = frames
    .filter((f, i) => i === 0 || f.height !== frames[i - 1].height)
    .map((f) => [Math.round(f.at / 100) / 10, f.height]);
  return {
    startupMs: frames[0]?.at ?? NaN,
    stalls: stalls.length,
    stalledS: stalls.reduce((sum, s) => sum + s.to - s.from, 0) / 1000,
    meanKbps: meanBitrate(frames, bitrateOf) / 1000,
    switches: countSwitches(frames),
    stepDownMs,
    stepUpMs,
    missed,
    ...(chosen === undefined ? {} : {
      chosen: {
        stepDownMs: chosen.stepDownMs,
        stepUpMs: chosen.stepUpMs,
        shown: options.choices!.map((c) => [Math.round(c.at / 100) / 10, c.height]),
      },
    }),
    shown,
  };
}

/**
 * Per change of the schedule, how long until a timeline of heights (frames on screen, or the
 * renditions chosen) got there: a sustainable rendition after a drop, a higher one after a rise,
 * timed only while the rate held (the whole time it held, and the change `missed`, when it never).
 */
function changeTimes(
  timeline: readonly ShownFrame[],
  options: { schedule: Schedule; ladder: readonly LadderRung[] },
): { stepDownMs: number[]; stepUpMs: number[]; missed: number[] } {
  const end = options.schedule.seconds * 1000;
  const steps = options.schedule.steps;
  const stepDownMs: number[] = [];
  const stepUpMs: number[] = [];
  const missed: number[] = [];
  for (let i = 1; i < steps.length; i++) {
    const { atMs, bitsPerSecond } = steps[i];
    const held = (steps[i + 1]?.atMs ?? end) - atMs;
    const down = bitsPerSecond < steps[i - 1].bitsPerSecond;
    let ms = down
      ? stepDownAfter(timeline, { at: atMs, rate: bitsPerSecond, ladder: options.ladder })
      : stepUpAfter(timeline, atMs);
    if (!(ms <= held)) {
      missed.push(atMs);
      ms = held;
    }
    (down ? stepDownMs : stepUpMs).push(ms);
  }
  return { stepDownMs, stepUpMs, missed };
}

/**
 * The renditions auto chose, from a server's log lines (`auto #3 720p → 480p from segment 21
 * (…)`, each after its time): the height before the first change from the first change's time,
 * then each new height from its line's time.
 *
 * @param lines The server's stdout lines (text format).
 * @returns From when (ms since the epoch) each height was chosen.
 */
export function autoChoices(lines: readonly string[]): ShownFrame[] {
  const choices: ShownFrame[] = [];
  for (const line of lines) {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+) auto #\d+ (\d+)p → (\d+)p /.exec(line);
    if (m === null) continue;
    const at = Date.parse(`${m[1]}T${m[2]}Z`);
    if (choices.length === 0) choices.push({ at, height: Number(m[3]) });
    choices.push({ at, height: Number(m[4]) });
  }
  return choices;
}

/** The rows of one schedule: each player's figures, peerstream's judged against hls.js's. */
export function scheduleMetrics(
  schedule: Schedule,
  figures: Map<PlayerKind, PlayerFigures>,
): Metric[] {
  const hls = figures.get("hls.js")!;
  const metrics: Metric[] = [];
  for (const kind of PLAYERS) {
    const f = figures.get(kind)!;
    const ours = kind !== "hls.js";
    const row = (name: string) => `${schedule.name}: ${kind} ${name}`;
    metrics.push(
      { name: row("start-up"), unit: "ms", values: [f.startupMs] },
      {
        name: row("stalls"),
        unit: "",
        values: [f.stalls],
        ...(ours
          ? {
            target: `≤ hls.js (${hls.stalls}), 0 where it has any`,
            goal: { stat: "max", atMost: hls.stalls > 0 ? 0 : hls.stalls },
          }
          : {}),
      },
      { name: row("stalled time"), unit: "s", values: [f.stalledS] },
      {
        name: row("mean bit rate on screen"),
        unit: "kbit/s",
        values: [f.meanKbps],
        ...(ours
          ? {
            target: `≥ hls.js (${hls.meanKbps.toFixed(0)})`,
            goal: { stat: "min", atLeast: hls.meanKbps },
          }
          : {}),
      },
      { name: row("switches"), unit: "", values: [f.switches] },
    );
    if (f.stepDownMs.length > 0) {
      metrics.push({
        name: row("drop → sustainable rendition on screen"),
        unit: "ms",
        values: f.stepDownMs,
        ...(ours ? { target: "≤ 2000", goal: { stat: "max", atMost: 2000 } } : {}),
      });
    }
    if (f.stepUpMs.length > 0) {
      metrics.push({
        name: row("rise → higher rendition on screen"),
        unit: "ms",
        values: f.stepUpMs,
      });
    }
    if (f.chosen !== undefined && f.chosen.stepDownMs.length > 0) {
      metrics.push({
        name: row("drop → sustainable rendition chosen (server)"),
        unit: "ms",
        values: f.chosen.stepDownMs,
        // A drop is measurable once a segment crosses the link after it: the next goes within 2 s.
        target: "≤ 4000 (2 s after the drop is measurable)",
        goal: { stat: "max", atMost: 4000 },
      });
    }
    if (f.chosen !== undefined && f.chosen.stepUpMs.length > 0) {
      metrics.push({
        name: row("rise → higher rendition chosen (server)"),
        unit: "ms",
        values: f.chosen.stepUpMs,
      });
    }
  }
  return metrics;
}
