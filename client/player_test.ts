import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../video/ts_packet.ts";
import {
  checkPlayer,
  findExecutable,
  playerArgs,
  PlayerSink,
  splitCommand,
  ValidatingSink,
} from "./player.ts";
import { byteCuts, chunksAt, deadline } from "../tests/_util.ts";

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

// ---- PlayerSink (real subprocesses) ----

Deno.test("PlayerSink writes to the player and close(finished) lets it exit with 0", async () => {
  const exits: number[] = [];
  const sink = new PlayerSink(["sh", "-c", "cat > /dev/null"], { onExit: (c) => exits.push(c) });
  for (let i = 0; i < 20; i++) await sink.write(tsPackets(50));
  await sink.close("finished");
  equal(await deadline(sink.status), 0);
  deepEqual(exits, []);
  // Closing again is harmless.
  await sink.close("stopped");
});

Deno.test("PlayerSink.close(stopped) kills a running player and does not call onExit", async () => {
  const exits: number[] = [];
  // The player never reads nor exits on its own: only the kill ends it.
  const sink = new PlayerSink(["sh", "-c", "exec sleep 30"], { onExit: (c) => exits.push(c) });
  await deadline(sink.close("stopped"));
  const code = await sink.status;
  ok(code !== 0, `exit code ${code}`);
  deepEqual(exits, []);
});

Deno.test("PlayerSink.close(error) kills a player reading its input", async () => {
  const exits: number[] = [];
  const sink = new PlayerSink(["sh", "-c", "exec cat > /dev/null"], {
    onExit: (c) => exits.push(c),
  });
  await sink.write(new Uint8Array(1000));
  await deadline(sink.close("error"));
  await sink.status;
  deepEqual(exits, []);
});

Deno.test("PlayerSink calls onExit once when the player exits by itself", async () => {
  const exits: number[] = [];
  const sink = new PlayerSink(["sh", "-c", "exit 3"], { onExit: (c) => exits.push(c) });
  equal(await deadline(sink.status), 3);
  deepEqual(exits, [3]);
  // Writes after the exit are ignored, and closing releases the pipe without another callback.
  await sink.write(new Uint8Array(10));
  await sink.close("stopped");
  deepEqual(exits, [3]);
});

Deno.test("PlayerSink.write() ignores a player that closed its input", async () => {
  const exits: number[] = [];
  const sink = new PlayerSink(["sh", "-c", "exec 0<&-; exec sleep 30"], {
    onExit: (c) => exits.push(c),
  });
  // Large enough to fail with a broken pipe rather than sit in a buffer.
  for (let i = 0; i < 4; i++) await deadline(sink.write(new Uint8Array(256 * 1024)));
  await deadline(sink.close("stopped"));
  await sink.status;
  deepEqual(exits, []);
});

Deno.test("PlayerSink throws PeerstreamError when the player cannot start", () => {
  throws(() => new PlayerSink(["/nonexistent/player", "-"]), (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, "INTERNAL");
    ok(error.message.includes('Cannot start player "/nonexistent/player"'), error.message);
    ok(error.message.includes("--player"), error.message);
    ok(error.cause instanceof Error);
    return true;
  });
});

Deno.test("playerArgs() keeps the user's ffplay options and still adds the fast-start input options", () => {
  const args = playerArgs("ffplay -fs", streamInfo())!;
  deepEqual(args.slice(0, 2), ["ffplay", "-fs"]);
  ok(args.includes("-probesize") && args.includes("-analyzeduration"));
  deepEqual(args.slice(-2), ["-i", "pipe:0"]);
});
