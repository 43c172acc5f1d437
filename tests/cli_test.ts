import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  type CliClient,
  connectClient,
  homeEnv,
  LOOPBACK_LIMITS,
  PROGRAM_PERMISSIONS,
  SERVER_V8_FLAGS,
  startCli,
  startPtyJoin,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { exportPublicKeys, formatFingerprint, importPeerKeys } from "../protocol/e2e.ts";
import { deadline } from "./_util.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ANSI = "\x1b[";

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts` with the program's permissions, a fresh HOME and a deadline. */
async function run(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const home = await Deno.makeTempDir({ prefix: "peerstream-cli-" });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...PROGRAM_PERMISSIONS, MAIN, ...args],
      cwd: home,
      env: { NO_COLOR: "1", ...homeEnv(home), ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
    await Deno.remove(home, { recursive: true });
  }
}

function errorLines(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("error: "));
}

/** A port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function finishCli(cli: CliClient): Promise<number> {
  try {
    return await cli.finish();
  } finally {
    await Deno.remove(cli.home, { recursive: true });
  }
}

/** No ANSI escape in anything the client printed (startCli sets NO_COLOR=1). */
function assertNoColor(cli: CliClient) {
  for (const line of [...cli.out.lines, ...cli.err.lines]) {
    ok(!line.includes(ANSI), `ANSI escape in ${JSON.stringify(line)}`);
  }
}

Deno.test("main() prints help on stdout and exits 0 for every help form", async () => {
  const cases = [
    ["--help"],
    ["-h"],
    ["help"],
    ["help", "serve"],
    ["help", "join"],
    ["serve", "--help"],
    ["serve", "-h"],
    ["join", "--help"],
    ["join", "-h"],
  ];
  const results = await Promise.all(cases.map((args) => run(args)));
  for (const [i, result] of results.entries()) {
    const what = cases[i].join(" ");
    equal(result.code, 0, what);
    match(result.stdout, /Usage:/, what);
    equal(result.stderr, "", what);
  }
  // The subcommands show their own options.
  match(results[5].stdout, /--port PORT/);
  match(results[7].stdout, /--name NAME/);
  match(results[7].stdout, /Commands \(case does not matter\):/);
  equal(results[3].stdout, results[5].stdout);
  equal(results[4].stdout, results[7].stdout);
});

Deno.test("main() prints the version, where it was built from and its Deno for --version", async () => {
  // Run from source: no commit was stamped in (tests/dist_test.ts checks a stamped build).
  const expected = `peerstream 0.1.0 (from source, Deno ${Deno.version.deno})\n`;
  for (const flag of ["--version", "-V", "version"]) {
    const result = await run([flag]);
    deepEqual(result, { code: 0, stdout: expected, stderr: "" }, flag);
  }
});

Deno.test("main() prints usage on stderr, nothing on stdout, and exits 2 on misuse", async () => {
  const cases: { args: string[]; error?: RegExp }[] = [
    { args: [] },
    { args: ["bogus"], error: /^error: Unknown command "bogus"/ },
    { args: ["serve", "--bogus"], error: /^error: .*--bogus/ },
    { args: ["serve", "stray"], error: /^error: / },
    { args: ["join"], error: /^error: Missing --name/ },
    { args: ["join", "--name", "x", "--bogus"], error: /^error: .*--bogus/ },
    { args: ["join", "--name", "x", "--server", "nohost"], error: /^error: Invalid --server/ },
    { args: ["join", "--name", "x", "--server", "h:99999"], error: /^error: Invalid --server/ },
    { args: ["join", "--name", "x", "--server", "h:"], error: /^error: Invalid --server/ },
    { args: ["serve", "--port", "65536"], error: /^error: Invalid --port "65536"/ },
    { args: ["serve", "--port", "abc"], error: /^error: Invalid --port "abc"/ },
    { args: ["serve", "--port", "1.5"], error: /^error: Invalid --port "1.5"/ },
    { args: ["serve", "--codec", "vp9"], error: /^error: Invalid --codec "vp9"/ },
  ];
  const results = await Promise.all(cases.map((c) => run(c.args)));
  for (const [i, result] of results.entries()) {
    const { args, error } = cases[i];
    const what = JSON.stringify(args);
    equal(result.code, 2, `${what}: exit code; stderr:\n${result.stderr}`);
    equal(result.stdout, "", `${what}: stdout`);
    match(result.stderr, /Usage:/, what);
    const errors = errorLines(result.stderr);
    if (error === undefined) {
      deepEqual(errors, [], what);
    } else {
      equal(errors.length, 1, `${what}: one error line, got ${JSON.stringify(errors)}`);
      match(errors[0], error, what);
    }
  }
});

Deno.test("main() prints a runtime error once as error: ... on stderr and exits 1", async () => {
  const port = closedPort();
  const data = await Deno.makeTempDir({ prefix: "peerstream-data-" });
  try {
    const results = await Promise.all([
      run(["join", "--name", "x", "--server", `127.0.0.1:${port}`, "--ephemeral"]),
      run(["serve", "--release", "nobody", "--data", data]),
    ]);
    for (const result of results) {
      equal(result.code, 1, result.stderr);
      equal(result.stdout, "");
      equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      equal(errorLines(result.stderr).length, 1, result.stderr);
    }
    // Says the server is not there, and what to check (issue 17).
    equal(
      results[0].stderr.trim(),
      `error: Cannot connect to 127.0.0.1:${port}: connection refused; is \`peerstream serve\` running there?`,
    );
    match(results[1].stderr, /^error: Cannot release "nobody"/);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

/** Colour: an SGR escape sequence (cursor movement by the line editor is not colour). */
// deno-lint-ignore no-control-regex -- matching the escape is the point
const SGR = /\x1b\[[0-9;]*m/;

/**
 * Runs `join` on a pseudo-terminal with `env` as its whole environment (see
 * {@linkcode startPtyJoin}), types a bad command and QUIT, and returns all it printed.
 */
async function joinInPty(port: number, env: Record<string, string>): Promise<string> {
  const pty = await startPtyJoin(port, `pty${crypto.randomUUID().slice(0, 6)}`, { env });
  try {
    await pty.screen.waitFor(/Joined /, 20_000, 0);
    await pty.type("FROB\r");
    await pty.screen.waitFor(/Unknown command "FROB"/, 20_000, 0);
    await pty.type("QUIT\r");
    await deadline(pty.child.status, 20_000, "the client to quit");
    return pty.screen.raw;
  } finally {
    await pty.finish();
  }
}

Deno.test("join on a terminal colours its output, and NO_COLOR=1 turns colour off", async () => {
  const server = await startServer();
  try {
    const [coloured, plain] = await Promise.all([
      joinInPty(server.port, {}),
      joinInPty(server.port, { NO_COLOR: "1" }),
    ]);
    // The control case: the same run on a terminal without NO_COLOR is coloured, so the check
    // below could fail if NO_COLOR were ignored.
    match(coloured, /Unknown command "FROB"/);
    ok(SGR.test(coloured), JSON.stringify(coloured));
    match(plain, /Unknown command "FROB"/);
    ok(!SGR.test(plain), JSON.stringify(plain));
  } finally {
    await server.stop();
  }
});

Deno.test("main() prints no colour when its output is not a terminal, even without NO_COLOR", async () => {
  const colourAllowed = { NO_COLOR: "" };
  const results = await Promise.all([
    run(["--help"], colourAllowed),
    run(["join", "--help"], colourAllowed),
    run(["bogus"], colourAllowed),
    run(["join", "--name", "x", "--server", `127.0.0.1:${closedPort()}`], colourAllowed),
  ]);
  for (const result of results) {
    ok(result.stdout.length + result.stderr.length > 0);
    ok(!result.stdout.includes(ANSI), result.stdout);
    ok(!result.stderr.includes(ANSI), result.stderr);
  }
});

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

Deno.test("the serve and compile tasks run with the flags the tests start servers with", async () => {
  const config: unknown = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const tasks = (config as { tasks?: Record<string, unknown> }).tasks ?? {};
  for (const name of ["serve", "compile"]) {
    const task = tasks[name];
    ok(typeof task === "string", `task ${name}`);
    const words = task.split(" ");
    for (const flag of [...SERVER_V8_FLAGS, ...PROGRAM_PERMISSIONS]) {
      ok(words.includes(flag), `task ${name} lacks ${flag}`);
    }
  }
});
