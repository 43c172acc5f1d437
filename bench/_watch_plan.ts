/**
 * The watch scenario's plan: how close a picture must be to count as with the room, the late
 * joiners' kinds, the phases of one room's run (quick and full) and what a run measures.
 * @module
 */

/** A picture within this of the room counts as with the room (the late joiner's figure), s. */
export const ALIGNED_SECONDS = 0.15;

/**
 * A late joiner's player: `rate` follows the rules of a player that changes its rate (mpv, the
 * page), `seek-only` those of one that cannot (ffplay); both land by the landing rule.
 */
export type JoinerKind = "rate" | "seek-only";

/** Where the room is sent back to before each late join, so that the 30 s title does not end. */
export const JOIN_AT_SECONDS = 2;

/** How long each phase of one room's run lasts. */
export interface Plan {
  /** From the `play` to the steady window, ms (drift is sampled from every first picture on). */
  warmMs: number;
  /** The steady window: CPU read at both ends (the same for members alone), ms. */
  windowMs: number;
  /** Drift samples: one every so many ms. */
  sampleMs: number;
  /** Seek targets, one PAUSE/RESUME/SEEK round each. */
  seeks: number[];
  /** Late joiners' players, one joiner after the other. */
  joiners: JoinerKind[];
  /** The longest wait for every picture to follow a control, or a joiner to align, ms. */
  deadlineMs: number;
}

export const QUICK: Plan = {
  warmMs: 3000,
  windowMs: 6000,
  sampleMs: 250,
  seeks: [12, 3],
  joiners: ["rate", "seek-only"],
  deadlineMs: 10_000,
};
export const FULL: Plan = {
  warmMs: 4000,
  windowMs: 10_000,
  sampleMs: 250,
  seeks: [16, 8, 3],
  joiners: ["rate", "rate", "rate", "seek-only", "seek-only", "seek-only"],
  deadlineMs: 12_000,
};

/** What one room's run measured (ms unless said). */
export interface RoomRun {
  n: number;
  /** Largest minus smallest picture over the members, each sample. */
  spreads: number[];
  /** Each member's |picture − room| at each sample. */
  vsRoom: number[];
  /** Each member's control → paused (NaN: not within the deadline). */
  pauseMs: number[];
  /** Each member's control → its picture at the seek's target. */
  seekMs: number[];
  /** Each member's |picture − room| as its seek landed. */
  seekMissMs: number[];
  /** Each late joiner's connect → picture moving within {@linkcode ALIGNED_SECONDS} of the room. */
  joinMs: Record<JoinerKind, number[]>;
  /** Server CPU-s per member-minute over the steady window: in the room, and alone. */
  cpuRoom: number;
  cpuAlone: number;
  /** The same over the room's whole run, from its `play` to its `stop` (controls, joins). */
  cpuRoomWhole: number;
  /** Drift corrections the members made (rate changes are not counted; seeks are). */
  correctionSeeks: number;
  refusals: string[];
}
