/**
 * Chat end to end, the reference demo: two in-process clients and one real CLI join, list, chat
 * and leave as the transcript shows.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { connectClient, startCli, startServer } from "./_helpers.ts";

Deno.test("chat replays the reference demo with two in-process clients and one real CLI", async () => {
  const server = await startServer({ waitReady: true });
  try {
    // client1 is the real CLI, driven through stdin and stdout.
    const client1 = await startCli(server.port, "client1");
    await client1.type("LIST");
    await client1.out.waitFor(/testcard/, { timeoutMs: 30_000 });

    const client2 = await connectClient(server.port, "client2");
    const client3 = await connectClient(server.port, "client3");
    deepEqual(client3.session.peers.names(), ["client1", "client2"]);
    await client1.out.waitFor(/^\* client2 joined$/);
    await client1.out.waitFor(/^\* client3 joined$/);

    await client2.session.sendText("client1", "Hi, I am client2");
    await client1.out.waitFor(/^<client2> Hi, I am client2$/);
    equal(client3.events.filter((e) => e.kind === "message").length, 0);

    await client1.type("QUIT");
    equal(await client1.finish(), 0);
    await Deno.remove(client1.home, { recursive: true });
    await client2.waitFor((e) => e.kind === "left" && e.name === "client1");
    await client3.waitFor((e) => e.kind === "left" && e.name === "client1");
    ok(!client2.session.peers.has("client1"));
    await client2.session.quit();
    await client3.session.quit();
  } finally {
    await server.stop();
  }
});
