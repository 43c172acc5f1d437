/**
 * Pure adaptive bitrate: an EWMA bandwidth estimator and a rendition policy, with every tunable in
 * {@linkcode ABR_DEFAULTS}. Modelled on hls.js (`ewma.ts`, `ewma-bandwidth-estimator.ts`,
 * `abr-controller.ts`): the streaming loop feeds (milliseconds, bytes) samples and asks for a
 * choice at each segment boundary.
 * @module
 */

/** Tunables of the estimator and the policy. */
export interface AbrConfig {
  /** Half-life of the fast moving average, in seconds of sample weight. @default {3} */
  fastHalfLife: number;
  /** Half-life of the slow moving average, in seconds of sample weight. @default {9} */
  slowHalfLife: number;
  /** Estimate in bits/s used until enough samples arrived. @default {1_000_000} */
  defaultEstimate: number;
  /** Sample weight (seconds) the fast average needs before its estimate is used. @default {0.001} */
  minWeight: number;
  /** Shortest sample duration in ms; shorter transfers are counted as this long. @default {50} */
  minSampleMs: number;
  /** Share of the estimate a higher rendition may use before stepping up. @default {0.7} */
  upFactor: number;
  /** Share of the estimate the current rendition may use and still be kept. @default {0.85} */
  stayFactor: number;
  /** Below this many buffered seconds the policy is in an emergency and steps down. @default {4} */
  lowBufferSeconds: number;
  /** Share of the estimate a rendition may use when the buffer is low. @default {0.5} */
  lowBufferFactor: number;
}

/** The default ABR tunables (see {@linkcode AbrConfig} for each one). */
export const ABR_DEFAULTS: Readonly<AbrConfig> = Object.freeze({
  fastHalfLife: 3,
  slowHalfLife: 9,
  defaultEstimate: 1_000_000,
  minWeight: 0.001,
  minSampleMs: 50,
  upFactor: 0.7,
  stayFactor: 0.85,
  lowBufferSeconds: 4,
  lowBufferFactor: 0.5,
});

/** An exponentially weighted moving average whose samples carry a weight (here, seconds). */
class _Ewma {
  readonly #alpha: number;
  #estimate = 0;
  #totalWeight = 0;

  constructor(halfLife: number) {
    // After `halfLife` units of weight an old value counts for one half.
    this.#alpha = halfLife > 0 ? Math.exp(Math.log(0.5) / halfLife) : 0;
  }

  sample(weight: number, value: number): void {
    const adjAlpha = Math.pow(this.#alpha, weight);
    this.#estimate = value * (1 - adjAlpha) + adjAlpha * this.#estimate;
    this.#totalWeight += weight;
  }

  get totalWeight(): number {
    return this.#totalWeight;
  }

  estimate(): number {
    // Undo the bias towards the initial 0 (the "zero factor" of hls.js ewma.ts).
    const zeroFactor = 1 - Math.pow(this.#alpha, this.#totalWeight);
    return zeroFactor > 0 ? this.#estimate / zeroFactor : this.#estimate;
  }
}

/** Options for {@linkcode EwmaEstimator.sample}. */
export interface SampleOptions {
  /**
   * The playback time the bytes carry, s: the sample weighs at least this much.
   * @default {undefined} (the transfer time alone)
   */
  mediaSeconds?: number;
}

/**
 * Bandwidth estimator from transfer samples: a fast and a slow EWMA weighted by each sample's
 * transfer time (at least the media time it carries, when given);
 * the estimate is the lower of the two, so it drops quickly and recovers slowly.
 *
 * @example
 * ```ts
 * const est = new EwmaEstimator();
 * est.sample(1000, 250_000); // 250 kB in 1 s
 * est.estimate(); // 2_000_000 bits/s
 * ```
 */
export class EwmaEstimator {
  readonly #config: Readonly<AbrConfig>;
  readonly #fast: _Ewma;
  readonly #slow: _Ewma;

  /** @param config The tunables; defaults to {@linkcode ABR_DEFAULTS}. */
  constructor(config: Readonly<AbrConfig> = ABR_DEFAULTS) {
    this.#config = config;
    this.#fast = new _Ewma(config.fastHalfLife);
    this.#slow = new _Ewma(config.slowHalfLife);
  }

  /**
   * Add one transfer sample. It weighs its transfer time, or the media time it carries when that
   * is longer (`mediaSeconds`): a slow transfer weighs as long as it took, so the estimate drops
   * quickly, while a fast one still counts for the seconds of playback it brought. Weighted by
   * transfer time alone, the segments of a link that is fast again (a few ms each) would need as
   * much transfer time as the slow spell lasted to move the averages back: minutes of playback at
   * the lowest rendition (issue 18).
   *
   * @param durationMs How long the transfer took; clamped up to `minSampleMs`.
   * @param bytes How many bytes were transferred.
   * @param options `mediaSeconds`: the playback time the bytes carry (a segment's duration).
   */
  sample(durationMs: number, bytes: number, options: SampleOptions = {}): void {
    if (!Number.isFinite(durationMs) || !Number.isFinite(bytes) || bytes < 0) return;
    const seconds = Math.max(durationMs, this.#config.minSampleMs) / 1000;
    const bitsPerSecond = (bytes * 8) / seconds;
    const media = options.mediaSeconds;
    const weight = media !== undefined && Number.isFinite(media) && media > seconds
      ? media
      : seconds;
    this.#fast.sample(weight, bitsPerSecond);
    this.#slow.sample(weight, bitsPerSecond);
  }

  /** Whether enough samples arrived for {@linkcode EwmaEstimator.estimate} to use them. */
  canEstimate(): boolean {
    return this.#fast.totalWeight >= this.#config.minWeight;
  }

  /**
   * The bandwidth estimate.
   *
   * @returns Bits per second: the lower of the fast and slow averages, or `defaultEstimate`.
   */
  estimate(): number {
    if (!this.canEstimate()) return this.#config.defaultEstimate;
    return Math.min(this.#fast.estimate(), this.#slow.estimate());
  }
}

/**
 * The highest rate a link can have if a segment is still on its way: its bytes in the time it has
 * taken so far (at least `minSampleMs`).
 *
 * @param inFlight The segment on its way, if any.
 * @param config The tunables.
 * @returns Bits per second, or Infinity when nothing (valid) is on its way.
 */
export function inFlightCap(
  inFlight: InFlight | undefined,
  config: Readonly<AbrConfig> = ABR_DEFAULTS,
): number {
  if (inFlight === undefined) return Infinity;
  const { bytes, ms } = inFlight;
  if (!Number.isFinite(bytes) || !Number.isFinite(ms) || bytes <= 0) return Infinity;
  return (bytes * 8) / (Math.max(ms, config.minSampleMs) / 1000);
}

/** A rendition as the policy sees it. */
export interface AbrRendition {
  /** Height in pixels. */
  height: number;
  /** Bits per second needed to play it in real time. */
  bitrate: number;
}

/** What the policy knows about the link and the viewer. */
export interface AbrInput {
  /** Bandwidth estimate in bits/s. */
  estimate: number;
  /** Seconds of media sent ahead of real time (the viewer's buffer). */
  bufferSeconds: number;
  /**
   * Throughput of the last segment alone, bits/s. When it is below the current rendition's bit
   * rate the link cannot sustain it now: the estimate is capped by it, so the policy steps down at
   * once instead of waiting for the averages (as hls.js abandons a fragment that arrives too slowly).
   */
  lastThroughput?: number;
  /**
   * The oldest segment sent and not yet confirmed: its bytes, and how long its transfer has lasted
   * so far, ms (from when it went, or the previous receipt if later). It has not arrived, so the
   * link carried less than `bytes` in `ms`: the estimate is capped by `bytes × 8 / ms`. This is
   * what tells a drop before the slow segment's receipt: at 0.6× its bit rate a 2 s segment
   * arrives after 3.3 s, while the next boundary comes 2 s after it went (issue 22).
   */
  inFlight?: InFlight;
}

/** A segment on its way: see {@linkcode AbrInput.inFlight}. */
export interface InFlight {
  /** Its bytes. */
  bytes: number;
  /** How long its transfer has lasted so far, ms. */
  ms: number;
}

/**
 * Choose the rendition for the next segment.
 *
 * - A last segment slower than the current rendition's bit rate caps the estimate (emergency).
 * - A segment still on its way caps it at the rate it cannot have exceeded (`inFlight`).
 * - No step up above what the last segment came at (within the same factors): after a step down
 *   made while a segment was on its way, its receipt may show the link slower still, while the
 *   averages remember the fast link before. Staying and stepping down follow the estimate.
 * - Buffer below `lowBufferSeconds`: the highest rendition whose bitrate is at most
 *   `estimate × lowBufferFactor` (possibly several steps down; index 0 at worst). It may be above
 *   the current one: a link that carries twice a rendition's bit rate fetches a segment in half its
 *   duration, which is what lets a stream start low and show the top rendition from its second
 *   segment (issue 8), while the buffer is still short.
 * - Otherwise step up to the highest rendition within `estimate × upFactor` if that is above the
 *   current one; else keep the current one while it fits `estimate × stayFactor`; else drop to the
 *   highest rendition that fits `estimate × stayFactor`.
 *
 * Because `upFactor < stayFactor`, a steady estimate settles after at most one switch.
 *
 * @example
 * ```ts
 * const ladder = [{ height: 240, bitrate: 400_000 }, { height: 720, bitrate: 2_000_000 }];
 * chooseRendition(ladder, 0, { estimate: 3_000_000, bufferSeconds: 10 }); // 1
 * ```
 * @param renditions Renditions in ascending bitrate; must not be empty.
 * @param current Index of the rendition in use (clamped into range).
 * @param input The estimate and the buffer.
 * @param config The tunables.
 * @returns The index of the rendition to use.
 * @throws {RangeError} When `renditions` is empty.
 */
export function chooseRendition(
  renditions: readonly AbrRendition[],
  current: number,
  input: AbrInput,
  config: Readonly<AbrConfig> = ABR_DEFAULTS,
): number {
  if (renditions.length === 0) {
    throw new RangeError("Cannot choose a rendition: the list is empty");
  }
  const cur = Math.min(Math.max(Number.isInteger(current) ? current : 0, 0), renditions.length - 1);
  let estimate = Number.isFinite(input.estimate) && input.estimate > 0 ? input.estimate : 0;
  estimate = Math.min(estimate, inFlightCap(input.inFlight, config));
  const last = input.lastThroughput;
  const lastValid = last !== undefined && Number.isFinite(last) && last >= 0;
  // Never higher than the last segment came: the averages may still remember a faster link.
  const upEstimate = lastValid ? Math.min(estimate, last) : estimate;
  if (lastValid && last < renditions[cur].bitrate) estimate = upEstimate;
  const highestWithin = (budget: number, limit: number): number => {
    for (let i = limit; i >= 0; i--) {
      if (renditions[i].bitrate <= budget) return i;
    }
    return 0;
  };
  if (input.bufferSeconds < config.lowBufferSeconds) {
    const within = highestWithin(estimate * config.lowBufferFactor, renditions.length - 1);
    if (within <= cur) return within;
    return Math.max(cur, highestWithin(upEstimate * config.lowBufferFactor, renditions.length - 1));
  }
  const up = highestWithin(upEstimate * config.upFactor, renditions.length - 1);
  if (up > cur) return up;
  if (renditions[cur].bitrate <= estimate * config.stayFactor) return cur;
  return highestWithin(estimate * config.stayFactor, cur);
}
