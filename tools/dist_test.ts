/**
 * The dist task's pure parts, from tables; tests/dist_test.ts builds and runs the real file.
 * @module
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  cachedDenortPath,
  chooseKind,
  compileExcludes,
  compileTaskFlags,
  machineIndependent,
  OPTIONAL_IMPORTS,
  pinnedDenoVersion,
  runtimePackagePath,
  stampBuildInfo,
  unresolvedImports,
} from "./dist.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("pinnedDenoVersion() reads ./run's DENO_VERSION, and refuses a ./run without one", () => {
  equal(pinnedDenoVersion(Deno.readTextFileSync(`${ROOT}run`)), Deno.version.deno);
  equal(pinnedDenoVersion("#!/bin/sh\nDENO_VERSION=10.20.30\n"), "10.20.30");
  for (
    const text of ["", "DENO_VERSION=latest\n", "  DENO_VERSION=2.9.6\n", "DENO_VERSION=2.9\n"]
  ) {
    throws(() => pinnedDenoVersion(text), SyntaxError, JSON.stringify(text));
  }
});

Deno.test("runtimePackagePath() finds the runtime where ./run installs the deno npm package", () => {
  const tail = "deno-2.9.6/node_modules/@deno/linux-x64-glibc/deno";
  const cases: [Record<string, string>, string][] = [
    [{ HOME: "/home/a" }, `/home/a/.cache/peerstream-tools/${tail}`],
    [{ HOME: "/home/a", XDG_CACHE_HOME: "/c" }, `/c/peerstream-tools/${tail}`],
    [{ HOME: "/home/a", XDG_CACHE_HOME: "" }, `/home/a/.cache/peerstream-tools/${tail}`],
    [{ HOME: "/home/a", XDG_CACHE_HOME: "/c", PEERSTREAM_TOOLS: "/t" }, `/t/${tail}`],
  ];
  for (const [env, path] of cases) equal(runtimePackagePath("2.9.6", env), path);
});

Deno.test("cachedDenortPath() is where deno compile keeps the denort it downloaded", () => {
  equal(
    cachedDenortPath("/root/.cache/deno", "2.9.6"),
    "/root/.cache/deno/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
  );
});

Deno.test("chooseKind() compiles when a denort is at hand unless told otherwise", () => {
  const cases: [boolean, boolean, boolean, string][] = [
    [false, false, false, "self-extracting"],
    [true, false, false, "compiled"],
    [false, true, false, "compiled"],
    [true, true, false, "compiled"],
    [true, true, true, "self-extracting"],
    [false, false, true, "self-extracting"],
  ];
  for (const [denortBin, cachedDenort, selfExtracting, kind] of cases) {
    equal(chooseKind({ denortBin, cachedDenort, selfExtracting }), kind);
  }
});

Deno.test("compileTaskFlags() reads the compile task's flags without its --output", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  deepEqual(compileTaskFlags(tasks.compile), [
    "--v8-flags=--heap-growing-percent=25,--max-semi-space-size=16",
    "--unstable-net",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "--allow-sys=hostname,networkInterfaces",
  ]);
  deepEqual(
    compileTaskFlags("deno compile --allow-net --exclude=$HOME/x --output dist/p main.ts"),
    ["--allow-net"],
  );
  for (
    const task of [
      "deno compile --output dist/peerstream other.ts",
      "deno compile --allow-net main.ts",
      "deno run --output x main.ts",
      "deno compile --output main.ts",
    ]
  ) {
    throws(() => compileTaskFlags(task), SyntaxError, task);
  }
});

Deno.test("compileExcludes() names each excluded path inside the npm cache it is given", () => {
  deepEqual(compileExcludes("/cache/npm"), [
    "--exclude=/cache/npm/registry.npmjs.org/bintrees/1.0.2/test",
  ]);
  // The compile task excludes the same paths for the default DENO_DIR.
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.compile;
  for (const flag of compileExcludes("$HOME/.cache/deno/npm")) ok(task.includes(flag), flag);
});

Deno.test("stampBuildInfo() fills in the commit of cli/build_info.ts, and refuses a module without the line", () => {
  const source = Deno.readTextFileSync(`${ROOT}cli/build_info.ts`);
  const stamped = stampBuildInfo(source, "977b675-dirty");
  equal(stamped.split("\n").length, source.split("\n").length);
  equal(
    stamped.split("\n").filter((l, i) => l !== source.split("\n")[i]).join("\n"),
    'export const BUILD_COMMIT: string = "977b675-dirty";',
  );
  throws(() => stampBuildInfo("export const BUILD_COMMIT = '';\n", "x"), SyntaxError);
  throws(() => stampBuildInfo(`${source}\n${source}`, "x"), SyntaxError);
});

Deno.test("machineIndependent() names npm modules by package, wherever Deno's cache is", () => {
  const at = (cache: string) =>
    `// ${cache}/npm/registry.npmjs.org/@redis/client/6.3.1/dist/index.js\n` +
    `var require_x = __commonJS({ "${cache}/npm/registry.npmjs.org/@redis/client/6.3.1/dist/index.js"(exports) {} });\n` +
    `// cli/build_info.ts\nvar BUILD_COMMIT = "";\n`;
  const a = machineIndependent(at("../../../root/.cache/deno"));
  equal(a, machineIndependent(at("../../home/me/.cache/deno")));
  equal(
    a,
    `// npm:@redis/client/6.3.1/dist/index.js\n` +
      `var require_x = __commonJS({ "npm:@redis/client/6.3.1/dist/index.js"(exports) {} });\n` +
      `// cli/build_info.ts\nvar BUILD_COMMIT = "";\n`,
  );
});

Deno.test("unresolvedImports() lists what nothing beside the bundle provides", () => {
  const js = [
    'import { createRequire } from "node:module";',
    'import { x } from "npm:left-pad@1";',
    'export { y } from "https://example.com/y.ts";',
    'const a = __require("node:net");',
    'const b = __require("left-pad");',
    'const c = await import("@node-rs/xxhash");',
    'const d = await import("jsr:@std/assert");',
    "const e = import(specifier);",
  ].join("\n");
  deepEqual(unresolvedImports(js), [
    "https://example.com/y.ts",
    "jsr:@std/assert",
    "left-pad",
    "npm:left-pad@1",
  ]);
  deepEqual(unresolvedImports(""), []);
  for (const name of Object.keys(OPTIONAL_IMPORTS)) {
    deepEqual(unresolvedImports(`__require("${name}"); import("${name}");`), []);
  }
});
