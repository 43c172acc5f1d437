/**
 * The command line from outside (`main.ts` as a child process): help on stdout with exit 0, the
 * version, usage on stderr with exit 2 on misuse, a runtime error printed once with exit 1, colour
 * on a terminal only and never with NO_COLOR, and the tasks' flags matching the tests' servers.
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { PROGRAM_PERMISSIONS, SERVER_V8_FLAGS, startPtyJoin, startServer } from "./_helpers.ts";
import { deadline } from "./_util.ts";
import { ANSI, closedPort, errorLines, run } from "./_cli.ts";

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
