/**
 * The client in a real terminal: `script` gives it a pty (util-linux, in every Debian), so the
 * raw-mode line editor runs as a person meets it. A 100 KB paste is refused at once and the next
 * command is answered; Tab completes; Ctrl-C clears the line, stops a video, or says how to leave;
 * Ctrl-D leaves. Writes go out without blocking the test (a busy reader fills the pty's buffer).
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { startPtyJoin, startServer } from "./_helpers.ts";
import { deadline } from "./_util.ts";

Deno.test("in a real terminal: a 100 KB paste is refused at once, the next command works, Tab, Ctrl-C and Ctrl-D behave", async () => {
  const server = await startServer({ waitReady: true });
  const pty = await startPtyJoin(server.port, "typist", {
    args: ["--player", "none", "--ephemeral"],
    env: { NO_COLOR: "1" },
  });
  const { screen, type } = pty;
  try {
    await screen.waitFor(/Joined 127\.0\.0\.1:\d+ as typist\.[^]*> /, 30_000, 0);
    // Tab completion, in a terminal.
    await type("LIST\r");
    await screen.waitFor(/testcard\s+240p 480p 720p/);

    const before = screen.text.length;
    const pasted = type(`MESSAGE typist ${"x".repeat(100_000)}\r`);
    const started = performance.now();
    await screen.waitFor(/error: Cannot take a line over 65792 bytes/, 60_000, before);
    await deadline(pasted, 60_000, "the paste to be taken");
    await type("LIST\r");
    await screen.waitFor(/testcard\s+240p 480p 720p/, 60_000);
    console.log(
      `[figures] 100 KB paste in a pty -> refused and LIST answered: ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );

    // Wide characters and a combining accent, edited with the arrow keys: each key moves over
    // one character as the screen shows it (é here is e and U+0301).
    const wideBefore = screen.text.length;
    await type(
      "MESSAGE typist 日本語 cafe\u0301\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dx\x1b[D\x1b[D\x1b[Dy\r",
    );
    // One line: a pty nobody sized (0 columns) must not cut it a character per line.
    await screen.waitFor(/<typist> 日y本語x cafe\u0301\n/, 20_000, wideBefore);
    await type("pl\tte\t240p\r");
    await screen.waitFor(/\* playing "testcard" \(0:12, 240p\/480p\/720p, 240p\)/);
    // Ctrl-C with text clears the line; on an empty line it stops the video.
    await type("QUIT is not sent\x03");
    await type("\x03");
    await screen.waitFor(/\* stopped "testcard"/);
    // Nothing plays: Ctrl-C says how to leave.
    await type("\x03");
    await screen.waitFor(/Type QUIT or press Ctrl-D to leave/);
    await type("\x04");
    const status = await deadline(pty.child.status, 10_000, "the client to leave on Ctrl-D");
    equal(status.code, 0, screen.text.slice(-2000));
    ok(!/Unknown command "QUIT/.test(screen.text));
  } finally {
    await pty.finish();
    await server.stop();
  }
});
