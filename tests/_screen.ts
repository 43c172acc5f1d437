/**
 * What a player shows, read off a virtual screen (Xvfb): a test video whose every frame carries its
 * number as 12 black/white blocks (FIELD_NOTES, "Checked 2026-12-07"), windows found with
 * `xwininfo`, frames grabbed with `ffmpeg -f x11grab` and read back as numbers.
 * @module
 */

import { TEST_CACHE } from "./_helpers.ts";

/** Frames per second of the test video. */
export const FRAMES_FPS = 25;

/** Seconds of the test video. */
export const FRAMES_SECONDS = 90;

/** A window on the virtual screen. */
export interface ScreenWindow {
  /** Its X id. */
  id: string;
  /** Size and absolute position. */
  width: number;
  height: number;
  x: number;
  y: number;
}

/** A virtual display. */
export interface Xvfb {
  /** `:N`. */
  display: string;
  /** Stops it. */
  stop(): Promise<void>;
}

/**
 * Starts Xvfb on a free display; resolves once it accepts clients.
 *
 * @returns The display.
 */
export async function startXvfb(): Promise<Xvfb> {
  const child = new Deno.Command("Xvfb", {
    args: ["-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Xvfb exited before it was ready");
    text += value;
  }
  clearTimeout(timer);
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    display: `:${text.trim()}`,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * A folder with the test video, made once and cached: `frames.mp4`, 640x360 at 25 fps for 90 s,
 * with a tone, every frame's number drawn as 12 blocks across the top eighth (most significant
 * bit left), and `frames again.mp4`, the same picture under a second title.
 *
 * @returns The folder, for `serve --videos`.
 */
export async function framesLibrary(): Promise<string> {
  const dir = `${TEST_CACHE}/frames-v2`;
  const path = `${dir}/frames.mp4`;
  try {
    await Deno.stat(`${dir}/frames again.mp4`);
    return dir;
  } catch {
    // Make it.
  }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/.tmp-${crypto.randomUUID().slice(0, 8)}.mp4`;
  const blocks = "geq=lum='if(lt(Y\\,H/8)\\,255*mod(floor(N/pow(2\\,11-floor(X*12/W)))\\,2)" +
    "\\,lum(X\\,Y))'";
  const out = await new Deno.Command("ffmpeg", {
    args: [
      ...["-v", "error", "-y", "-f", "lavfi", "-i"],
      `testsrc2=size=640x360:rate=${FRAMES_FPS}:duration=${FRAMES_SECONDS},format=gray,${blocks}`,
      ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${FRAMES_SECONDS}`],
      ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"],
      ...["-c:a", "aac", "-b:a", "64k", "-shortest", "-f", "mp4", tmp],
    ],
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`Cannot make the frames video: ${new TextDecoder().decode(out.stderr)}`);
  }
  await Deno.copyFile(tmp, `${dir}/.tmp-again.mp4`);
  await Deno.rename(tmp, path);
  await Deno.rename(`${dir}/.tmp-again.mp4`, `${dir}/frames again.mp4`);
  return dir;
}

/**
 * Viewable windows whose title starts with `peerstream: `.
 *
 * @param display The display.
 * @returns The windows.
 */
export async function playerWindows(display: string): Promise<ScreenWindow[]> {
  const { stdout } = await new Deno.Command("xwininfo", {
    args: ["-root", "-tree"],
    env: { DISPLAY: display },
    stdout: "piped",
    stderr: "null",
  }).output();
  const found: ScreenWindow[] = [];
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const m = /(0x[0-9a-f]+) "peerstream: [^"]*".*?\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)/.exec(line);
    if (m === null || +m[2] < 100) continue;
    const info = await new Deno.Command("xwininfo", {
      args: ["-id", m[1]],
      env: { DISPLAY: display },
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(info.stdout);
    if (!/Map State: IsViewable/.test(text)) continue;
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(-?\\d+)`).exec(text)?.[1]);
    found.push({
      id: m[1],
      width: field("Width"),
      height: field("Height"),
      x: field("Absolute upper-left X"),
      y: field("Absolute upper-left Y"),
    });
  }
  return found;
}

/** A frame read off the screen. */
export interface ReadFrame {
  /** Its number, or -1 when the blocks are not clean (no picture, or a half-drawn one). */
  n: number;
  /** Every block sample is clearly black or white. */
  clean: boolean;
  /** Mean brightness of the blocks row (0 for a black, empty window). */
  level: number;
}

/**
 * Reads the number of one grabbed gray row across the blocks (the window's row at a sixteenth of
 * its height, the middle of the blocks).
 *
 * @param gray The row, one byte per pixel, `w.width` long at least.
 * @param w The window.
 * @returns The frame.
 */
export function decodeFrame(gray: Uint8Array, w: ScreenWindow): ReadFrame {
  const row = 0;
  let n = 0;
  let clean = true;
  let sum = 0;
  for (let b = 0; b < 12; b++) {
    const v = gray[row * w.width + Math.floor(((b + 0.5) * w.width) / 12)];
    sum += v;
    if (v > 60 && v < 195) clean = false;
    n = n * 2 + (v >= 128 ? 1 : 0);
  }
  return { n: clean ? n : -1, clean, level: sum / 12 };
}

/** A recording of a window under way. */
export interface Recording {
  /**
   * Resolves once the first grab is in, so that what happens from then on is recorded (ffmpeg
   * took 0.5-0.9 s from its start to its first grab on the loaded 2-core machine: a test that
   * sleeps a fixed time after starting it may act before anything is grabbed).
   */
  started: Promise<void>;
  /** The frames read, in order, once it ends. */
  frames: Promise<ReadFrame[]>;
}

/** How long past its length a grab may run before it counts as hung, seconds. */
const GRAB_STALL_S = 20;

/**
 * Grabs the blocks' row of the window for `seconds` at 50 fps (twice the video's rate, so that
 * every frame shown is seen; a strip 2 pixels high, so that a grab is cheap and comes on time on a
 * loaded machine) and reads each grab as it comes.
 *
 * @param display The display.
 * @param w The window.
 * @param seconds How long, from ffmpeg's start.
 * @returns The recording.
 */
export function startRecording(display: string, w: ScreenWindow, seconds: number): Recording {
  const child = new Deno.Command("ffmpeg", {
    args: [
      ...["-v", "error", "-f", "x11grab", "-framerate", "50"],
      ...["-video_size", `${w.width}x2`],
      ...["-i", `${display}+${w.x},${w.y + Math.floor(w.height / 16)}`],
      ...["-t", String(seconds), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A grab that hangs (an X server starved or gone) is killed: its read fails instead of waiting.
  let killed = false;
  const hung = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Ended meanwhile.
    }
  }, (seconds + GRAB_STALL_S) * 1000);
  child.status.finally(() => clearTimeout(hung));
  let first!: () => void;
  const started = new Promise<void>((resolve) => first = resolve);
  const stderr = new Response(child.stderr).text();
  const frames = (async () => {
    const size = w.width * 2;
    const read: ReadFrame[] = [];
    let rest = new Uint8Array(0);
    for await (const chunk of child.stdout) {
      const bytes = new Uint8Array(rest.length + chunk.length);
      bytes.set(rest);
      bytes.set(chunk, rest.length);
      let at = 0;
      for (; at + size <= bytes.length; at += size) {
        read.push(decodeFrame(bytes.subarray(at, at + size), w));
        first();
      }
      rest = bytes.slice(at);
    }
    const { code } = await child.status;
    if (killed) throw new Error(`x11grab hung for ${seconds + GRAB_STALL_S} s: killed`);
    if (code !== 0) throw new Error(`x11grab failed: ${await stderr}`);
    await stderr;
    return read;
  })();
  // A grab that never starts fails `started` too, with ffmpeg's words.
  const checked = Promise.race([
    started,
    frames.then(() => {
      throw new Error("x11grab ended before its first grab");
    }),
  ]);
  checked.catch(() => {});
  return { started: checked, frames };
}

/**
 * Grabs the blocks' row of the window for `seconds` (see {@linkcode startRecording}).
 *
 * @param display The display.
 * @param w The window.
 * @param seconds How long.
 * @returns The frames read, in order.
 */
export function recordFrames(
  display: string,
  w: ScreenWindow,
  seconds: number,
): Promise<ReadFrame[]> {
  return startRecording(display, w, seconds).frames;
}

/**
 * Reads the frame on screen now.
 *
 * @param display The display.
 * @param w The window.
 * @returns The frame.
 */
export async function readFrame(display: string, w: ScreenWindow): Promise<ReadFrame> {
  const frames = await recordFrames(display, w, 0.02);
  if (frames.length === 0) throw new Error("x11grab gave no frame");
  return frames[frames.length - 1];
}

/**
 * The frame numbers shown, in order, each once: runs of the same number collapsed, grabs that
 * are not clean dropped.
 *
 * @param frames What {@linkcode recordFrames} read.
 * @returns The distinct numbers in the order shown.
 */
export function shownNumbers(frames: readonly ReadFrame[]): number[] {
  const shown: number[] = [];
  for (const f of frames) {
    if (f.n >= 0 && shown[shown.length - 1] !== f.n) shown.push(f.n);
  }
  return shown;
}

/** Watches that a window stays on screen; the longest time it was missing, ms. */
export interface WindowWatch {
  /** Stops watching; resolves with the longest gap (ms) and the polls. */
  stop(): Promise<{ longestGapMs: number; polls: number; missing: number }>;
}

/**
 * Polls the player windows every few ms and measures how long none was viewable.
 *
 * @param display The display.
 * @returns The watch.
 */
export function watchWindow(display: string): WindowWatch {
  let running = true;
  let longest = 0;
  let polls = 0;
  let missing = 0;
  let goneSince: number | undefined;
  const loop = (async () => {
    while (running) {
      const now = performance.now();
      const present = (await playerWindows(display)).length > 0;
      polls++;
      if (!present) {
        missing++;
        goneSince ??= now;
      } else if (goneSince !== undefined) {
        longest = Math.max(longest, performance.now() - goneSince);
        goneSince = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (goneSince !== undefined) longest = Math.max(longest, performance.now() - goneSince);
      return { longestGapMs: longest, polls, missing };
    },
  };
}
