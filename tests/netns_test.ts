/**
 * The shaped-link harness itself (`tests/_netns.ts`, issue 22): it removes its namespace and veth
 * even when the body throws, removes links left by a dead process but not a live one's, and the
 * link really holds a viewer to its rate, which it can change while bytes flow.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import {
  listLinks,
  NETNS_PREFIX,
  openShapedLink,
  removeStaleLinks,
  type ShapedLink,
  withShapedLink,
} from "./_netns.ts";

async function mine(): Promise<string[]> {
  return (await listLinks()).filter((l) => l.pid === Deno.pid).map((l) => l.name).sort();
}

Deno.test("withShapedLink() removes its namespace and veth when the body throws", async () => {
  deepEqual(await mine(), []);
  let seen: string[] = [];
  await rejects(
    withShapedLink({ rateBitsPerSecond: 600_000 }, async (link) => {
      seen = await mine();
      equal(link.ns.startsWith(`${NETNS_PREFIX}${Deno.pid}-`), true);
      throw new RangeError("the body failed");
    }),
    RangeError,
  );
  // Both existed inside the body (the namespace and the host's veth end), and neither after.
  equal(seen.length, 2, `inside the body: ${seen.join(", ")}`);
  deepEqual(await mine(), []);
});

Deno.test("removeStaleLinks() removes a dead process's link and keeps a live one's", async () => {
  const live = await openShapedLink({ rateBitsPerSecond: 1_000_000 });
  // A namespace named after a process that has exited, as a killed test run leaves it.
  const child = new Deno.Command("true").spawn();
  const { pid } = child;
  await child.status;
  const stale = `${NETNS_PREFIX}${pid}-0`;
  const add = await new Deno.Command("ip", { args: ["netns", "add", stale] }).output();
  try {
    ok(add.success, new TextDecoder().decode(add.stderr));
    const removed = await removeStaleLinks();
    ok(removed.includes(stale), `removed: ${removed.join(", ")}`);
    const names = (await listLinks()).map((l) => l.name);
    ok(!names.includes(stale));
    ok(names.includes(live.ns) && names.includes(live.hostDevice), names.join(", "));
  } finally {
    await live.close();
    await new Deno.Command("ip", { args: ["netns", "delete", stale] }).output();
  }
});

/**
 * Sends `bytes` from the host side to a reader inside the namespace (bash's /dev/tcp) and returns
 * how long the reader took to get them all, ms.
 */
async function transfer(link: ShapedLink, bytes: number): Promise<number> {
  const listener = Deno.listen({ hostname: link.hostAddress, port: 0 });
  try {
    const { port } = listener.addr as Deno.NetAddr;
    const reader = new Deno.Command(link.exec[0], {
      args: [
        ...link.exec.slice(1),
        "timeout",
        "60",
        "bash",
        "-c",
        `cat < /dev/tcp/${link.hostAddress}/${port} | wc -c`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const conn = await listener.accept();
    const start = performance.now();
    const chunk = new Uint8Array(16_384);
    // write() may take part of a chunk: count what it took.
    for (let sent = 0; sent < bytes;) sent += await conn.write(chunk.subarray(0, bytes - sent));
    conn.close();
    const out = await reader.output();
    const elapsed = performance.now() - start;
    equal(Number(new TextDecoder().decode(out.stdout).trim()), bytes);
    return elapsed;
  } finally {
    listener.close();
  }
}

Deno.test("a shaped link holds the viewer to its rate, and setRate() changes it while bytes flow", async () => {
  await withShapedLink({ rateBitsPerSecond: 600_000 }, async (link) => {
    // 150 KiB at 0.6 Mbit/s takes about 2 s (less the 16 KiB burst); unshaped veth takes ~ms.
    const slow = await transfer(link, 150 * 1024);
    ok(slow > 1_400, `150 KiB at 0.6 Mbit/s arrived in ${slow.toFixed(0)} ms`);
    await link.setRate(20_000_000);
    equal(link.rateBitsPerSecond, 20_000_000);
    const fast = await transfer(link, 150 * 1024);
    ok(fast < slow / 2, `150 KiB at 20 Mbit/s took ${fast.toFixed(0)} ms (0.6: ${slow})`);
    ok(await link.sentBytes() > 300 * 1024);
  });
  deepEqual(await mine(), []);
});
