/**
 * Robustness end to end, faults: a client killed mid-stream is freed at once, a dying player
 * makes the CLI stop and carry on, a server without ffmpeg still relays chat and says
 * VIDEO_FAILED, segments removed mid-stream end only that stream, and stopping the server tells
 * its clients and exits 0.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { makeClip } from "../video/_test_media.ts";
import { type ClientEvent, connectClient, startCli, startServer } from "./_helpers.ts";
import { timingSink } from "./_robustness.ts";

Deno.test("faults: a client killed mid-stream is freed at once, a dying player makes the CLI stop and carry on", async () => {
  const server = await startServer({ waitReady: true });
  const other = await connectClient(server.port, "bystander");
  try {
    const timing = timingSink();
    await other.session.play("testcard", { quality: 240, sink: timing.open });

    // Killed mid-stream: the server notices the closed socket (not a timeout) and tells others.
    const victim = await startCli(server.port, "victim");
    await victim.type("PLAY testcard");
    await victim.out.waitFor(/^\* playing "testcard"/);
    await server.out.waitFor(/play #\d+ "victim"/);
    victim.child.kill("SIGKILL");
    await victim.finish();
    // How fast is the benchmark's business; here, only that the socket's end was the cause.
    const leave = await server.out.waitFor(/leave #\d+ "victim"/);
    ok(
      /\(disconnected: (the client closed the connection|the peer went away)\)/.test(leave),
      leave,
    );
    await other.waitFor((e) => e.kind === "left" && e.name === "victim");

    // A player that dies after 50 kB: the CLI sends STOP and keeps working.
    const cli = await startCli(server.port, "watcher", { args: ["--player", "head -c 50000"] });
    await cli.type("PLAY testcard");
    await cli.out.waitFor(/^\* player closed; stopping$/, { timeoutMs: 10_000 });
    await cli.out.waitFor(/^\* stopped "testcard"$/, { timeoutMs: 20_000 });
    await server.out.waitFor(/stream #\d+ "watcher" testcard: stopped/);
    await other.session.sendText("watcher", "still there?");
    await cli.out.waitFor(/^<bystander> still there\?$/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);

    // The bystander's stream was never disturbed.
    await other.waitFor((e) => e.kind === "stream-end", 20_000);
    equal(timing.sink.ended, "finished");
    deepEqual(other.events.filter((e) => e.kind === "warning" || e.kind === "server-error"), []);
    await other.session.quit();
  } finally {
    other.session.close();
    await other.session.done;
    await server.stop();
  }
});

Deno.test("faults: without ffmpeg the server still relays chat and LIST/PLAY say VIDEO_FAILED naming ffmpeg", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream-noffmpeg-" });
  const server = await startServer({
    cacheDir: cache,
    env: { PEERSTREAM_FFMPEG: "/nonexistent/ffmpeg", PEERSTREAM_FFPROBE: "/nonexistent/ffprobe" },
  });
  try {
    const a = await connectClient(server.port, "a");
    const b = await connectClient(server.port, "b");
    await a.session.sendText("b", "chat works");
    await b.waitFor((e) => e.kind === "message" && e.message.text === "chat works");
    await server.err.waitFor(/Cannot open the video library/, { timeoutMs: 10_000 });
    for (
      const attempt of [
        () => a.session.list(),
        () => a.session.play("testcard", { quality: "auto", sink: timingSink().open }),
      ]
    ) {
      const error = await attempt().then(() => null, (e) => e);
      ok(error instanceof PeerstreamError, String(error));
      equal(error.code, "VIDEO_FAILED");
      ok(/ffmpeg/.test(error.message), error.message);
    }
    await a.session.quit();
    await b.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("faults: segments removed mid-stream end that stream with a clear error; others are served", async () => {
  const root = await Deno.makeTempDir({ prefix: "peerstream-removed-" });
  await Deno.mkdir(`${root}/videos`);
  await makeClip(`${root}/videos/clip_240p.mp4`, { height: 240, seconds: 20 });
  const server = await startServer({
    cacheDir: `${root}/cache`,
    args: ["--videos", `${root}/videos`],
    waitReady: true,
  });
  try {
    const viewer = await connectClient(server.port, "viewer");
    const friend = await connectClient(server.port, "friend");
    await viewer.session.play("clip", { quality: "auto", sink: timingSink().open });
    await viewer.waitFor((e) => e.kind === "segment");
    await Deno.remove(`${root}/cache/prepared`, { recursive: true });
    const end = await viewer.waitFor((e) => e.kind === "stream-end", 10_000) as Extract<
      ClientEvent,
      { kind: "stream-end" }
    >;
    equal(end.end.reason, "error");
    // The viewer learns what happened and what to do; the server's paths stay in its log.
    ok(/Cannot continue "clip": its prepared files cannot be read/.test(end.end.message ?? ""));
    ok(!(end.end.message ?? "").includes(root), end.end.message);
    await server.out.waitFor(/stream .*clip: error \(.*Cannot read segment .*file not found/);
    await friend.session.sendText("viewer", "ok?");
    await viewer.waitFor((e) => e.kind === "message");
    equal((await friend.session.list()).length, 1);
    await viewer.session.quit();
    await friend.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("faults: stopping the server tells connected clients, closes them and exits 0", async () => {
  const server = await startServer({ waitReady: true });
  const client = await connectClient(server.port, "stayer");
  const cli = await startCli(server.port, "clistayer");
  await client.session.play("testcard", { quality: "auto", sink: timingSink().open });
  equal(await server.stop(), 0);
  await client.waitFor((e) => e.kind === "shutdown");
  const closed = await client.waitFor((e) => e.kind === "closed") as Extract<
    ClientEvent,
    { kind: "closed" }
  >;
  ok(client.events.findIndex((e) => e.kind === "shutdown") < client.events.indexOf(closed));
  await client.session.done;
  await cli.out.waitFor(/^\* server: Server is shutting down$/);
  const code = await cli.finish();
  ok(code === 0 || code === 1, `CLI exit ${code}`);
  await server.out.waitFor(/stopped$/);
});
