/**
 * Robustness end to end, bad input: every row of `tests/_bad_inputs.ts` (framing, messages,
 * names, keys, titles, rates) sent to a real server is answered with its error code, closes the
 * connection or leaves it working as the row says, and is logged once per connection; frames
 * that need no answer get none, a silent connection times out, and a bystander notices nothing.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { badInputRows, type Row } from "./_bad_inputs.ts";
import { connectClient, startServer } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
import { identity } from "./_robustness.ts";

Deno.test("server answers each bad input with its error code and logs it once per connection", async () => {
  // A small sealed-body limit makes MESSAGE_TOO_LARGE reachable below the frame's own body cap;
  // a small rate makes RATE_LIMITED quick to reach; a short handshake makes HANDSHAKE_TIMEOUT so.
  const server = await startServer({
    waitReady: true,
    env: {
      PEERSTREAM_LIMITS: JSON.stringify({
        maxSealedBytes: 8192,
        messagesPerSecond: 100,
        messageBurst: 200,
        handshakeMs: 2500,
        // Every row connects from 127.0.0.1 and most say hello with one of two keys.
        hellosPerAddressPerSecond: 1000,
        helloBurstPerAddress: 1000,
        maxNamesPerKey: 1000,
        newNamesPerAddressPerDay: 1000,
        // Each row's log lines are checked, so none may be rate-limited away.
        logLineBurst: 10_000,
      }),
    },
  });
  const owner = await connectClient(server.port, "owner");
  const other = await generateIdentity();
  const otherKeys = await (await import("../protocol/e2e.ts")).exportPublicKeys(other);
  const rows = badInputRows(otherKeys);
  ok(rows.length >= 30, `${rows.length} rows`);

  const portToRow = new Map<number, Row>();
  try {
    for (const row of rows) {
      const c = await RawClient.connect(server.port);
      portToRow.set(c.localPort, row);
      try {
        if (row.state === "registered") await c.register(`r${portToRow.size}`, await identity());
        await row.setup?.(c);
        const from = c.messages.length;
        const bytes = await row.input(c);
        // A refused hello may be retried on the same connection, but the third refusal closes it.
        const times = row.closes ? 1 : row.repeat ?? (row.state === "greeting" ? 2 : 50);
        for (let i = 0; i < times; i++) await c.write(bytes);
        const error = await c.nextError(from).catch((e) => {
          throw new Error(`${row.name}: ${(e as Error).message}`);
        });
        equal(error.code, row.code, `${row.name}: ${JSON.stringify(error)}`);
        ok(
          error.message.length > 10 && !/\n\s+at /.test(error.message),
          `${row.name}: ${error.message}`,
        );
        if (row.closes) {
          ok(await c.waitClosed(3000), `${row.name}: the server should close the connection`);
        } else if (row.state === "greeting") {
          // The connection can still register after the refused hellos.
          const errors = () => c.messages.slice(from).filter((x) => x.type === "error").length;
          await c.next(() => errors() >= times);
          await c.register(`ok${portToRow.size}`, await identity());
          ok(!c.closed, row.name);
        } else {
          // The connection still works after the bad input.
          await c.write({ type: "list", id: 4242 });
          await c.next((x) => "re" in x && x.re === 4242, { from }).catch((e) => {
            throw new Error(`${row.name}: no pong after the bad input: ${(e as Error).message}`);
          });
          ok(!c.closed, row.name);
        }
      } finally {
        c.close();
        await c.done;
      }
    }
    // Frames ignored without an answer: seg-ack of an unknown stream, receipt of a random rid.
    const quiet = await RawClient.connect(server.port);
    await quiet.register("quiet", await identity());
    const from = quiet.messages.length;
    await quiet.write(
      { type: "seg-ack", streamId: 77, epoch: 0, index: 3 },
      { type: "receipt", rid: "r987654", ok: true },
      { type: "receipt", rid: "r1", ok: false, code: "DECRYPT_FAILED" },
      { type: "ping", id: 1 },
    );
    await quiet.next((x) => x.type === "pong", { from });
    deepEqual(quiet.messages.slice(from).map((x) => x.type), ["pong"]);
    quiet.close();
    await quiet.done;

    // A connection that never says hello is dropped with HANDSHAKE_TIMEOUT.
    const silent = await RawClient.connect(server.port);
    const timeout = await silent.nextError(0, 6000);
    equal(timeout.code, "HANDSHAKE_TIMEOUT");
    ok(await silent.waitClosed(2000));
    await silent.done;

    // The owner saw nothing of all this but its own peers coming and going.
    ok(
      owner.events.every((e) => e.kind === "joined" || e.kind === "left"),
      JSON.stringify(owner.events),
    );
    await owner.session.quit();

    // The log: each rejection once per connection, and no internal errors.
    await server.out.waitFor(/leave #\d+ "owner"/);
    const idToRow = new Map<string, Row>();
    for (const line of server.out.lines) {
      const c = /connect #(\d+) 127\.0\.0\.1:(\d+)/.exec(line);
      if (c && portToRow.has(Number(c[2]))) idToRow.set(c[1], portToRow.get(Number(c[2]))!);
    }
    equal(idToRow.size, rows.length);
    for (const [id, row] of idToRow) {
      const pattern = row.closes
        ? new RegExp(`(disconnect|leave) #${id} .*\\(.*${row.code}`)
        : new RegExp(`reject #${id}\\b.*: ${row.code}:`);
      const lines = server.out.lines.filter((l) => pattern.test(l));
      equal(lines.length, 1, `${row.name}: expected one log line, got ${lines.join("\n")}`);
    }
    const internal = server.out.lines.filter((l) => /internal error/i.test(l));
    deepEqual(internal, []);
  } finally {
    await server.stop();
  }
});
