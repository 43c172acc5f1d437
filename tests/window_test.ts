/**
 * A real ffplay window on a virtual display (Xvfb): the client opens it at the size it gives it
 * (the top rendition's, so that switching never resizes it), it shows real frames (not black),
 * and it is gone after STOP. Inspected with `xwininfo` (x11-utils) and `ffmpeg -f x11grab`.
 * Fails, never skips, when Xvfb or the tools are missing: `./run test` installs them.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { startCli, startServer } from "./_helpers.ts";
import { pgrep, until } from "./_util.ts";
import { defaultPlayer } from "../client/cli.ts";
import { startXvfb } from "./_screen.ts";

interface Window {
  id: string;
  width: number;
  height: number;
  x: number;
  y: number;
}

/**
 * The windows whose title starts with `peerstream: `, as the X server shows them. ffplay creates
 * its window hidden at 640x480, then sets the title and the size and maps it: a window counts
 * once it is viewable, with the size read in the same query as the map state.
 */
async function peerstreamWindows(display: string): Promise<Window[]> {
  const windows: Window[] = [];
  for (const { id } of await titledWindows(display)) {
    const { stdout } = await new Deno.Command("xwininfo", {
      args: ["-id", id],
      env: { DISPLAY: display },
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(stdout);
    if (!/Map State: IsViewable/.test(text)) continue;
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(-?\\d+)`).exec(text)?.[1]);
    windows.push({
      id,
      width: field("Width"),
      height: field("Height"),
      x: field("Absolute upper-left X"),
      y: field("Absolute upper-left Y"),
    });
  }
  return windows;
}

/** Every window, mapped or not, whose title starts with `peerstream: `. */
async function titledWindows(display: string): Promise<Window[]> {
  const { stdout } = await new Deno.Command("xwininfo", {
    args: ["-root", "-tree"],
    env: { DISPLAY: display },
    stdout: "piped",
    stderr: "null",
  }).output();
  const windows: Window[] = [];
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const m = /(0x[0-9a-f]+) "peerstream: [^"]*".*?\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)/.exec(line);
    if (m) windows.push({ id: m[1], width: +m[2], height: +m[3], x: +m[4], y: +m[5] });
  }
  return windows;
}

/** Mean brightness (0-255) of a screen area, grabbed with ffmpeg's x11grab. */
async function brightness(display: string, w: Window): Promise<number> {
  const { stdout, code } = await new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-f",
      "x11grab",
      "-video_size",
      `${w.width}x${w.height}`,
      "-i",
      `${display}+${Math.max(0, w.x)},${Math.max(0, w.y)}`,
      "-frames:v",
      "1",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "gray",
      "-",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  equal(code, 0, "x11grab failed");
  return stdout.reduce((sum, v) => sum + v, 0) / Math.max(1, stdout.length);
}

Deno.test("a real ffplay window opens at the top rendition's size, shows frames, and closes on STOP", async () => {
  const xvfb = await startXvfb();
  const server = await startServer({ waitReady: true });
  // The default player, ffplay, under a KILL timeout as every test player; the timeout's odd
  // duration marks the wrapper, and the window title (given by the client) marks ffplay.
  const marker = `60.${Math.floor(Math.random() * 1e6)}`;
  const cli = await startCli(server.port, "windowed", {
    args: ["--ephemeral", "--player", `timeout -s KILL ${marker} ffplay`],
    env: { DISPLAY: xvfb.display, SDL_AUDIODRIVER: "dummy" },
  });
  try {
    await cli.type("PLAY testcard 240");
    await cli.out.waitFor(/^\* testcard: 240p/, { timeoutMs: 15_000 });
    let windows: Window[] = [];
    await until(async () => (windows = await peerstreamWindows(xvfb.display)).length === 1, {
      ms: 20_000,
      what: async () =>
        `one ffplay window; saw ${JSON.stringify(await titledWindows(xvfb.display))}`,
    });
    // 240p plays in a window sized for 720p: a switch up never resizes it.
    deepEqual([windows[0].width, windows[0].height], [1280, 720]);
    let level = 0;
    await until(async () => (level = await brightness(xvfb.display, windows[0])) > 20, {
      ms: 20_000,
      what: () => `the window shows frames (mean brightness ${level.toFixed(1)})`,
    });
    await cli.type("QUALITY 720p");
    await cli.out.waitFor(/^\* testcard: 720p/, { timeoutMs: 10_000 });
    // The old player is gone before the new one starts, and the new one needs a moment (more on
    // a busy machine) to probe its input and map its window: wait for it generously.
    await until(async () => (windows = await peerstreamWindows(xvfb.display)).length === 1, {
      ms: 20_000,
      what: async () =>
        `one ffplay window after QUALITY; saw ${JSON.stringify(windows)}, ffplay pids ${
          JSON.stringify(await pgrep(`^(\\S*/)?ffplay .*-window_title peerstream: testcard`))
        }, client said:\n${cli.out.lines.join("\n")}\n${cli.err.lines.join("\n")}`,
    });
    deepEqual([windows[0].width, windows[0].height], [1280, 720]);
    await cli.type("STOP");
    await cli.out.waitFor(/^\* stopped "testcard"$/);
    // The player has exited; the X server drops its window as it notices the closed connection.
    await until(async () => (await peerstreamWindows(xvfb.display)).length === 0, {
      ms: 10_000,
      what: "the window is gone after STOP",
    });
    deepEqual(await pgrep(`^timeout -s KILL ${marker} `), [], "the wrapper is gone");
    deepEqual(await pgrep(`^(\\S*/)?ffplay .*-window_title peerstream: testcard`), []);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    try {
      cli.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await cli.finish().catch(() => {});
    await Deno.remove(cli.home, { recursive: true }).catch(() => {});
    await server.stop();
    await xvfb.stop();
  }
});

Deno.test("with no display, the default player fails before the stream starts, naming the alternatives", async () => {
  const server = await startServer({ waitReady: true });
  const cli = await startCli(server.port, "blind", {
    args: ["--ephemeral"],
    env: { DISPLAY: "", WAYLAND_DISPLAY: "" },
  });
  try {
    await cli.type("PLAY testcard");
    const error = await cli.err.waitFor(/^error: /);
    // The default player: mpv where it is installed, else ffplay.
    const player = defaultPlayer();
    ok(error.startsWith(`error: Cannot play with "${player}": there is no display`), error);
    for (const alternative of ["--player none", "another player", "xvfb-run"]) {
      ok(error.includes(alternative), `names ${alternative}`);
    }
    await cli.type("LIST");
    await cli.out.waitFor(/^testcard\s/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    // The server logs in order: a stream started would be logged before the client's leave.
    await server.out.waitFor(/leave #\d+ "blind"/);
    ok(!server.out.lines.some((l) => /play #\d+ "blind"/.test(l)), "no stream started");
  } finally {
    await cli.finish().catch(() => {});
    await Deno.remove(cli.home, { recursive: true }).catch(() => {});
    await server.stop();
  }
});
