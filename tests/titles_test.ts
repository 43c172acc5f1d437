/**
 * Titles as a person meets them in a real terminal (issue 18): a title with spaces and non-ASCII
 * letters plays, typed quoted or completed with Tab; PLAY of a title still being prepared says
 * so, and the client is told when it is ready, without asking again; the samples are prepared in
 * the order the README uses them (`testcard` first).
 * @module
 */

import { ok } from "node:assert/strict";
import { startPtyJoin, startServer } from "./_helpers.ts";
import { makeClip } from "../video/_test_media.ts";

Deno.test("in a real terminal: a title with spaces and non-ASCII letters plays, typed quoted or completed with Tab", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-titles-" });
  const title = "l’été à Paris";
  await Deno.mkdir(`${dir}/videos`);
  await makeClip(`${dir}/videos/${title}.mp4`, { height: 240, seconds: 2 });
  const server = await startServer({
    args: ["--videos", `${dir}/videos`],
    cacheDir: `${dir}/cache`,
    waitReady: true,
  });
  const pty = await startPtyJoin(server.port, "viewer", {
    args: ["--player", "none", "--ephemeral"],
    env: { NO_COLOR: "1" },
  });
  const { screen, type } = pty;
  try {
    await screen.waitFor(/Joined 127\.0\.0\.1:\d+ as viewer\.[^]*> /, 30_000, 0);
    await type("LIST\r");
    await screen.waitFor(/l’été à Paris\s+240p/);
    // Typed with quotes.
    let from = screen.text.length;
    await type(`PLAY '${title}'\r`);
    await screen.waitFor(/\* finished "l’été à Paris"/, 60_000, from);
    ok(!/too many words/.test(screen.text), screen.text.slice(-2000));
    // Completed with Tab: the line shows the title quoted, as the parser reads it.
    from = screen.text.length;
    await type("PLAY l’\t");
    await screen.waitFor(/PLAY "l’été à Paris" /, 20_000, from);
    await type("\r");
    await screen.waitFor(/\* playing "l’été à Paris"[^]*\* finished "l’été à Paris"/, 60_000, from);
    await type("QUIT\r");
    await pty.child.status;
  } finally {
    await pty.finish();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in a real terminal: PLAY of a sample being prepared is told when it is ready; testcard is prepared first", async () => {
  // A fresh cache: the samples are generated and prepared while the client is already there.
  const cache = await Deno.makeTempDir({ prefix: "peerstream-first-start-" });
  const server = await startServer({ cacheDir: cache });
  const pty = await startPtyJoin(server.port, "early", {
    args: ["--player", "none", "--ephemeral"],
    env: { NO_COLOR: "1" },
  });
  const { screen, type } = pty;
  try {
    await screen.waitFor(/Joined 127\.0\.0\.1:\d+ as early\.[^]*> /, 30_000, 0);
    const from = screen.text.length;
    // The last sample prepared: the library loads or prepares for many seconds before it.
    await type("PLAY pattern\r");
    await screen.waitFor(
      /error: Cannot play "pattern" yet: it is being prepared[^\n]*; you will be told when it is ready|error: The video library is still loading[^\n]*; you will be told when it is ready/,
      30_000,
      from,
    );
    // Told, without asking again, once it is ready.
    await screen.waitFor(/\* "pattern" is ready; PLAY pattern/, 180_000, from);
    await type("PLAY pattern\r");
    await screen.waitFor(/\* finished "pattern"/, 60_000, from);
    // The samples were prepared in the order the README uses them.
    const prepared = server.out.lines.filter((l) => /Prepared "|Ready "/.test(l))
      .map((l) => /"(\w+)"/.exec(l)![1]);
    ok(
      prepared.join(",") === "testcard,bars,pattern",
      `preparation order: ${prepared.join(",")}\n${server.out.lines.join("\n")}`,
    );
    await type("QUIT\r");
    await pty.child.status;
  } finally {
    await pty.finish();
    await server.stop();
    await Deno.remove(cache, { recursive: true });
  }
});
