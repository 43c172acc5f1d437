/**
 * The `auto` quality of one viewer's stream: the throughput estimate kept per connection, the
 * ladder as ABR sees it, and the rendition chosen at each segment boundary from what the
 * receipts and the link tell (`video/abr.ts` holds the policy; `stream_session.ts` asks). Also
 * the log line of a switch ({@linkcode switchText}).
 * @module
 */

import {
  ABR_DEFAULTS,
  type AbrRendition,
  chooseRendition,
  EwmaEstimator,
  type InFlight,
  inFlightCap,
} from "../../video/abr.ts";
import type { AckSample } from "./stream_state.ts";

/**
 * What `auto` has learnt of each connection's throughput, kept across its streams, so that a new
 * stream (or a jump) starts from a measured estimate rather than the default.
 */
const ESTIMATORS = new WeakMap<object, EwmaEstimator>();

/** A change of rendition made by auto, and what it was decided from. */
export interface AutoSwitch {
  /** The segment it applies from. */
  index: number;
  /** The height before. */
  from: number;
  /** The height from this segment on. */
  to: number;
  /** The averaged bandwidth estimate, bits/s. */
  estimate: number;
  /** The viewer's modelled buffer, seconds. */
  bufferSeconds: number;
  /** The last segment's throughput, bits/s. */
  lastThroughput?: number;
  /** The highest rate the segment still on its way allows, bits/s (Infinity: none). */
  inFlightCap: number;
}

/**
 * A change of rendition by auto, for the log, e.g. `720p → 480p from segment 21 (estimate 4,870
 * kbit/s, last 4,912, on its way ≤ 2,351, buffer 4.0 s)`.
 *
 * @param change The change.
 * @returns The text.
 */
export function switchText(change: AutoSwitch): string {
  const kbps = (bps: number) => Math.round(bps / 1000).toLocaleString("en-US");
  const last = change.lastThroughput === undefined ? "" : `, last ${kbps(change.lastThroughput)}`;
  const cap = Number.isFinite(change.inFlightCap)
    ? `, on its way ≤ ${kbps(change.inFlightCap)}`
    : "";
  return `${change.from}p → ${change.to}p from segment ${change.index} (estimate ${
    kbps(change.estimate)
  } kbit/s${last}${cap}, buffer ${change.bufferSeconds.toFixed(1)} s)`;
}

/** What the pacing tells auto at a segment boundary. */
export interface AutoView {
  /** The viewer's modelled buffer, seconds. */
  bufferSeconds: number;
  /** The oldest segment still on its way, if any. */
  inFlight: InFlight | undefined;
}

/**
 * Auto's choice for one stream: the connection's estimator (shared by its streams), the ladder
 * with bit rates made non-decreasing with height, and the last segment's throughput.
 */
export class AutoQuality {
  readonly #estimator: EwmaEstimator;
  /** The ladder as ABR sees it: bit rates made non-decreasing with height. */
  readonly #ladder: AbrRendition[];
  #lastThroughput: number | undefined;

  /**
   * @param conn The viewer's connection: its estimate is kept across its streams.
   * @param renditions The title's renditions, lowest first.
   */
  constructor(conn: object, renditions: readonly { height: number; bitrate: number }[]) {
    let estimator = ESTIMATORS.get(conn);
    if (estimator === undefined) {
      estimator = new EwmaEstimator();
      ESTIMATORS.set(conn, estimator);
    }
    this.#estimator = estimator;
    let floor = 0;
    this.#ladder = renditions.map((r) => {
      floor = Math.max(floor, r.bitrate);
      return { height: r.height, bitrate: floor };
    });
  }

  /** The rendition a stream starts on: from what this connection measured before, or the default. */
  initial(): number {
    return chooseRendition(this.#ladder, this.#ladder.length - 1, {
      estimate: this.#estimator.estimate(),
      bufferSeconds: Infinity,
    });
  }

  /** Whether the connection has a throughput sample to estimate from. */
  canEstimate(): boolean {
    return this.#estimator.canEstimate();
  }

  /**
   * Feeds a viewer's receipt of a whole segment to the estimate.
   *
   * @param sample What the receipt measured.
   */
  sample(sample: AckSample): void {
    this.#estimator.sample(sample.ms, sample.bytes, { mediaSeconds: sample.mediaSeconds });
    this.#lastThroughput = (sample.bytes * 8) /
      (Math.max(sample.ms, ABR_DEFAULTS.minSampleMs) / 1000);
  }

  /**
   * The rendition of segment `index`, from what the receipts and the link tell now.
   *
   * @param from The rendition being sent.
   * @param index The segment it is chosen for.
   * @param view The pacing's buffer and segment on its way; `onSwitch` hears of a change.
   * @returns The rendition's index.
   */
  choose(
    from: number,
    index: number,
    view: AutoView & { onSwitch?: (change: AutoSwitch) => void },
  ): number {
    const input = {
      estimate: this.#estimator.estimate(),
      bufferSeconds: view.bufferSeconds,
      lastThroughput: this.#lastThroughput,
      inFlight: view.inFlight,
    };
    const to = chooseRendition(this.#ladder, from, input);
    if (to === from || view.onSwitch === undefined) return to;
    view.onSwitch({
      index,
      from: this.#ladder[from].height,
      to: this.#ladder[to].height,
      ...input,
      inFlightCap: inFlightCap(input.inFlight),
    });
    return to;
  }
}
