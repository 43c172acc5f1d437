import { deepEqual, equal, ok } from "node:assert/strict";
import { encodeMessage, type Message } from "../../protocol/messages.ts";
import { Connection } from "./connection.ts";
import { deadline, readUntilEof, socketPair } from "../../tests/_util.ts";

// Corking and batching of Connection's writer, on real loopback sockets with the sanitizers on.

/** Counts the socket writes made through `conn`. */
function countWrites(conn: Deno.Conn): () => number {
  let writes = 0;
  const write = conn.write.bind(conn);
  conn.write = (bytes: Uint8Array) => {
    writes++;
    return write(bytes);
  };
  return () => writes;
}

const pings = (type: "ping" | "pong", count: number) =>
  Array.from({ length: count }, (_, id) => ({ type, id }));

Deno.test("Connection.batch() sends what it queued to each connection in one write", async () => {
  const a = await socketPair();
  const b = await socketPair();
  const writesA = countWrites(a.server);
  const writesB = countWrites(b.server);
  const connA = new Connection(a.server);
  const connB = new Connection(b.server);
  const joined = encodeMessage({ type: "joined", name: "carol" });
  const result = Connection.batch(() => {
    for (let id = 0; id < 50; id++) {
      connA.send({ type: "ping", id });
      connB.send({ type: "pong", id });
    }
    // One encoding, queued to both.
    connA.sendEncoded(joined);
    connB.sendEncoded(joined);
    equal(writesA() + writesB(), 0, "nothing leaves while the batch runs");
    return "done";
  });
  equal(result, "done");
  await deadline(Promise.all([connA.flush(), connB.flush()]));
  equal(writesA(), 1);
  equal(writesB(), 1);
  connA.close();
  connB.close();
  const [gotA, gotB] = await deadline(
    Promise.all([readUntilEof(a.client), readUntilEof(b.client)]),
  );
  a.client.close();
  b.client.close();
  deepEqual(gotA, [...pings("ping", 50), { type: "joined", name: "carol" }]);
  deepEqual(gotB, [...pings("pong", 50), { type: "joined", name: "carol" }]);
});

Deno.test("Connection.batch() keeps control ahead of media and uncorks when fn throws", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  let written: Promise<void> | undefined;
  let thrown = false;
  try {
    Connection.batch(() => {
      written = connection.sendMedia(1, { index: 0, data: new Uint8Array(1000) });
      connection.send({ type: "ping", id: 1 });
      throw new Error("handler failed");
    });
  } catch {
    thrown = true;
  }
  ok(thrown);
  await deadline(written!);
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  deepEqual(messages.map((m) => m.type), ["ping", "media"]);
});

Deno.test("Connection.batch() nested in another joins the outer one", async () => {
  const { server, client } = await socketPair();
  const writes = countWrites(server);
  const connection = new Connection(server);
  Connection.batch(() => {
    Connection.batch(() => connection.send({ type: "ping", id: 0 }));
    equal(writes(), 0, "the inner batch does not uncork");
    connection.send({ type: "ping", id: 1 });
  });
  await deadline(connection.flush());
  equal(writes(), 1);
  connection.close();
  deepEqual(await deadline(readUntilEof(client)), pings("ping", 2));
  client.close();
});

Deno.test("Connection.cork() holds frames until the last uncork(); flush() writes them anyway", async () => {
  const { server, client } = await socketPair();
  const writes = countWrites(server);
  const connection = new Connection(server);
  connection.cork();
  connection.cork();
  connection.send({ type: "ping", id: 0 });
  connection.uncork();
  await new Promise((resolve) => setTimeout(resolve, 10));
  equal(writes(), 0, "still corked once");
  equal(connection.queuedBytes, encodeMessage({ type: "ping", id: 0 }).length);
  await deadline(connection.flush());
  equal(writes(), 1);
  connection.send({ type: "ping", id: 1 });
  connection.uncork();
  connection.uncork(); // One too many is ignored.
  await deadline(connection.flush());
  equal(writes(), 2);
  connection.close();
  deepEqual(await deadline(readUntilEof(client)), pings("ping", 2));
  client.close();
});

Deno.test("Connection.sendEncoded() counts toward the queue bound while corked", async () => {
  const { server, client } = await socketPair();
  const frame = encodeMessage({ type: "ping", id: 1 });
  const connection = new Connection(server, { maxQueuedControlBytes: frame.length });
  connection.cork();
  equal(connection.sendEncoded(frame), true);
  equal(connection.sendEncoded(frame), false);
  equal(connection.closed, true);
  equal(connection.sendEncoded(frame), false);
  deepEqual(await deadline(readUntilEof(client)), []);
  client.close();
});

Deno.test("Connection.readBatches() yields the messages of one read together", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const frames = pings("ping", 20).map(encodeMessage);
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (bytes.set(f, at), at + f.length), 0);
  // One small write arrives in one read on loopback.
  await client.write(bytes);
  client.close();
  const batches: Message[][] = [];
  await deadline((async () => {
    for await (const batch of connection.readBatches()) batches.push(batch);
  })());
  deepEqual(batches, [pings("ping", 20)]);
  connection.close();
});
