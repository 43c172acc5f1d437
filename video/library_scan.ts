/**
 * The video library on disk: scanning a folder of `NAME.ext` / `NAME_720p.ext` files, and the
 * embedded default library generated once with ffmpeg.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { groupRenditions, resolutionLabel } from "./catalog.ts";
import { probe, runTool } from "./ffmpeg.ts";
import { sampleArgs } from "./ffmpeg_args.ts";
import type { ProbeInfo } from "./ffmpeg_parse.ts";

/** One source file of a title. */
export interface SourceRendition {
  /** Its resolution label: the shorter side ({@linkcode resolutionLabel}); its height unless portrait. */
  height: number;
  /** Probed width in pixels. */
  width: number;
  /** Path of the source file. */
  path: string;
  /** Everything ffprobe said about it. */
  probe: ProbeInfo;
}

/** A title found in the library. */
export interface Title {
  /** The title, e.g. `dog` for `dog_240p.mp4`. */
  name: string;
  /** Duration in seconds (the shortest of its renditions). */
  duration: number;
  /** Whether every rendition has an audio stream. */
  hasAudio: boolean;
  /** Its source files in ascending height. */
  renditions: SourceRendition[];
}

/** Options for {@linkcode scanLibrary}. */
export interface ScanOptions {
  /** Called with a message for each file that is skipped. */
  onWarning?: (message: string) => void;
  /** Cancels the scan. */
  signal?: AbortSignal;
}

function _join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Scan a folder (not recursively) for titles and probe each file with ffprobe.
 *
 * Files that are not videos, cannot be read or cannot be probed are skipped with a warning.
 *
 * @param dir The folder.
 * @param options A warning callback and a signal.
 * @returns The titles in name order.
 * @throws {PeerstreamError} `VIDEO_NOT_FOUND` when the folder cannot be read, `VIDEO_FAILED` when
 * ffprobe is missing.
 */
export async function scanLibrary(dir: string, options: ScanOptions = {}): Promise<Title[]> {
  const warn = options.onWarning ?? (() => {});
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
  } catch (error) {
    throw new PeerstreamError(
      "VIDEO_NOT_FOUND",
      `Cannot read video folder "${dir}": ${(error as Error).message}; check the --videos path`,
      { cause: error },
    );
  }
  const { groups, warnings } = groupRenditions(names);
  warnings.forEach((w) => warn(w));
  const titles: Title[] = [];
  for (const group of groups) {
    const renditions: SourceRendition[] = [];
    for (const file of group.files) {
      const path = _join(dir, file.fileName);
      let info: ProbeInfo;
      try {
        info = await probe(path, { signal: options.signal });
      } catch (error) {
        options.signal?.throwIfAborted();
        if (error instanceof PeerstreamError && /^Cannot run /.test(error.message)) throw error;
        warn(`Skipping "${file.fileName}": ${(error as Error).message}`);
        continue;
      }
      const label = resolutionLabel(info.width, info.height);
      if (file.height !== null && file.height !== label) {
        warn(`File "${file.fileName}" is ${label}p, not ${file.height}p; using ${label}p`);
      }
      if (renditions.some((r) => r.height === label)) {
        warn(`Skipping "${file.fileName}": title "${group.title}" already has a ${label}p file`);
        continue;
      }
      renditions.push({ height: label, width: info.width, path, probe: info });
    }
    if (renditions.length === 0) continue;
    renditions.sort((a, b) => a.height - b.height);
    titles.push({
      name: group.title,
      duration: Math.min(...renditions.map((r) => r.probe.duration)),
      hasAudio: renditions.every((r) => r.probe.audioCodec !== null),
      renditions,
    });
  }
  return titles;
}

/** A title of the embedded default library. */
export interface SampleSpec {
  /** Title name. */
  name: string;
  /** lavfi pattern. */
  pattern: "testsrc2" | "smptebars" | "testsrc" | "mandelbrot";
  /** Length in seconds. */
  seconds: number;
  /** One `NAME_<h>p.mp4` file per height; a single height with `single` writes `NAME.mp4`. */
  heights: number[];
  /** Write one unsuffixed file (the segmenter derives the lower renditions). */
  single?: boolean;
  /** Tone frequency in Hz, or `null` for silence. */
  toneHz: number | null;
}

/** The titles of the embedded default library. */
export const SAMPLE_TITLES: readonly SampleSpec[] = [
  { name: "testcard", pattern: "testsrc2", seconds: 12, heights: [240, 480, 720], toneHz: 440 },
  { name: "bars", pattern: "smptebars", seconds: 8, heights: [240, 480], toneHz: 1000 },
  { name: "pattern", pattern: "testsrc", seconds: 6, heights: [480], single: true, toneHz: null },
];

/** Options for {@linkcode ensureSampleLibrary}. */
export interface SampleLibraryOptions {
  /** Called with a line of text as each title is generated. */
  onProgress?: (message: string) => void;
  /** Cancels generation; the finished files stay. */
  signal?: AbortSignal;
  /** Which titles to generate. @default {SAMPLE_TITLES} */
  titles?: readonly SampleSpec[];
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Make sure the embedded default library exists in `${cacheDir}/samples/`, generating the missing
 * titles with ffmpeg. Files are written under hidden temporary names and renamed when complete, so
 * an interrupted run never leaves a half file behind.
 *
 * @param cacheDir The cache folder (created if needed).
 * @param options A progress callback and a signal.
 * @returns The samples folder, ready for {@linkcode scanLibrary}.
 * @throws {PeerstreamError} `VIDEO_FAILED` when ffmpeg is missing or fails.
 */
export async function ensureSampleLibrary(
  cacheDir: string,
  options: SampleLibraryOptions = {},
): Promise<string> {
  const dir = _join(cacheDir, "samples");
  await Deno.mkdir(dir, { recursive: true });
  for (const spec of options.titles ?? SAMPLE_TITLES) {
    const finals = spec.single
      ? [_join(dir, `${spec.name}.mp4`)]
      : spec.heights.map((h) => _join(dir, `${spec.name}_${h}p.mp4`));
    const present = await Promise.all(finals.map(_exists));
    if (present.every(Boolean)) continue;
    options.onProgress?.(`Generating sample "${spec.name}"`);
    const tag = crypto.randomUUID().slice(0, 8);
    const temps = finals.map((_, i) => _join(dir, `.tmp-${tag}-${spec.name}-${i}.mp4`));
    try {
      const result = await runTool(
        "ffmpeg",
        sampleArgs({
          pattern: spec.pattern,
          seconds: spec.seconds,
          heights: spec.single ? [spec.heights[0]] : spec.heights,
          outputs: temps,
          toneHz: spec.toneHz,
        }),
        { signal: options.signal },
      );
      if (result.code !== 0) {
        throw new PeerstreamError(
          "VIDEO_FAILED",
          `Cannot generate sample "${spec.name}": ffmpeg exited with code ${result.code}: ${
            result.stderr.trim().split("\n").pop() ?? ""
          }; see the server log`,
        );
      }
      for (let i = 0; i < finals.length; i++) await Deno.rename(temps[i], finals[i]);
    } finally {
      for (const t of temps) await Deno.remove(t).catch(() => {});
    }
  }
  return dir;
}
