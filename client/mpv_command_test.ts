import { deepEqual, equal, ok } from "node:assert/strict";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { defaultPlayer } from "./cli.ts";
import { isMpv, loadOptions, mpvArgs, mpvTitle, parseMpvLine } from "./mpv_command.ts";

function streamInfo(overrides: Partial<StreamStartMessage> = {}): StreamStartMessage {
  return {
    type: "stream-start",
    re: 1,
    streamId: 1,
    title: "my film",
    duration: 10,
    codec: "h264",
    container: "mpegts",
    fps: 25,
    hasAudio: true,
    renditions: [
      { height: 240, width: 426, bitrate: 400_000 },
      { height: 720, width: 1280, bitrate: 2_500_000 },
    ],
    quality: "auto",
    position: 0,
    epoch: 0,
    ...overrides,
  };
}

Deno.test("isMpv() tells mpv, also by path or behind a wrapper, from other players", () => {
  const table: readonly [string, boolean][] = [
    ["mpv", true],
    ["mpv -", true],
    ["/usr/bin/mpv --vo=x11", true],
    ["timeout -s KILL 60 mpv --vo=x11", true],
    ["ffplay", false],
    ["mpvx", false],
    ["none", false],
    ["vlc -", false],
  ];
  for (const [spec, expected] of table) equal(isMpv(spec), expected, spec);
});

Deno.test("mpvArgs() keeps the user's words, drops a trailing -, and adds an idle IPC window", () => {
  const args = mpvArgs("timeout 60 mpv --vo=x11 -", streamInfo(), "/tmp/x/ipc");
  deepEqual(args.slice(0, 4), ["timeout", "60", "mpv", "--vo=x11"]);
  ok(!args.includes("-"));
  for (
    const flag of [
      "--idle=yes",
      "--force-window=yes",
      "--input-ipc-server=/tmp/x/ipc",
      "--title=peerstream: my film",
      "--geometry=1280x720",
      "--demuxer-seekable-cache=yes",
      "--force-seekable=yes",
      "--rebase-start-time=no",
      "--demuxer-lavf-format=mpegts",
    ]
  ) ok(args.includes(flag), flag);
  ok(
    mpvArgs("mpv", streamInfo({ container: "mjpeg" }), "p").includes("--demuxer-lavf-format=mjpeg"),
  );
  ok(!mpvArgs("mpv", streamInfo({ renditions: [] }), "p").some((a) => a.startsWith("--geometry")));
});

Deno.test("loadOptions() starts at the media time asked for, on the stream's own timestamps", () => {
  const table: readonly [Parameters<typeof loadOptions>, string][] = [
    [[{ origin: 0, at: 0, paused: false }, 1.48], "start=1.480"],
    [[{ origin: 14, at: 15.2, paused: false }, 15.48], "start=16.680"],
    [[{ origin: 2, at: 3.58, paused: true }, 3.48], "start=5.060"],
    // Before the epoch's start is not possible: its first frame.
    [[{ origin: 4, at: 3, paused: false }, 5.48], "start=5.480"],
    // Without a timestamp (MJPEG): relative to the input's start.
    [[{ origin: 4, at: 5.5, paused: false }, null], "start=+1.500"],
  ];
  for (const [args, expected] of table) equal(loadOptions(...args), expected, expected);
});

Deno.test("parseMpvLine() reads events and replies and ignores what is not an object or mistyped", () => {
  deepEqual(parseMpvLine('{"event":"end-file","reason":"eof","playlist_entry_id":3}'), {
    event: "end-file",
    name: undefined,
    data: undefined,
    id: undefined,
    reason: "eof",
    entry: 3,
    requestId: undefined,
    error: undefined,
  });
  const reply = parseMpvLine('{"data":1.5,"request_id":7,"error":"success"}');
  equal(reply?.data, 1.5);
  equal(reply?.requestId, 7);
  equal(reply?.error, "success");
  for (const line of ["", "nope", "[1]", "null", "3"]) equal(parseMpvLine(line), null, line);
  const odd = parseMpvLine('{"event":5,"playlist_entry_id":"3","request_id":1.5}');
  equal(odd?.event, undefined);
  equal(odd?.entry, undefined);
  equal(odd?.requestId, undefined);
});

Deno.test("defaultPlayer() prefers mpv when it is installed, else ffplay", () => {
  equal(defaultPlayer((name) => name === "mpv" ? "/usr/bin/mpv" : null), "mpv");
  equal(defaultPlayer(() => null), "ffplay");
});

Deno.test("mpvTitle() names the window and keeps mpv from expanding a title's ${...}", () => {
  equal(mpvTitle("dog"), "peerstream: dog");
  equal(mpvTitle("${filename} $x"), "peerstream: $${filename} $$x");
});
