import assert from "node:assert/strict";
import { maxBitrateFor, planLadder } from "./ladder.ts";

Deno.test("`planLadder()` derives at most 3 heights from one source and keeps several sources", () => {
  const table: [number[], number[]][] = [
    [[1080], [240, 480, 1080]],
    [[720], [240, 480, 720]],
    [[480], [240, 360, 480]],
    [[360], [240, 360]],
    [[300], [240]],
    [[240], [240]],
    [[160], [160]],
    [[161], [160]],
    [[160, 240, 720], [160, 240, 720]],
  ];
  for (const [sources, want] of table) {
    assert.deepEqual(planLadder(sources).map((s) => s.height), want, sources.join(","));
  }
  assert.deepEqual(planLadder([160, 240]).map((s) => s.source), [0, 1]);
});

Deno.test("`maxBitrateFor()` grows with height and has a floor", () => {
  assert.equal(maxBitrateFor(160), 300_000);
  assert.ok(maxBitrateFor(720) > maxBitrateFor(480));
});
