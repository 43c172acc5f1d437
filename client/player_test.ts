import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../video/ts_packet.ts";
import {
  checkDisplay,
  checkPlayer,
  findExecutable,
  needsDisplay,
  PLAYER_KILL_GRACE_MS,
  playerArgs,
  PlayerProcess,
  splitCommand,
  ValidatingPlayer,
  ValidatingSink,
} from "./player.ts";
import { byteCuts, chunksAt, deadline, until } from "../tests/_util.ts";

// ---- splitCommand ----

Deno.test("splitCommand() splits on whitespace and honours quotes", () => {
  const table: readonly [string, string[]][] = [
    ["ffplay", ["ffplay"]],
    ["mpv -", ["mpv", "-"]],
    ["  mpv \t --vo=x11   -  ", ["mpv", "--vo=x11", "-"]],
    ['mpv "--title=my film" -', ["mpv", "--title=my film", "-"]],
    ["mpv '--title=my film' -", ["mpv", "--title=my film", "-"]],
    [`say "it's"`, ["say", "it's"]],
    [`say 'a "b"'`, ["say", 'a "b"']],
    ["'a b'c d", ["a bc", "d"]],
    ['pre"mid dle"post', ["premid dlepost"]],
    ['a "" b', ["a", "", "b"]],
    ["a ''", ["a", ""]],
    ['""', [""]],
    ["/opt/my player/bin/x -", ["/opt/my", "player/bin/x", "-"]],
    ['"/opt/my player/bin/x" -', ["/opt/my player/bin/x", "-"]],
  ];
  for (const [spec, expected] of table) deepEqual(splitCommand(spec), expected, spec);
});

Deno.test("splitCommand() throws SyntaxError for an empty command or an unclosed quote", () => {
  const table: readonly [string, string][] = [
    ["", "it is empty"],
    ["   ", "it is empty"],
    ["\t\n", "it is empty"],
    ['mpv "unclosed', 'unclosed "'],
    ["mpv 'unclosed", "unclosed '"],
    [`mpv "it's`, 'unclosed "'],
    ["'", "unclosed '"],
  ];
  for (const [spec, fragment] of table) {
    throws(() => splitCommand(spec), (error: unknown) => {
      ok(error instanceof SyntaxError, `${JSON.stringify(spec)}: ${error}`);
      ok(error.message.includes("Invalid player command"), error.message);
      ok(error.message.includes(fragment), `${JSON.stringify(spec)}: ${error.message}`);
      return true;
    });
  }
});

// ---- playerArgs ----

function streamInfo(overrides: Partial<StreamStartMessage> = {}): StreamStartMessage {
  return {
    type: "stream-start",
    re: 1,
    streamId: 1,
    title: "dog",
    duration: 10,
    codec: "h264",
    container: "mpegts",
    fps: 30,
    hasAudio: true,
    renditions: [
      { height: 240, width: 426, bitrate: 400_000 },
      { height: 480, width: 854, bitrate: 1_200_000 },
      { height: 720, width: 1280, bitrate: 2_500_000 },
    ],
    quality: "auto",
    position: 0,
    epoch: 0,
    ...overrides,
  };
}

/** The value after `flag` in `args`. */
function after(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

Deno.test("playerArgs() for ffplay cuts probing and sizes the window for the top rendition", () => {
  const args = playerArgs("ffplay", streamInfo());
  ok(args !== null);
  equal(args[0], "ffplay");
  equal(after(args, "-probesize"), "32");
  equal(after(args, "-analyzeduration"), "0");
  equal(after(args, "-f"), "mpegts");
  equal(after(args, "-x"), "1280");
  equal(after(args, "-y"), "720");
  equal(after(args, "-window_title"), "peerstream: dog");
  ok(args.includes("-autoexit"));
  // Video is the master clock, so RESUME continues from the frozen frame (issue 18).
  equal(after(args, "-sync"), "video");
  // Its clock on stderr: the frame on screen, for watching together (issue 21).
  ok(args.includes("-stats"));
  ok(!args.includes("-framerate"));
  // The input comes last, after every input option.
  deepEqual(args.slice(-2), ["-i", "pipe:0"]);
  ok(args.indexOf("-f") < args.indexOf("-i"));
});

Deno.test("playerArgs() for ffplay with mjpeg gives -f mjpeg and -framerate", () => {
  const table: readonly [number, string][] = [[30, "30"], [12.5, "12.5"], [0, "25"]];
  for (const [fps, expected] of table) {
    const args = playerArgs("ffplay", streamInfo({ container: "mjpeg", codec: "mjpeg", fps }));
    ok(args !== null);
    equal(after(args, "-f"), "mjpeg", String(fps));
    equal(after(args, "-framerate"), expected, String(fps));
    ok(args.indexOf("-framerate") < args.indexOf("-i"));
  }
});

Deno.test("playerArgs() for ffplay by path keeps the path and omits -x/-y without renditions", () => {
  const args = playerArgs("/usr/local/bin/ffplay", streamInfo({ renditions: [] }));
  ok(args !== null);
  equal(args[0], "/usr/local/bin/ffplay");
  equal(args.includes("-x"), false);
  equal(args.includes("-y"), false);
  equal(after(args, "-probesize"), "32");
});

Deno.test("playerArgs() returns null for none and other players' words as given", () => {
  equal(playerArgs("none", streamInfo()), null);
  deepEqual(playerArgs("mpv -", streamInfo()), ["mpv", "-"]);
  deepEqual(playerArgs("mpv --really-quiet -", streamInfo()), ["mpv", "--really-quiet", "-"]);
  deepEqual(playerArgs("'my ffplay' -", streamInfo()), ["my ffplay", "-"]);
  deepEqual(playerArgs("notffplay", streamInfo()), ["notffplay"]);
  throws(() => playerArgs("", streamInfo()), SyntaxError);
});

// ---- findExecutable / checkPlayer ----

Deno.test("findExecutable() finds sh on PATH and by path, and not what is missing", () => {
  const sh = findExecutable("sh");
  ok(sh !== null && sh.endsWith("/sh"), String(sh));
  equal(findExecutable(sh), sh);
  equal(findExecutable("/nonexistent"), null);
  equal(findExecutable("/nonexistent/sh"), null);
  equal(findExecutable("peerstream-no-such-program"), null);
  // A folder is not a program.
  equal(findExecutable(Deno.cwd()), null);
});

Deno.test("findExecutable() skips a file that is not executable", () => {
  const dir = Deno.makeTempDirSync({ prefix: "peerstream_exec_" });
  try {
    const path = `${dir}/player`;
    Deno.writeTextFileSync(path, "#!/bin/sh\n", { mode: 0o644 });
    Deno.chmodSync(path, 0o644);
    equal(findExecutable(path), null);
    Deno.chmodSync(path, 0o755);
    equal(findExecutable(path), path);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkPlayer() throws PeerstreamError with not found for a missing program", () => {
  for (const spec of ["/nonexistent/ffplay", "peerstream-no-such-player -", "'/no such/x' -"]) {
    throws(() => checkPlayer(spec), (error: unknown) => {
      ok(error instanceof PeerstreamError, `${spec}: ${error}`);
      equal(error.code, "INTERNAL");
      ok(error.message.includes("not found"), error.message);
      ok(error.message.includes("--player"), error.message);
      ok(error.message.includes(`"${splitCommand(spec)[0]}"`), error.message);
      return true;
    });
  }
});

Deno.test("checkPlayer() accepts none and a program on PATH", () => {
  checkPlayer("none");
  checkPlayer("sh");
  checkPlayer("sh -c 'cat > /dev/null'");
});

// ---- ValidatingSink ----

/** `count` MPEG-TS packets: sync byte, then bytes that never equal it. */
function tsPackets(count: number): Uint8Array {
  const out = new Uint8Array(count * TS_PACKET_SIZE);
  for (let p = 0; p < count; p++) {
    out[p * TS_PACKET_SIZE] = TS_SYNC_BYTE;
    for (let i = 1; i < TS_PACKET_SIZE; i++) out[p * TS_PACKET_SIZE + i] = (p + i) % 0x40;
  }
  return out;
}

/** Writes `bytes` cut at the given offsets. */
function feed(sink: ValidatingSink, bytes: Uint8Array, cuts: readonly number[]): void {
  for (const chunk of chunksAt(bytes, cuts)) sink.write(chunk);
}

const TS_CUTS: readonly [string, number[]][] = [
  ["one chunk", []],
  ["at packet boundaries", [188, 376, 564]],
  ["at odd offsets", [1, 187, 189, 375, 377, 500, 751]],
  ["an empty chunk", [0, 0, 188, 188]],
  ["byte by byte", byteCuts(5 * TS_PACKET_SIZE)],
];

Deno.test("ValidatingSink counts TS packets across any chunk boundaries", () => {
  const bytes = tsPackets(5);
  for (const [label, cuts] of TS_CUTS) {
    const sink = new ValidatingSink("mpegts");
    feed(sink, bytes, cuts);
    equal(sink.units, 5, label);
    equal(sink.errors, 0, label);
    equal(sink.bytes, bytes.length, label);
  }
});

Deno.test("ValidatingSink counts one sync error for one corrupt sync byte, wherever the cuts fall", () => {
  for (const corrupt of [0, 1, 4]) {
    const bytes = tsPackets(5);
    bytes[corrupt * TS_PACKET_SIZE] = 0x48;
    for (const [label, cuts] of TS_CUTS) {
      const sink = new ValidatingSink("mpegts");
      feed(sink, bytes, cuts);
      equal(sink.errors, 1, `packet ${corrupt}, ${label}`);
      equal(sink.units, 5, `packet ${corrupt}, ${label}`);
    }
  }
});

Deno.test("ValidatingSink counts a partial last packet once its sync byte arrives", () => {
  const table: readonly [number, number][] = [[0, 0], [1, 1], [188, 1], [189, 2], [376, 2]];
  for (const [length, units] of table) {
    const sink = new ValidatingSink("mpegts");
    sink.write(tsPackets(3).subarray(0, length));
    equal(sink.units, units, String(length));
    equal(sink.errors, 0, String(length));
  }
});

/** `count` tiny JPEG-like images: SOI, a body free of markers, EOI. */
function jpegs(count: number): Uint8Array {
  const one = [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0xff, 0x00, 0xd8, 0xff, 0xd9];
  return new Uint8Array(Array.from({ length: count }, () => one).flat());
}

Deno.test("ValidatingSink counts JPEG SOI markers for mjpeg, even split across chunks", () => {
  const bytes = jpegs(4);
  const size = bytes.length / 4;
  const table: readonly [string, number[]][] = [
    ["one chunk", []],
    ["between FF and D8", [size + 1, 2 * size + 1]],
    ["an empty chunk between FF and D8", [size + 1, size + 1]],
    ["byte by byte", byteCuts(bytes.length)],
  ];
  for (const [label, cuts] of table) {
    const sink = new ValidatingSink("mjpeg");
    feed(sink, bytes, cuts);
    equal(sink.units, 4, label);
    equal(sink.errors, 0, label);
    equal(sink.bytes, bytes.length, label);
  }
});

Deno.test("ValidatingSink.close() records how the stream ended", () => {
  const sink = new ValidatingSink("mpegts");
  equal(sink.ended, undefined);
  sink.close("stopped");
  equal(sink.ended, "stopped");
});

// ---- ValidatingPlayer ----

Deno.test("ValidatingPlayer counts what it takes and exits at once on end() or kill()", async () => {
  const player = new ValidatingPlayer("mpegts");
  equal(await player.write(tsPackets(3)), true);
  player.pause();
  player.resume();
  deepEqual(player.stats, { container: "mpegts", bytes: 564, units: 3, errors: 0 });
  await player.end();
  equal(await deadline(player.exited), 0);
  const killed = new ValidatingPlayer("mjpeg");
  await killed.kill();
  equal(await deadline(killed.exited), 0);
});

// ---- PlayerProcess (real subprocesses) ----

/** Whether a process is stopped (state T in `ps`). */
async function stopped(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] })
    .output();
  return new TextDecoder().decode(stdout).trim().startsWith("T");
}

Deno.test("PlayerProcess writes to the player and end() lets it exit with 0", async () => {
  const player = new PlayerProcess(["sh", "-c", "cat > /dev/null"]);
  for (let i = 0; i < 20; i++) equal(await player.write(tsPackets(50)), true);
  await player.end();
  equal(await deadline(player.exited), 0);
  // After the end, writes are refused and a kill is harmless.
  equal(await player.write(new Uint8Array(10)), false);
  await player.kill();
});

Deno.test("PlayerProcess.kill() ends a running player at once, even a stopped (paused) one", async () => {
  const player = new PlayerProcess(["sh", "-c", "exec sleep 30"]);
  player.pause();
  ok(await stopped(player.pid), "SIGSTOP took effect");
  player.resume();
  equal(await stopped(player.pid), false);
  player.pause();
  const started = performance.now();
  await deadline(player.kill());
  ok(performance.now() - started < PLAYER_KILL_GRACE_MS, "SIGTERM (with SIGCONT) was enough");
  ok((await player.exited) !== 0);
});

Deno.test("PlayerProcess pauses a player behind a wrapper that leads its process group", async () => {
  const seconds = `30.${Math.floor(Math.random() * 1e6)}`;
  const player = new PlayerProcess(["timeout", "-s", "KILL", "60", "sleep", seconds]);
  try {
    let child = 0;
    for (let i = 0; i < 100 && child === 0; i++) {
      const { stdout } = await new Deno.Command("pgrep", { args: ["-f", `^sleep ${seconds}$`] })
        .output();
      child = Number(new TextDecoder().decode(stdout).trim() || 0);
      if (child === 0) await new Promise((r) => setTimeout(r, 20));
    }
    ok(child > 0, "the wrapped player runs");
    player.pause();
    ok(await stopped(child), "the wrapped player is stopped too");
    player.resume();
    equal(await stopped(child), false);
  } finally {
    await deadline(player.kill());
  }
});

Deno.test("PlayerProcess.write() returns false for a player that exited or closed its input", async () => {
  const exited = new PlayerProcess(["sh", "-c", "exit 3"]);
  equal(await deadline(exited.exited), 3);
  equal(await exited.write(new Uint8Array(10)), false);
  const closed = new PlayerProcess(["sh", "-c", "exec 0<&-; exec sleep 30"]);
  // Large enough to fail with a broken pipe rather than sit in a buffer.
  const results = [];
  for (let i = 0; i < 4; i++) {
    results.push(await deadline(closed.write(new Uint8Array(256 * 1024))));
  }
  equal(results[results.length - 1], false);
  await deadline(closed.kill());
});

Deno.test("PlayerProcess.failure() says the exit code and the last error line of a player that failed on its own, nothing when it ended well or was ended", async () => {
  const failed = new PlayerProcess([
    "sh",
    "-c",
    "printf 'first\\n' >&2; printf 'Failed to open display\\r\\n' >&2; exit 3",
  ]);
  equal(failed.failure(), undefined, "nothing to say while it runs");
  equal(await failed.exited, 3);
  equal(failed.failure(), "sh exited with code 3: Failed to open display");
  const silent = new PlayerProcess(["sh", "-c", "exit 4"]);
  await silent.exited;
  equal(silent.failure(), "sh exited with code 4");
  const well = new PlayerProcess(["sh", "-c", "echo noise >&2; exit 0"]);
  await well.exited;
  equal(well.failure(), undefined);
  const ended = new PlayerProcess(["sh", "-c", "echo waiting >&2; exec sleep 30"]);
  await ended.kill();
  equal(ended.failure(), undefined, "ended by the viewer, not a failure");
});

Deno.test("PlayerProcess throws PeerstreamError when the player cannot start", () => {
  throws(() => new PlayerProcess(["/nonexistent/player", "-"]), (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, "INTERNAL");
    ok(error.message.includes('Cannot start player "/nonexistent/player"'), error.message);
    ok(error.message.includes("--player"), error.message);
    ok(error.cause instanceof Error);
    return true;
  });
});

Deno.test("playerArgs() finds ffplay behind a wrapper and keeps the wrapper's words first", () => {
  const args = playerArgs("timeout -s KILL 60 ffplay -fs", streamInfo())!;
  deepEqual(args.slice(0, 6), ["timeout", "-s", "KILL", "60", "ffplay", "-fs"]);
  equal(after(args, "-x"), "1280");
  deepEqual(args.slice(-2), ["-i", "pipe:0"]);
});

Deno.test("needsDisplay() and checkDisplay(): window players need DISPLAY or WAYLAND_DISPLAY", () => {
  const table: readonly [string, boolean][] = [
    ["ffplay", true],
    ["/usr/bin/ffplay -fs", true],
    ["timeout 60 ffplay", true],
    ["ffplay -nodisp", false],
    ["mpv -", true],
    ["mpv --vo=x11 -", true],
    ["mpv --vo=tct -", false],
    ["mpv --vo=null --ao=null -", false],
    ["vlc -", true],
    ["none", false],
    ["ffmpeg -re -i pipe:0 -f null -", false],
    ["cat", false],
  ];
  for (const [spec, expected] of table) equal(needsDisplay(spec), expected, spec);
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  checkDisplay("ffplay", env({ DISPLAY: ":99" }));
  checkDisplay("ffplay", env({ WAYLAND_DISPLAY: "wayland-0" }));
  checkDisplay("none", env({}));
  throws(() => checkDisplay("ffplay", env({ DISPLAY: "" })), (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    ok(error.message.startsWith('Cannot play with "ffplay": there is no display'), error.message);
    for (const alternative of ["--player none", "another player", "xvfb-run"]) {
      ok(error.message.includes(alternative), `${error.message} names ${alternative}`);
    }
    return true;
  });
});

Deno.test("playerArgs() keeps the user's ffplay options and still adds the fast-start input options", () => {
  const args = playerArgs("ffplay -fs", streamInfo())!;
  deepEqual(args.slice(0, 2), ["ffplay", "-fs"]);
  ok(args.includes("-probesize") && args.includes("-analyzeduration"));
  deepEqual(args.slice(-2), ["-i", "pipe:0"]);
});

/** One TS packet starting a video PES whose PTS is `seconds`. */
function videoPes(seconds: number): Uint8Array {
  const pts = Math.round(seconds * 90_000);
  const packet = new Uint8Array(188).fill(0xff);
  packet.set([0x47, 0x41, 0x00, 0x10]);
  packet.set([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5], 4);
  const hi = Math.floor(pts / 2 ** 30) & 0x7;
  const mid = Math.floor(pts / 2 ** 15) & 0x7fff;
  const lo = pts & 0x7fff;
  packet.set(
    [0x21 | (hi << 1), mid >> 7, ((mid & 0x7f) << 1) | 1, lo >> 7, ((lo & 0x7f) << 1) | 1],
    13,
  );
  return packet;
}

Deno.test("PlayerProcess.position() is ffplay's clock from its -stats line, from the input's first video timestamp; none for MJPEG", async () => {
  // A stand-in ffplay: its status line once it read its input's first packet, then waits.
  const script = "head -c 188 >/dev/null; printf '    nan    :  0.000 fd=0\\r' >&2; sleep 0.1; " +
    "printf '   13.90 M-V:  0.001 fd=   0 aq=    0KB vq=    0KB sq=    0B f=0/0   \\r' >&2; " +
    "printf 'an error line\\n' >&2; exec sleep 30";
  const player = new PlayerProcess(["sh", "-c", script, "-stats", "-f", "mpegts"]);
  try {
    equal(player.position?.(), undefined, "before its first frame");
    ok(await player.write(videoPes(11.4)));
    await until(() => player.position?.() !== undefined, { ms: 10_000, what: "the clock" });
    equal(+player.position!()!.toFixed(3), 2.5, "13.90 - 11.40 into its input");
  } finally {
    await player.kill();
  }
  const mjpeg = new PlayerProcess(["sh", "-c", "exec sleep 30", "-stats", "-f", "mjpeg"]);
  equal(mjpeg.position, undefined, "MJPEG has no timestamps: the wall clock estimate stays");
  await mjpeg.kill();
  const plain = new PlayerProcess(["sh", "-c", "exec sleep 30"]);
  equal(plain.position, undefined, "a player without -stats");
  await plain.kill();
});
