/**
 * A prepared title as it is read back: its renditions and segments, described by the
 * `manifest.json` that preparation (`video/segmenter.ts`) writes last in its folder, so that a
 * folder without one is never used.
 * @module
 */

/** Codecs a title can be prepared in. */
export type VideoCodec = "h264" | "mjpeg";

/** How a title was prepared: sources remuxed without re-encoding, or encoded. */
export type PrepareMethod = "remux" | "encode";

/** One prepared segment of a rendition. */
export interface PreparedSegment {
  /** Position in the rendition, from 0. */
  index: number;
  /** Start time in seconds from the start of the title. */
  start: number;
  /** Duration in seconds. */
  duration: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Absolute path of the segment file. */
  path: string;
}

/** One prepared rendition. */
export interface PreparedRendition {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Measured bit rate over its segments, in bits/s. */
  bitrate: number;
  /** Its segments, with the same count and boundaries as every other rendition of the title. */
  segments: PreparedSegment[];
}

/** A title prepared for streaming. */
export interface PreparedTitle {
  /** The title. */
  name: string;
  /** The video codec of the segments. */
  codec: VideoCodec;
  /** `mpegts` for H.264 + AAC; `mjpeg` for raw JPEG streams (no timestamps: tell players `fps`). */
  container: "mpegts" | "mjpeg";
  /** Sum of segment durations in seconds. */
  duration: number;
  /** Whether the segments carry audio. */
  hasAudio: boolean;
  /** Frames per second. */
  fps: number;
  /** Renditions in ascending height. */
  renditions: PreparedRendition[];
  /** How it was prepared (`encode` for folders prepared before remuxing existed). */
  method?: PrepareMethod;
  /** Whether it was found prepared in the cache rather than prepared now. */
  cached?: boolean;
  /** Its prepared folder (where `video/poster.ts` keeps its poster). */
  dir?: string;
}

/** What `manifest.json` holds: the title's description, its segments' files relative to it. */
export interface Manifest
  extends Pick<PreparedTitle, "name" | "codec" | "container" | "duration" | "hasAudio" | "fps"> {
  /** The manifest's format. */
  version: 1;
  /** How it was prepared (absent in folders prepared before remuxing existed). */
  method?: PrepareMethod;
  /** Its renditions, each segment's file relative to the prepared folder. */
  renditions: (Omit<PreparedRendition, "segments"> & {
    segments: (Omit<PreparedSegment, "path"> & { file: string })[];
  })[];
}

/** Name of the manifest file of a prepared folder. */
export const MANIFEST_NAME = "manifest.json";

/**
 * The prepared title a manifest describes, its segments' paths under `dir`.
 *
 * @param dir The prepared folder.
 * @param m Its manifest.
 * @returns The prepared title.
 */
export function fromManifest(dir: string, m: Manifest): PreparedTitle {
  return {
    name: m.name,
    dir,
    codec: m.codec,
    container: m.container,
    duration: m.duration,
    hasAudio: m.hasAudio,
    fps: m.fps,
    method: m.method ?? "encode",
    renditions: m.renditions.map((r) => ({
      height: r.height,
      width: r.width,
      bitrate: r.bitrate,
      segments: r.segments.map((s) => ({
        index: s.index,
        start: s.start,
        duration: s.duration,
        bytes: s.bytes,
        path: `${dir}/${s.file}`,
      })),
    })),
  };
}

/**
 * Reads a prepared folder's manifest.
 *
 * @param dir The prepared folder.
 * @returns The manifest, or `null` when the folder or its manifest is missing or not one.
 */
export async function readManifest(dir: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${MANIFEST_NAME}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.version !== 1 || !Array.isArray(m.renditions) || m.renditions.length === 0) return null;
    return m;
  } catch {
    return null;
  }
}
