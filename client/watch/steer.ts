/**
 * What a terminal player does to stay on a room's timeline (pure): the rules of
 * `protocol/watch_sync.ts`, plus what a player that cannot change its rate needs to land.
 *
 * mpv starts exactly at the frame asked for (issue 18) and changes its `speed`: it follows
 * {@linkcode driftAction} with `canRate: true` as it is. ffplay cannot do either: a stream (or a
 * jump) it is fed starts at the first frame of the segment containing the position asked for, up
 * to a segment before it, so a seek to the room's position lands behind it, and the next check
 * would seek again, for ever. So with ffplay a start or a seek aims one segment further (it lands
 * ahead of the room, never behind), and a picture ahead of the room by more than the seek
 * threshold is frozen (SIGSTOP, as PAUSE does) for exactly as long as it is ahead, then runs on:
 * it is on the timeline again with no second jump. The freeze lasts up to a segment and the
 * start-up (and a margin) when the picture just landed from a start or jump, and up to mpv's seek
 * threshold (1 s) otherwise: a room moved back by a member's SEEK is a jump back, not a long
 * freeze. Behind the room by more than the threshold, or further ahead, it seeks (aiming ahead
 * again).
 * @module
 */

import {
  type DriftAction,
  driftAction,
  RATE_RULES,
  SEEK_ONLY_RULES,
} from "../../protocol/watch_sync.ts";

/** What a player does about its drift: the protocol's actions, or a freeze of `seconds`. */
export type SteerAction = DriftAction | { kind: "hold"; seconds: number };

/** What the steering knows of the player and the title. */
export interface SteerOptions {
  /** The player changes its rate and starts exactly where asked (mpv). */
  canRate: boolean;
  /** Seconds from a start or seek to its first frame on screen, as last measured. */
  startup: number;
  /** The title's segment length, seconds (a start lands up to this much before the position). */
  segment: number;
}

/** mpv landing further than this off the room after a start jumps again at once, seconds. */
export const RESEEK_SECONDS = 0.25;

/** The longest freeze that lands a player ahead of the room, beyond one segment and the start-up, seconds. */
export const HOLD_MARGIN_SECONDS = 1;

/**
 * Where to start (or seek) so that the first frame shows at the room's position: the room's
 * position when the first frame is expected, and with a player that starts at a segment's first
 * frame, one segment further (it then lands ahead, and holds).
 *
 * @param roomPosition The room's position now, seconds.
 * @param options The player's abilities, its start-up and the segment length.
 * @returns The position to ask for, seconds.
 */
export function startPosition(roomPosition: number, options: SteerOptions): number {
  const ahead = options.canRate ? 0 : options.segment;
  return Math.max(0, roomPosition + options.startup + ahead);
}

/**
 * Decides what to do about a drift.
 *
 * @param drift Seconds: the position on screen minus the room's (positive: ahead).
 * @param roomPosition The room's position now, seconds.
 * @param options The player's abilities, its start-up, the segment length, its rate now, and
 * whether the picture just landed from a start or a jump (`landing`: a longer freeze is then
 * allowed, and mpv off by more than {@linkcode RESEEK_SECONDS} after a start jumps again).
 * @returns Nothing, a rate (mpv), a seek, or a freeze (ffplay ahead of the room).
 */
export function steer(
  drift: number,
  roomPosition: number,
  options: SteerOptions & { rate: number; landing?: "start" | "jump" },
): SteerAction {
  if (options.canRate && options.landing === "start" && Math.abs(drift) > RESEEK_SECONDS) {
    // A new window's first start-up is a guess (0.5 s; 0.8-2.6 s measured here): at 5 % a drift
    // of 0.9 s would take 18 s to close, while a jump (0.1-0.3 s, now measured) lands on the frame.
    return { kind: "seek", position: Math.max(0, roomPosition + options.startup) };
  }
  if (options.canRate) {
    return driftAction(drift, roomPosition, options.rate, {
      canRate: true,
      startup: options.startup,
    });
  }
  const maxHold = options.landing
    ? options.segment + options.startup + HOLD_MARGIN_SECONDS
    : RATE_RULES.seekOver;
  if (drift > SEEK_ONLY_RULES.seekOver && drift <= maxHold) {
    return { kind: "hold", seconds: drift };
  }
  if (Math.abs(drift) <= SEEK_ONLY_RULES.seekOver) return { kind: "none" };
  return { kind: "seek", position: startPosition(roomPosition, options) };
}
