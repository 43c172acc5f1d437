import { equal } from "node:assert/strict";
import { BUILD_COMMIT, versionLine } from "./build_info.ts";

Deno.test("versionLine() names the commit when stamped and says 'from source' when not", () => {
  const cases: [string, string][] = [
    ["", "peerstream 0.1.0 (from source, Deno 2.9.6)"],
    ["977b675", "peerstream 0.1.0 (commit 977b675, Deno 2.9.6)"],
    ["977b675-dirty", "peerstream 0.1.0 (commit 977b675-dirty, Deno 2.9.6)"],
  ];
  for (const [commit, line] of cases) {
    equal(versionLine("0.1.0", { commit, deno: "2.9.6" }), line);
  }
});

Deno.test("BUILD_COMMIT is empty in the source: only a build stamps it", () => {
  equal(BUILD_COMMIT, "");
});
