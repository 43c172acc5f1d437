/**
 * One epoch of the viewer's playback: from a stream's start or a jump to the next jump or the end.
 * It holds the epoch's playout queue, position clock, timeline and player, the task that drains
 * the queue into the player, and where the screen stands in it. `client/viewer_screen.ts` decides
 * when epochs begin and end; this file only runs one.
 * @module
 */

import type { SegmentMessage, StreamStartMessage } from "../protocol/messages.ts";
import type { Player } from "./player.ts";
import { type PlayoutConfig, PlayoutQueue } from "./playout.ts";
import { PositionClock } from "./position.ts";

/** Bytes per write into the player: small, so that what it took is known finely. */
const WRITE_BYTES = 16 * 1024;

/** What the drain task asks of the viewer around it. */
export interface DrainHooks {
  /** The clock, ms. */
  now: () => number;
  /** Whether PAUSE is in effect (a jump while paused stays paused). */
  paused: () => boolean;
  /** The player exited, with its code. */
  exited: (code: number) => void;
  /** The player took a piece: the hold may change. */
  taken: () => void;
}

/** One epoch: its queue, clock, timeline and player. */
export class ViewerEpoch {
  /** Media time of the epoch's first segment. */
  readonly origin: number;
  /** Media time asked for (a SEEK target, the frame after the one on screen for QUALITY). */
  readonly at: number;
  /** The media waiting for the player. */
  readonly queue: PlayoutQueue;
  /** The on-screen position clock. */
  readonly clock: PositionClock;
  /** The segments received, in order. */
  readonly timeline: SegmentMessage[] = [];
  /** The player, once it started. */
  player?: Player;
  /** The player, or null when it cannot start. */
  readonly playerReady: Promise<Player | null>;
  /** Whether the epoch ended. */
  retired = false;
  /**
   * A jump while paused into a player that shows an exact frame (mpv): the stream runs until the
   * epoch's first segment is in, so that the target's frame shows, paused, in the window.
   */
  priming = false;
  /** Wakes the drain task when it waits for media. */
  wake?: () => void;

  /**
   * @param origin Media time of the epoch's first segment.
   * @param at Media time asked for.
   * @param playerReady The player, once the previous one is gone.
   * @param playout The playout queue's bounds.
   * @param pausedAt The clock's time when PAUSE is in effect, else undefined.
   */
  constructor(
    origin: number,
    at: number,
    playerReady: Promise<Player | null>,
    playout: Readonly<PlayoutConfig>,
    pausedAt?: number,
  ) {
    this.origin = origin;
    this.at = at;
    this.playerReady = playerReady;
    this.queue = new PlayoutQueue(origin, playout);
    this.clock = new PositionClock(origin);
    if (pausedAt !== undefined) this.clock.hold(pausedAt);
  }

  /**
   * Ends the epoch: its queue is dropped and its player killed; resolves once it is gone.
   * `keepWindow` when another player takes over at once (a jump, a new title).
   */
  async retire(options: { keepWindow?: boolean } = {}): Promise<void> {
    this.retired = true;
    this.queue.clear();
    this.wake?.();
    const player = await this.playerReady.catch(() => null);
    await player?.kill(options).catch(() => {});
  }

  /** Writes the queue into the player, one piece at a time, until the epoch ends. */
  async drain(hooks: DrainHooks): Promise<void> {
    const player = await this.playerReady;
    if (player === null) return;
    this.player = player;
    player.exited.then(hooks.exited);
    if (this.retired) return;
    // A jump while paused stays paused.
    if (hooks.paused()) player.pause();
    while (!this.retired) {
      const piece = this.queue.take(WRITE_BYTES);
      if (piece === undefined) {
        if (this.queue.ended) {
          await player.end();
          return;
        }
        await new Promise<void>((resolve) => this.wake = resolve);
        this.wake = undefined;
        continue;
      }
      const taken = await player.write(piece.data);
      if (!taken || this.retired) return;
      // What the player took bounds what it can show (see position.ts).
      this.clock.consumed(piece.mediaEnd, hooks.now());
      hooks.taken();
    }
  }

  /** The position on screen, from the player when it can tell, else from the clock. */
  onScreen(now: () => number): { position: number; started: boolean } {
    const player = this.player;
    if (player?.position === undefined) {
      return { position: this.clock.position(now()), started: this.clock.started };
    }
    const shown = player.position();
    if (shown === undefined) return { position: this.at, started: false };
    return { position: this.origin + shown, started: true };
  }

  /**
   * Where a QUALITY switch continues: a player that can tell its frame (mpv) is frozen on it and
   * the new rendition starts at the next frame, so no frame shows twice and none is skipped;
   * otherwise the position on screen.
   */
  async holdForSwitch(
    info: StreamStartMessage,
    paused: boolean,
    now: () => number,
  ): Promise<number> {
    const held = await this.player?.hold?.();
    if (held === undefined) return this.onScreen(now).position;
    // A player starting exactly somewhere shows the first frame at or after it: half a frame on
    // is the next frame; paused, a quarter frame back is the same frame again.
    const frame = 1 / (info.fps || 25);
    const shift = paused ? -frame / 4 : frame / 2;
    return Math.max(0, Math.min(info.duration, this.origin + held + shift));
  }

  /**
   * Takes a segment's start into the queue and the timeline.
   *
   * @returns True when it ends the priming (the first segment is in, and the frame asked for can
   * show).
   */
  segment(segment: SegmentMessage): boolean {
    this.queue.segment(segment);
    this.timeline.push(segment);
    // A second segment began: the first is in.
    if (!this.priming || this.timeline.length <= 1) return false;
    this.priming = false;
    return true;
  }

  /** The segment on screen at `position`: the last one starting at or before it. */
  segmentAt(position: number): SegmentMessage | undefined {
    const timeline = this.timeline;
    for (let i = timeline.length - 1; i >= 0; i--) {
      if (timeline[i].start <= position + 1e-3) return timeline[i];
    }
    return timeline[0];
  }
}
