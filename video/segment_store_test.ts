import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { SegmentStore } from "./segment_store.ts";

Deno.test("`SegmentStore.read()` caches, dedupes and evicts least recently used", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_store_" });
  try {
    for (const [name, size] of [["a", 100], ["b", 100], ["c", 100], ["big", 301]] as const) {
      await Deno.writeFile(`${dir}/${name}`, new Uint8Array(size).fill(name.charCodeAt(0)));
    }
    const store = new SegmentStore({ maxBytes: 300 });
    const [a1, a2] = await Promise.all([store.read(`${dir}/a`), store.read(`${dir}/a`)]);
    assert.equal(a1, a2, "concurrent reads share one result");
    assert.equal(await store.read(`${dir}/a`), a1, "a hit returns the cached bytes");
    await store.read(`${dir}/b`);
    await store.read(`${dir}/c`);
    assert.equal(store.size, 300);
    await store.read(`${dir}/a`); // a is now the most recent; b the least
    await Deno.writeFile(`${dir}/b`, new Uint8Array(100).fill(0x7a));
    await Deno.writeFile(`${dir}/d`, new Uint8Array(100));
    await store.read(`${dir}/d`); // evicts b
    assert.equal(store.count, 3);
    assert.equal((await store.read(`${dir}/b`))[0], 0x7a, "b was evicted and read again");
    const big = await store.read(`${dir}/big`);
    assert.equal(big.length, 301);
    assert.ok(store.size <= 300);
    assert.notEqual(await store.read(`${dir}/big`), big, "too big to keep");
    store.clear();
    assert.equal(store.size, 0);
    assert.equal(store.count, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`SegmentStore.read()` rejects a missing file with VIDEO_FAILED", async () => {
  const store = new SegmentStore();
  await assert.rejects(
    store.read("/nonexistent/seg_00000.ts"),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
      e.message.startsWith('Cannot read segment "/nonexistent/seg_00000.ts": file not found; '),
  );
  assert.throws(() => new SegmentStore({ maxBytes: -1 }), RangeError);
});
