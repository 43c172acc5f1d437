/**
 * The one-way rule for test support (issue 17): product code never imports from `tests/` or
 * `bench/`, and `tests/` never imports from `bench/` (the bench may use test support, not the
 * reverse). Read from the source, so a new import that breaks the rule fails here by name.
 * @module
 */

import { deepEqual } from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const SKIP = new Set([".git", "node_modules", "dist", "generated"]);
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

async function sources(dir: string, out: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) await sources(path, out);
    else if (entry.name.endsWith(".ts")) out.push(relative(ROOT, path));
  }
  return out;
}

/**
 * The repository-relative files a source imports by relative path.
 *
 * @param file A repository-relative path.
 * @param text Its source.
 * @returns The imported paths, repository-relative.
 */
function relativeImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1];
    if (!specifier.startsWith(".")) continue;
    found.push(relative(ROOT, join(ROOT, dirname(file), specifier)));
  }
  return found;
}

/** Which folder rules a file: "tests", "bench", a test beside the code, or product code. */
function role(file: string): "tests" | "bench" | "test" | "product" {
  if (file.startsWith("tests/")) return "tests";
  if (file.startsWith("bench/")) return "bench";
  if (file.endsWith("_test.ts")) return "test";
  return "product";
}

Deno.test("imports: product code never imports tests/ or bench/, and tests/ never imports bench/", async () => {
  const broken: string[] = [];
  // This file is left out: its own table of examples below names tests/ and bench/ on purpose.
  const files = (await sources(ROOT)).filter((f) => f !== "tests/imports_test.ts");
  for (const file of files.sort()) {
    const text = await Deno.readTextFile(join(ROOT, file));
    const kind = role(file);
    for (const target of relativeImports(file, text)) {
      const intoTests = target.startsWith("tests/");
      const intoBench = target.startsWith("bench/");
      if (kind === "product" && (intoTests || intoBench)) broken.push(`${file} -> ${target}`);
      if ((kind === "tests" || kind === "test") && intoBench) broken.push(`${file} -> ${target}`);
    }
  }
  deepEqual(broken, []);
});

Deno.test("relativeImports() finds static, type-only, re-export and dynamic imports", () => {
  const text = [
    'import { a } from "../tests/_util.ts";',
    'import type { B } from "./b.ts";',
    'export { c } from "../bench/_proc.ts";',
    'const d = await import("./d.ts");',
    'import "./side_effect.ts";',
    'import x from "npm:left-pad";',
  ].join("\n");
  deepEqual(relativeImports("server/x.ts", text), [
    "tests/_util.ts",
    "server/b.ts",
    "bench/_proc.ts",
    "server/d.ts",
    "server/side_effect.ts",
  ]);
});
