/**
 * The rendition ladder of a title (pure): which heights to make from its sources, and each
 * height's peak bit rate.
 * @module
 */

/** Heights a single source may be scaled down to. */
export const LADDER_HEIGHTS: readonly number[] = [240, 360, 480, 720, 1080];
/** Most renditions derived from a single source. */
export const MAX_DERIVED_RENDITIONS = 3;

/**
 * Peak H.264 bit rate (`-maxrate`) for a height, in bits/s: about 0.1 bit per pixel at 25 fps,
 * at least 300 kbit/s.
 *
 * @param height Height in pixels.
 * @returns Bits per second.
 */
export function maxBitrateFor(height: number): number {
  const width = (height * 16) / 9;
  return Math.max(300_000, Math.round((width * height * 25 * 0.1) / 1000) * 1000);
}

/** A rendition to produce: which source and which height. */
export interface LadderStep {
  /** Index in the title's source renditions. */
  source: number;
  /** Output height. */
  height: number;
}

/**
 * Plan the renditions of a title. Several sources: one rendition each, at its own height. A single
 * source: the heights of {@linkcode LADDER_HEIGHTS} up to its height (never upscaled), at most
 * {@linkcode MAX_DERIVED_RENDITIONS} (the lowest, the highest and one between), or just its own
 * height when it is below 240p.
 *
 * @param sourceHeights Heights of the sources in ascending order.
 * @returns The renditions in ascending height.
 */
export function planLadder(sourceHeights: readonly number[]): LadderStep[] {
  if (sourceHeights.length !== 1) {
    return sourceHeights.map((height, source) => ({ source, height: height - (height % 2) }));
  }
  const top = sourceHeights[0];
  const fits = LADDER_HEIGHTS.filter((h) => h <= top);
  if (fits.length === 0) return [{ source: 0, height: top - (top % 2) }];
  let picked = fits;
  if (fits.length > MAX_DERIVED_RENDITIONS) {
    picked = [fits[0], fits[Math.floor(fits.length / 2)], fits[fits.length - 1]];
  }
  return picked.map((height) => ({ source: 0, height }));
}
