/**
 * Pure naming rules of the video library: `NAME_720p.mp4` file names, titles and suggestions.
 *
 * Nothing here touches the file system, so the rules can be tested as tables.
 * @module
 */

/** File extensions accepted as video sources (lower case, no dot). */
export const VIDEO_EXTENSIONS: readonly string[] = [
  "mp4",
  "mkv",
  "mov",
  "webm",
  "avi",
  "ts",
  "m4v",
];

/** A video file name split into its title, its optional `_NNNp` height and its extension. */
export interface ParsedVideoName {
  /** The title the file belongs to, e.g. `dog` for `dog_240p.mp4`. */
  title: string;
  /** The height from a `_NNNp` suffix, or `null` when the name has none. */
  height: number | null;
  /** The lower-case extension without the dot. */
  ext: string;
}

/**
 * The resolution label of a picture (the 1080 of "1080p"): its shorter side, so that a portrait
 * 1080x1920 clip is 1080p like a landscape 1920x1080 one. Sources, the ladder, LIST and QUALITY all
 * use this one rule, before and after preparation (issue 18).
 *
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @returns The label height.
 */
export function resolutionLabel(width: number, height: number): number {
  return Math.min(width, height);
}

/** Longest accepted title, in UTF-16 code units. */
export const MAX_TITLE_LENGTH = 200;

const SUFFIX = /^(.*)_([1-9][0-9]{1,3})p$/i;

/**
 * Whether a title is safe to match by name: not empty, no path separators, no `..`, no control
 * characters, not hidden and not longer than {@linkcode MAX_TITLE_LENGTH}.
 *
 * @param name The candidate title.
 * @returns `true` when the title may be used.
 */
export function isSafeTitle(name: string): boolean {
  if (name.length === 0 || name.length > MAX_TITLE_LENGTH) return false;
  if (name.startsWith(".") || name.includes("..")) return false;
  if (name.trim() !== name) return false;
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) return false;
    if (ch === "/" || ch === "\\" || ch === ":") return false;
  }
  return true;
}

/**
 * Parse a video file name such as `dog_240p.mp4` or `clip.mkv`.
 *
 * @example
 * ```ts
 * parseVideoFileName("dog_240p.mp4"); // { title: "dog", height: 240, ext: "mp4" }
 * parseVideoFileName("clip.mkv"); // { title: "clip", height: null, ext: "mkv" }
 * parseVideoFileName(".hidden.mp4"); // null
 * ```
 * @param fileName A bare file name (no folder).
 * @returns The parts, or `null` for hidden files, other extensions and unsafe titles.
 */
export function parseVideoFileName(fileName: string): ParsedVideoName | null {
  if (fileName.startsWith(".")) return null;
  const dot = fileName.lastIndexOf(".");
  if (dot <= 0) return null;
  const ext = fileName.slice(dot + 1).toLowerCase();
  if (!VIDEO_EXTENSIONS.includes(ext)) return null;
  const stem = fileName.slice(0, dot);
  const match = SUFFIX.exec(stem);
  const title = match ? match[1] : stem;
  const height = match ? Number(match[2]) : null;
  if (!isSafeTitle(title)) return null;
  return { title, height, ext };
}

/** One file of a {@linkcode RenditionGroup}. */
export interface RenditionFile {
  /** The file name as found in the folder. */
  fileName: string;
  /** The height from the `_NNNp` suffix, or `null` for an unsuffixed single file. */
  height: number | null;
}

/** The files that make up one title. */
export interface RenditionGroup {
  /** The title. */
  title: string;
  /**
   * Its files: either exactly one unsuffixed file (height `null`) or one or more suffixed files in
   * ascending height.
   */
  files: RenditionFile[];
}

/** The result of {@linkcode groupRenditions}. */
export interface GroupResult {
  /** Titles in ascending order of name. */
  groups: RenditionGroup[];
  /** One message per file that was left out, in the std message style. */
  warnings: string[];
}

/**
 * Group the file names of a folder by title.
 *
 * Hidden files are ignored silently; other names that are not videos are reported. When a title has
 * both suffixed (`dog_240p.mp4`) and unsuffixed (`dog.mp4`) files, the suffixed ones are kept and the
 * others reported; of two files with the same height, the first in name order is kept.
 *
 * @param fileNames Bare file names, in any order.
 * @returns The groups and the warnings.
 */
export function groupRenditions(fileNames: readonly string[]): GroupResult {
  const warnings: string[] = [];
  const byTitle = new Map<string, { fileName: string; height: number | null }[]>();
  for (const fileName of [...fileNames].sort()) {
    if (fileName.startsWith(".")) continue;
    const parsed = parseVideoFileName(fileName);
    if (parsed === null) {
      warnings.push(
        `Skipping "${fileName}": not a video file name; use NAME.mp4 or NAME_720p.mp4 (${
          VIDEO_EXTENSIONS.join(", ")
        })`,
      );
      continue;
    }
    let list = byTitle.get(parsed.title);
    if (list === undefined) byTitle.set(parsed.title, list = []);
    list.push({ fileName, height: parsed.height });
  }
  const groups: RenditionGroup[] = [];
  for (const title of [...byTitle.keys()].sort()) {
    const list = byTitle.get(title)!;
    const suffixed = list.filter((f) => f.height !== null);
    const plain = list.filter((f) => f.height === null);
    const files: RenditionFile[] = [];
    if (suffixed.length > 0) {
      for (const f of plain) {
        warnings.push(
          `Skipping "${f.fileName}": title "${title}" also has _NNNp renditions; rename or remove it`,
        );
      }
      const seen = new Set<number>();
      for (const f of [...suffixed].sort((a, b) => a.height! - b.height!)) {
        if (seen.has(f.height!)) {
          warnings.push(
            `Skipping "${f.fileName}": title "${title}" already has a ${f.height}p file; remove one`,
          );
          continue;
        }
        seen.add(f.height!);
        files.push(f);
      }
    } else {
      files.push(plain[0]);
      for (const f of plain.slice(1)) {
        warnings.push(
          `Skipping "${f.fileName}": title "${title}" already has "${
            plain[0].fileName
          }"; remove one`,
        );
      }
    }
    groups.push({ title, files });
  }
  return { groups, warnings };
}

/**
 * The Levenshtein edit distance between two strings, giving up early above `max`.
 *
 * @returns The distance, or `max + 1` when it is larger than `max`.
 */
function _distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length];
}

/** Most suggestions returned by {@linkcode suggestTitles}. */
export const MAX_SUGGESTIONS = 3;

/**
 * Close matches for a title that was not found, best first: case-insensitive exact, prefix,
 * substring, then Levenshtein distance of at most 2.
 *
 * @example
 * ```ts
 * suggestTitles("dgo", ["dog", "cat"]); // ["dog"]
 * ```
 * @param query What the user typed.
 * @param titles The known titles.
 * @returns Up to {@linkcode MAX_SUGGESTIONS} titles.
 */
export function suggestTitles(query: string, titles: readonly string[]): string[] {
  const q = query.toLowerCase();
  if (q.length === 0) return [];
  const scored: { title: string; score: number }[] = [];
  for (const title of titles) {
    const t = title.toLowerCase();
    let score: number;
    if (t === q) score = 0;
    else if (t.startsWith(q)) score = 1;
    else if (t.includes(q)) score = 2;
    else {
      const d = _distance(q, t, 2);
      if (d > 2) continue;
      score = 2 + d;
    }
    scored.push({ title, score });
  }
  scored.sort((a, b) => a.score - b.score || (a.title < b.title ? -1 : a.title > b.title ? 1 : 0));
  return scored.slice(0, MAX_SUGGESTIONS).map((s) => s.title);
}

/** A PLAY argument reduced to a title and an optional height. */
export interface PlayTarget {
  /** The title to play. */
  title: string;
  /** The height asked for with `_720p`, or `null` for automatic (ABR). */
  height: number | null;
}

/**
 * Reduce a PLAY argument to a title: `dog`, `dog.mp4`, `dog_720p` and `dog_720p.mp4` all name the
 * title `dog` (the last two also ask for 720p).
 *
 * @param arg The argument as typed, surrounding spaces allowed.
 * @returns The target, or `null` when the title is not safe (see {@linkcode isSafeTitle}).
 */
export function normalizePlayArgument(arg: string): PlayTarget | null {
  let stem = arg.trim();
  const dot = stem.lastIndexOf(".");
  if (dot > 0 && VIDEO_EXTENSIONS.includes(stem.slice(dot + 1).toLowerCase())) {
    stem = stem.slice(0, dot);
  }
  const match = SUFFIX.exec(stem);
  const title = match ? match[1] : stem;
  const height = match ? Number(match[2]) : null;
  if (!isSafeTitle(title)) return null;
  return { title, height };
}
