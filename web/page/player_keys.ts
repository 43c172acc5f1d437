/**
 * The player's keys and the scrubber's fill, as pure functions: which key does what (space and
 * k play/pause, f full screen, m mute, ←/→ ∓5 s, j/l ∓10 s, ↑/↓ volume, Home/End), and how much
 * of the track is played and buffered. The page (`controls.ts`) feeds them events and times.
 * @module
 */

import type { TimeRange } from "./buffer_gaps.ts";

/** What a key asks of the player. */
export type KeyAction =
  | { kind: "toggle-pause" }
  | { kind: "fullscreen" }
  | { kind: "mute" }
  | { kind: "seek-by"; seconds: number }
  | { kind: "seek-to"; fraction: number }
  | { kind: "volume-by"; amount: number };

/** Where a key was pressed: what had the focus, and which modifiers were held. */
export interface KeyContext {
  /** The focused element's tag, lower case (`body` when nothing had the focus). */
  tag: string;
  /** Its `type` attribute, for an `input`. */
  type?: string;
  /** Its id. */
  id?: string;
  /** Whether it is editable text (`contenteditable`). */
  editable?: boolean;
  /** Ctrl, Alt or Meta held: the browser's or the system's shortcut, never the player's. */
  modified?: boolean;
  /** Whether a dialog is open: keys belong to it. */
  dialogOpen?: boolean;
}

/** Seconds ←/→ move, and j/l. */
export const ARROW_SEEK_S = 5;
/** Seconds j/l move. */
export const JUMP_SEEK_S = 10;
/** How much ↑/↓ change the volume (0 to 1). */
export const VOLUME_STEP = 0.1;

const LETTERS: Record<string, KeyAction> = {
  k: { kind: "toggle-pause" },
  f: { kind: "fullscreen" },
  m: { kind: "mute" },
  j: { kind: "seek-by", seconds: -JUMP_SEEK_S },
  l: { kind: "seek-by", seconds: JUMP_SEEK_S },
};

const ARROWS: Record<string, KeyAction> = {
  ArrowLeft: { kind: "seek-by", seconds: -ARROW_SEEK_S },
  ArrowRight: { kind: "seek-by", seconds: ARROW_SEEK_S },
  ArrowUp: { kind: "volume-by", amount: VOLUME_STEP },
  ArrowDown: { kind: "volume-by", amount: -VOLUME_STEP },
  Home: { kind: "seek-to", fraction: 0 },
};

/**
 * What a key does to the player, or null when the key belongs to what has the focus: text
 * fields, lists and other sliders keep their own keys; a button keeps space and Enter; the
 * position slider hands ←/→, Home and End to the player, so that they move by seconds, not by
 * tenths, and keeps ↑/↓.
 *
 * @param key `KeyboardEvent.key`.
 * @param where What had the focus.
 * @returns The action, or null.
 */
export function keyAction(key: string, where: KeyContext): KeyAction | null {
  if (where.modified || where.dialogOpen || where.editable) return null;
  const tag = where.tag;
  if (tag === "textarea" || tag === "select") return null;
  if (tag === "input") {
    const isSeek = where.type === "range" && where.id === "seek";
    if (!isSeek) return null;
    // Its ↑/↓ stay its own; letters, space, ←/→ and Home are the player's.
    if (key === "ArrowUp" || key === "ArrowDown") return null;
  }
  if (key === " ") return tag === "button" ? null : { kind: "toggle-pause" };
  if (key === "End") return tag === "input" ? { kind: "seek-to", fraction: 1 } : null;
  if (key in ARROWS) return ARROWS[key];
  const letter = key.length === 1 ? key.toLowerCase() : "";
  return LETTERS[letter] ?? null;
}

/** How much of the scrubber's track to paint, each from 0 to 1. */
export interface ScrubberFill {
  /** Played: from the start to the playhead. */
  played: number;
  /** The buffered range around the playhead: its start. */
  bufferedStart: number;
  /** Its end. */
  bufferedEnd: number;
}

/**
 * The scrubber's fill: the playhead's share of the title, and the buffered range that holds it
 * (or the first one after it, while the playhead waits for media).
 *
 * @param time The playhead, s.
 * @param duration The title's duration, s.
 * @param ranges The buffered ranges, ascending.
 * @returns Fractions of the track.
 */
export function scrubberFill(
  time: number,
  duration: number,
  ranges: readonly TimeRange[],
): ScrubberFill {
  if (!(duration > 0)) return { played: 0, bufferedStart: 0, bufferedEnd: 0 };
  const share = (t: number) => Math.min(1, Math.max(0, t / duration));
  const range = ranges.find((r) => r.end >= time);
  return {
    played: share(time),
    bufferedStart: range === undefined ? 0 : share(Math.min(range.start, time)),
    bufferedEnd: range === undefined ? 0 : share(range.end),
  };
}
