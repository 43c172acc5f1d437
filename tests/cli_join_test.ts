/**
 * `join` against a real server: the interactive client in its steps (MESSAGE's prompts, HELP and
 * WHO, a taken or invalid name asked again, a known peer with another key, PLAY's errors), and a
 * lost connection reported on stderr with a non-zero exit when the server dies.
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  type CliClient,
  connectClient,
  LOOPBACK_LIMITS,
  startCli,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { exportPublicKeys, formatFingerprint, importPeerKeys } from "../protocol/e2e.ts";
import { assertNoColor, errorLines, finishCli } from "./_cli.ts";

/** This file's server gives up on a handshake after this long. */
const HANDSHAKE_MS = 1500;

/** The identity files a CLI's HOME holds. */
async function identityFiles(home: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${home}/.config/peerstream/identities`)) {
      names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test("join runs the interactive client against a real server", async (t) => {
  const server = await startServer({
    waitReady: true,
    // Every client here connects from 127.0.0.1: the loopback limits, with a short handshake.
    env: { PEERSTREAM_LIMITS: JSON.stringify({ ...LOOPBACK_LIMITS, handshakeMs: HANDSHAKE_MS }) },
  });
  const port = server.port;
  try {
    await t.step(
      "MESSAGE with no arguments shows who is online, asks To: and Message:, and delivers",
      async () => {
        const bob = await connectClient(port, "m-bob");
        const cli = await startCli(port, "m-alice");
        try {
          await bob.waitFor((e) => e.kind === "joined" && e.name === "m-alice");
          await cli.type("MESSAGE");
          await cli.out.waitFor(/^Online: m-bob$/);
          await cli.type("m-bob");
          await cli.type("hello from the prompt");
          await bob.waitFor((e) =>
            e.kind === "message" && e.message.text === "hello from the prompt"
          );
          await cli.out.waitFor(/^\* delivered to m-bob$/);

          const from = cli.out.lines.length;
          await cli.type("MESSAGE m-bob hello there");
          await bob.waitFor((e) => e.kind === "message" && e.message.text === "hello there");
          await cli.out.waitFor(/^\* delivered to m-bob$/, { from });
          const texts = bob.events.flatMap((e) => e.kind === "message" ? [e.message] : []);
          deepEqual(texts.map((m) => [m.from, m.text]), [
            ["m-alice", "hello from the prompt"],
            ["m-alice", "hello there"],
          ]);

          // And the other way: the CLI shows an incoming message.
          await bob.session.sendText("m-alice", "hi alice");
          await cli.out.waitFor(/^<m-bob> hi alice$/);
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
          await bob.waitFor((e) => e.kind === "left" && e.name === "m-alice");
          deepEqual(errorLines(cli.err.lines.join("\n")), []);
          assertNoColor(cli);
        } finally {
          await finishCli(cli);
          await bob.session.quit();
        }
      },
    );

    await t.step(
      "HELP, case-insensitive commands and WHO work, and an unknown command does not stop the client",
      async () => {
        const bob = await connectClient(port, "h-bob");
        const cli = await startCli(port, "h-alice");
        try {
          await cli.type("HELP");
          await cli.out.waitFor(/^Commands \(case does not matter\):$/);
          await cli.out.waitFor(/^\s+QUIT\s/);
          await cli.type("list");
          await cli.out.waitFor(/^testcard\s+\d+p/, { timeoutMs: 15_000 });

          await cli.type("FROB the knob");
          await cli.err.waitFor(/^error: Unknown command "FROB"/);

          // Still working after the error.
          const keys = await importPeerKeys(await exportPublicKeys(bob.identity));
          const fingerprint = formatFingerprint(keys.fingerprint, 4);
          match(fingerprint, /^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
          await cli.type("wHo");
          const line = await cli.out.waitFor(/^h-bob\s/);
          ok(line.includes(fingerprint), `${line} shows ${fingerprint}`);

          await cli.type("MESSAGE nobody-here hi");
          await cli.err.waitFor(/^error: .*"nobody-here"/);

          await cli.type("Quit");
          equal(await cli.finish(), 0);
          equal(cli.err.lines.filter((l) => /Unknown command/.test(l)).length, 1);
          equal(cli.err.lines.filter((l) => /nobody-here/.test(l)).length, 1);
          deepEqual(errorLines(cli.out.lines.join("\n")), []);
          assertNoColor(cli);
        } finally {
          await finishCli(cli);
          await bob.session.quit();
        }
      },
    );

    await t.step(
      "join asks for another name when the name is taken and registers it on a new connection, however long the person takes",
      async () => {
        const alice = await connectClient(port, "n-alice");
        const connectsBefore = server.out.lines.filter((l) => /\bconnect #/.test(l)).length;
        const cli = await startCli(port, "n-alice", { waitJoined: false });
        try {
          const error = await cli.err.waitFor(/NAME_TAKEN|in use/, { timeoutMs: 20_000 });
          match(error, /^error: Cannot register "n-alice": the name is in use/);
          // Longer than this server's handshake limit: the next attempt connects afresh.
          await new Promise((r) => setTimeout(r, HANDSHAKE_MS + 500));
          await cli.type("n-alice2");
          await cli.out.waitFor(/^Joined 127\.0\.0\.1:\d+ as n-alice2\./);
          await alice.waitFor((e) => e.kind === "joined" && e.name === "n-alice2");
          const connects = server.out.lines.filter((l) => /\bconnect #/.test(l)).length;
          // Each attempt has its own connection and its own handshake deadline.
          equal(connects - connectsBefore, 2, "one connection per attempt");
          // Only the accepted name has keys on disk.
          deepEqual(await identityFiles(cli.home), ["n-alice2.json"]);
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
        } finally {
          await finishCli(cli);
          await alice.session.quit();
        }
      },
    );

    await t.step(
      "join asks for another name when the name is invalid, and writes no keys for it",
      async () => {
        const connectsBefore = server.out.lines.filter((l) => /\bconnect #/.test(l)).length;
        const cli = await startCli(port, "bad name!", { waitJoined: false });
        try {
          const error = await cli.err.waitFor(/^error: /, { timeoutMs: 20_000 });
          match(error, /^error: Invalid name "bad name!"/);
          // Refused before connecting, and nothing written.
          equal(server.out.lines.filter((l) => /\bconnect #/.test(l)).length, connectsBefore);
          deepEqual(await identityFiles(cli.home), []);
          await cli.type("good-name");
          await cli.out.waitFor(/^Joined 127\.0\.0\.1:\d+ as good-name\./);
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
          equal(errorLines(cli.err.lines.join("\n")).length, 1);
          deepEqual(await identityFiles(cli.home), ["good-name.json"]);
        } finally {
          await finishCli(cli);
        }
      },
    );

    await t.step(
      "a known peer that joins with another key is announced at once",
      async () => {
        const home = await Deno.makeTempDir({ prefix: "peerstream-home-" });
        // k-alice met k-bob before, with other keys.
        await Deno.mkdir(`${home}/.config/peerstream/known_peers`, { recursive: true });
        await Deno.writeTextFile(
          `${home}/.config/peerstream/known_peers/k-alice.json`,
          JSON.stringify({ "k-bob": { fingerprint: "0".repeat(64), verified: true } }),
        );
        const cli = await startCli(port, "k-alice", { home });
        let bob: TestClient | undefined;
        try {
          bob = await connectClient(port, "k-bob");
          await cli.out.waitFor(/^\* k-bob joined$/);
          const warning = await cli.err.waitFor(/k-bob's key changed/);
          match(
            warning,
            /^warning: k-bob's key changed since you last talked; .*VERIFY k-bob and ACCEPT k-bob/,
          );
          // A peer never met costs no warning.
          const carol = await connectClient(port, "k-carol");
          await cli.out.waitFor(/^\* k-carol joined$/);
          await carol.session.quit();
          await cli.type("MESSAGE k-bob hi");
          await cli.err.waitFor(/^error: Cannot send to "k-bob": their key changed/);
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
          equal(cli.err.lines.filter((l) => /^warning: .*key changed since/.test(l)).length, 1);
        } finally {
          await finishCli(cli);
          await bob?.session.quit();
        }
      },
    );

    await t.step(
      "PLAY of an unknown title says so and points to LIST or close matches",
      async () => {
        const cli = await startCli(port, "p-alice");
        try {
          await cli.type("PLAY nosuchtitle");
          const error = await cli.err.waitFor(/^error: /);
          match(error, /^error: Cannot play "nosuchtitle": no such title; run LIST/);
          await cli.type("PLAY testcrd");
          await cli.err.waitFor(
            /^error: Cannot play "testcrd": no such title; did you mean .*"testcard"/,
          );
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
          ok(!cli.out.lines.some((l) => l.startsWith("* playing")));
        } finally {
          await finishCli(cli);
        }
      },
    );

    await t.step(
      "PLAY with a missing --player fails before any stream starts and the client keeps working",
      async () => {
        const logged = server.out.lines.length;
        const cli = await startCli(port, "q-alice", { args: ["--player", "/nonexistent/player"] });
        try {
          await cli.type("PLAY testcard");
          const error = await cli.err.waitFor(/^error: /);
          match(error, /"\/nonexistent\/player": not found/);
          await cli.type("LIST");
          await cli.out.waitFor(/^testcard\s+\d+p/);
          await cli.type("QUIT");
          equal(await cli.finish(), 0);
          ok(!cli.out.lines.some((l) => l.startsWith("* playing")));
          // The server logs in order: a stream started would be logged before the leave.
          await server.out.waitFor(/leave #\d+ "q-alice"/, { from: logged });
          ok(!server.out.lines.some((l) => /play #\d+ "q-alice"/.test(l)), "no stream started");
        } finally {
          await finishCli(cli);
        }
      },
    );
  } finally {
    await server.stop();
  }
});

Deno.test("join reports a lost connection on stderr and exits non-zero when the server dies", async () => {
  const server = await startServer();
  let cli: CliClient | undefined;
  let peer: TestClient | undefined;
  try {
    cli = await startCli(server.port, "lost-alice");
    peer = await connectClient(server.port, "lost-bob");
    await cli.out.waitFor(/^\* lost-bob joined$/);
    ok((await server.stop("SIGKILL")) !== 0);
    await cli.err.waitFor(/^error: Lost connection/, { timeoutMs: 20_000 });
    // It exits on its own, without stdin closing.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      cli.child.status,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 5000)),
    ]);
    clearTimeout(timer);
    ok(status !== undefined, "the client did not exit within 5 s");
    ok(status.code !== 0, `exit code ${status.code}`);
    equal(errorLines(cli.err.lines.join("\n")).length, 1, cli.err.lines.join("\n"));
    match(
      errorLines(cli.err.lines.join("\n"))[0],
      /^error: Lost connection to 127\.0\.0\.1:\d+: .+; is `peerstream serve` still running there\? join again once it is$/,
    );
  } finally {
    if (cli !== undefined) await finishCli(cli);
    await peer?.session.quit();
    await server.stop();
  }
});
