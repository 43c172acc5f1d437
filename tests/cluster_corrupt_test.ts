/**
 * Corrupt cluster state in Redis against real `serve --redis` nodes and real clients: a value the
 * node cannot use is named, with its key and what is wrong, to the client that tried to join and
 * once per interval in the node's log, never passed off as a lost connection. Issue 16, item 5.
 * @module
 */

import { equal, match, ok, rejects } from "node:assert/strict";
import { startCluster } from "./_cluster.ts";
import { startCli } from "./_helpers.ts";
import { redisCommand } from "./_redis.ts";

const CORRUPT_SEQ = /Redis key "peerstream:seq" holds "abc", not a number; repair or delete it/;

Deno.test("cluster: a non-integer sequence key in Redis is named to the joining client and logged once, not called a lost connection", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const node = cluster.nodes[0];
  try {
    const alice = await startCli(node.port, "alice");
    equal(await redisCommand(cluster.redis.port, ["SET", "peerstream:seq", "abc"]), "OK");
    for (const name of ["bob", "carol", "dave"]) {
      const cli = await startCli(node.port, name, { waitJoined: false });
      const code = await cli.finish();
      ok(code !== 0, `${name} exited ${code}`);
      const said = cli.err.lines.join("\n");
      match(said, CORRUPT_SEQ);
      ok(!/lost its connection/.test(said), said);
    }
    // The other node says the same.
    const erin = await startCli(cluster.nodes[1].port, "erin", { waitJoined: false });
    ok((await erin.finish()) !== 0);
    match(erin.err.lines.join("\n"), CORRUPT_SEQ);
    // A node started now says why it cannot join the cluster.
    await rejects(
      cluster.startNode(2),
      /error: Cannot join the cluster at redis:\/\/127\.0\.0\.1:\d+: Redis key "peerstream:seq" holds "abc", not a number; repair or delete it/,
    );
    // Repaired, joins work again; the join in the log closes the window for more complaints.
    equal(await redisCommand(cluster.redis.port, ["SET", "peerstream:seq", "100"]), "OK");
    const frank = await startCli(node.port, "frank");
    await node.out.waitFor(/join #\d+ "frank"/);
    // One complaint in the interval; each refused connection keeps its usual "reject" line.
    const logged = [...node.out.lines, ...node.err.lines].filter((l) =>
      / cluster: /.test(l) && CORRUPT_SEQ.test(l)
    );
    equal(logged.length, 1, logged.join("\n"));
    await alice.type("QUIT");
    await frank.type("QUIT");
    equal(await alice.finish(), 0);
    equal(await frank.finish(), 0);
  } finally {
    await cluster.stop();
  }
});
