import { deepEqual } from "node:assert/strict";
import { serverOf } from "./message_path.ts";

Deno.test("serverOf() runs ROOT with the common V8 flags and ROOT@FLAGS with its own", () => {
  deepEqual(serverOf(".", "/repo", undefined), { root: "/repo", denoArgs: [] });
  deepEqual(serverOf("/tmp/old", "/repo", "--a"), {
    root: "/tmp/old",
    denoArgs: ["--v8-flags=--a"],
  });
  deepEqual(serverOf(".@--b,--c=2", "/repo", "--a"), {
    root: "/repo",
    denoArgs: ["--v8-flags=--b,--c=2"],
  });
  // An empty FLAGS runs without V8 flags, whatever --v8-flags says.
  deepEqual(serverOf("/tmp/old@", "/repo", "--a"), { root: "/tmp/old", denoArgs: [] });
});
