/**
 * Keeping a picture on a room's timeline (pure): where the timeline is at a server time, the
 * offset of this end's clock to the server's measured NTP-style, and what to do about a drift
 * (nothing, a playback rate within ±5 %, or a seek). The terminal (mpv, ffplay) and the page use
 * the same rules; docs/watch-together.md explains the numbers.
 * @module
 */

/** A room's shared timeline, as `room-playback` carries it. */
export interface RoomTimeline {
  /** Server time of `position`, ms since the epoch. */
  anchor: number;
  /** Seconds into the title at `anchor`. */
  position: number;
  /** 1 playing, 0 paused. */
  rate: 0 | 1;
}

/**
 * The timeline's position at a server time, in seconds, never before 0 (a clock sample a little
 * before the anchor must not give a negative position).
 *
 * @param timeline The room's timeline.
 * @param serverMs The server's time, ms since the epoch.
 */
export function timelinePosition(timeline: RoomTimeline, serverMs: number): number {
  return Math.max(0, timeline.position + (serverMs - timeline.anchor) * timeline.rate / 1000);
}

/** How many clock samples {@linkcode ClockOffset} keeps. */
export const OFFSET_SAMPLES = 8;

/**
 * The offset of the server's clock to this end's, NTP-style: for a request sent at `t0` and its
 * answer received at `t1` (both this end's clock), stamped `server` by the server, the offset is
 * `server − (t0 + t1) / 2`, off by at most half the round trip. The sample of least round trip
 * among the last {@linkcode OFFSET_SAMPLES} wins: a late answer (a queue on the way) says little.
 */
export class ClockOffset {
  #samples: { offset: number; rtt: number }[] = [];

  /**
   * Adds one exchange. A sample whose answer came before its request (a clock that stepped back)
   * is ignored.
   *
   * @param t0 When the request left, this end's ms.
   * @param server The server's stamp, its ms.
   * @param t1 When the answer arrived, this end's ms.
   */
  add(t0: number, server: number, t1: number): void {
    const rtt = t1 - t0;
    if (!Number.isFinite(rtt) || rtt < 0 || !Number.isFinite(server)) return;
    this.#samples.push({ offset: server - (t0 + t1) / 2, rtt });
    if (this.#samples.length > OFFSET_SAMPLES) this.#samples.shift();
  }

  /** ms to add to this end's clock to read the server's; undefined before the first sample. */
  get offset(): number | undefined {
    return this.#best()?.offset;
  }

  /** The round trip of the sample in use, ms (the offset is within half of it). */
  get roundTrip(): number | undefined {
    return this.#best()?.rtt;
  }

  /**
   * The server's time now.
   *
   * @param localMs This end's time, ms.
   * @returns The server's, or this end's when no sample was taken yet.
   */
  serverTime(localMs: number): number {
    return localMs + (this.offset ?? 0);
  }

  #best(): { offset: number; rtt: number } | undefined {
    let best: { offset: number; rtt: number } | undefined;
    for (const sample of this.#samples) if (!best || sample.rtt < best.rtt) best = sample;
    return best;
  }
}

/** The thresholds of drift correction, seconds. */
export interface DriftRules {
  /** Under it nothing is done (a rate running already goes back to 1 under `settle`). */
  dead: number;
  /** A rate correction ends under it. */
  settle: number;
  /** Over it, a seek; under it, a rate (when the player can change its rate). */
  seekOver: number;
  /** The greatest change of rate: 0.05 is ±5 %, not noticed. */
  maxRateChange: number;
  /** The drift a rate corrects per second of it: rate change = drift / `rateHorizon`. */
  rateHorizon: number;
}

/** With a player that changes its rate (mpv, the page). */
export const RATE_RULES: DriftRules = {
  dead: 0.04,
  settle: 0.02,
  seekOver: 1,
  maxRateChange: 0.05,
  rateHorizon: 2,
};

/** With a player that cannot change its rate while playing (ffplay): seeks only. */
export const SEEK_ONLY_RULES: DriftRules = { ...RATE_RULES, seekOver: 0.3 };

/** What to do about a drift. */
export type DriftAction =
  | { kind: "none" }
  | { kind: "rate"; rate: number }
  | { kind: "seek"; position: number };

/**
 * Decides what to do about a drift.
 *
 * @param drift Seconds: the position on screen minus the room's (positive: ahead).
 * @param roomPosition The room's position now, seconds.
 * @param rate The player's playback rate now (1 when it cannot change it).
 * @param options `canRate` when the player can change its rate, `startup` the seconds a seek
 *   takes to show (the seek aims that far ahead), `rules` to override the thresholds.
 */
export function driftAction(
  drift: number,
  roomPosition: number,
  rate: number,
  options: { canRate: boolean; startup: number; rules?: DriftRules },
): DriftAction {
  const rules = options.rules ?? (options.canRate ? RATE_RULES : SEEK_ONLY_RULES);
  const size = Math.abs(drift);
  if (size > rules.seekOver) {
    return { kind: "seek", position: Math.max(0, roomPosition + options.startup) };
  }
  if (!options.canRate) return { kind: "none" };
  const correcting = rate !== 1;
  if (size < rules.settle || (!correcting && size < rules.dead)) {
    return correcting ? { kind: "rate", rate: 1 } : { kind: "none" };
  }
  const change = Math.min(rules.maxRateChange, size / rules.rateHorizon);
  const wanted = roundRate(drift > 0 ? 1 - change : 1 + change);
  return wanted === rate ? { kind: "none" } : { kind: "rate", rate: wanted };
}

/** A rate to the nearest 0.5 %: fewer changes sent to the player for the same effect. */
function roundRate(rate: number): number {
  return Math.round(rate * 200) / 200;
}

/** Behind the room by more than this right after a landing, a player jumps again, seconds. */
export const LANDING_BEHIND = 0.25;

/** What to do where a start or a jump landed. */
export type LandingAction =
  | { kind: "none" }
  | { kind: "hold"; seconds: number }
  | { kind: "seek"; position: number };

/**
 * Where a start or a jump landed, at its first picture: the start-up it assumed is a guess until
 * measured, and a rate of ±5 % takes 20 s per second of error (a late joiner 0.45 s ahead took
 * 7.5 s to come within 150 ms in the bench). Ahead by more than the dead band: the first picture
 * is held until the room reaches it (a still picture at a start is not noticed). Behind by more
 * than {@linkcode LANDING_BEHIND}: a jump again, now with the start-up measured. Otherwise nothing:
 * the rate rules of {@linkcode driftAction} take it.
 *
 * @param drift Seconds: the position on screen minus the room's (positive: ahead).
 * @param roomPosition The room's position now, seconds.
 * @param startup The start-up just measured, seconds.
 */
export function landingAction(drift: number, roomPosition: number, startup: number): LandingAction {
  if (drift > RATE_RULES.dead) return { kind: "hold", seconds: drift };
  if (drift < -LANDING_BEHIND) {
    return { kind: "seek", position: Math.max(0, roomPosition + startup) };
  }
  return { kind: "none" };
}
