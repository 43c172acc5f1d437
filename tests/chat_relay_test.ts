/**
 * Chat end to end, the relay: end-to-end encrypted messages between real clients through a real
 * server that cannot read them, and every misuse (unknown peers, tampering, a man in the middle,
 * oversized or forged messages) refused with its code while the others carry on.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import {
  type ClientEvent,
  connectClient,
  startCli,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { connectSession } from "../client/connect.ts";
import { generateIdentity, seal } from "../protocol/e2e.ts";
import { MAX_TEXT_BYTES, type Message } from "../protocol/messages.ts";
import { concatBytes, containsBytes, deadline } from "./_util.ts";
import {
  hasCode,
  messagesOf,
  MitmProxy,
  peerKeysOf,
  quitAll,
  RawClient,
  SEND_MS,
  waitForNew,
  warningsOf,
  withBody,
} from "./_chat.ts";

Deno.test("chat relays end-to-end encrypted messages and rejects misuse", async (t) => {
  const server = await startServer();
  const port = server.port;
  try {
    await t.step(
      "ClientSession.register() gets NAME_TAKEN for a name online, then registers another on the same connection",
      async () => {
        const alice = await connectClient(port, "alice");
        const session = await connectSession({ hostname: "127.0.0.1", port });
        try {
          const identity = await generateIdentity();
          await rejects(session.register("alice", identity), hasCode("NAME_TAKEN"));
          const welcome = await session.register("alice2", identity);
          equal(welcome.name, "alice2");
          deepEqual(welcome.peers, ["alice"]);
          equal(session.name, "alice2");
          await alice.waitFor((e) => e.kind === "joined" && e.name === "alice2");
          // The registration is real: the session can message right away.
          await deadline(session.sendText("alice", "hello from alice2"), SEND_MS, "sendText");
          deepEqual(messagesOf(alice), ["hello from alice2"]);
        } finally {
          await session.quit();
          await alice.session.quit();
        }
      },
    );

    await t.step(
      "ClientSession.register() and the server both refuse invalid names with NAME_INVALID",
      async () => {
        const invalid = ["bad name", "", "a/b", "n".repeat(33)];
        const identity = await generateIdentity();
        const session = await connectSession({ hostname: "127.0.0.1", port });
        try {
          for (const name of invalid) {
            await rejects(session.register(name, identity), hasCode("NAME_INVALID"), name);
          }
          // Exactly at the limit is fine, on the same connection.
          const welcome = await session.register("m".repeat(32), identity);
          equal(welcome.name, "m".repeat(32));
        } finally {
          await session.quit();
        }

        // The server enforces the rule itself: a raw hello skips the client's check. Two refusals
        // leave the connection usable; the third closes it.
        const raw = await RawClient.connect(port);
        try {
          await raw.hello(invalid[0], identity);
          for (const [i, name] of invalid.slice(0, 2).entries()) {
            if (i > 0) await raw.helloAgain(name, identity);
            const answer = await raw.next();
            equal(answer.type, "error", `server answer to ${JSON.stringify(name)}`);
            equal((answer as Extract<Message, { type: "error" }>).code, "NAME_INVALID", name);
          }
          await raw.helloAgain("rawvalid", await generateIdentity());
          const welcome = await raw.nextOf("welcome");
          equal(welcome.name, "rawvalid");
        } finally {
          await raw.close();
        }
        const closing = await RawClient.connect(port);
        try {
          await closing.hello(invalid[0], identity);
          for (const name of invalid.slice(1, 3)) await closing.helloAgain(name, identity);
          const errors = [await closing.next(), await closing.next(), await closing.next()];
          deepEqual(errors.map((e) => (e as Extract<Message, { type: "error" }>).code), [
            "NAME_INVALID",
            "NAME_INVALID",
            "NAME_INVALID",
          ]);
          ok(/closing after 3 refused hellos/.test((errors[2] as { message: string }).message));
          await rejects(closing.next(), /closed the connection/);
        } finally {
          await closing.close();
        }
      },
    );

    await t.step(
      "a name stays bound to its key after its owner leaves; only that key can take it back",
      async () => {
        const owner = await connectClient(port, "boundname");
        const watcher = await connectClient(port, "boundwatch");
        const identity = owner.identity;
        await owner.session.quit();
        await watcher.waitFor((e) => e.kind === "left" && e.name === "boundname");
        const thief = await connectSession({ hostname: "127.0.0.1", port });
        let back: TestClient | undefined;
        try {
          await rejects(
            thief.register("boundname", await generateIdentity()),
            (error: unknown) => hasCode("NAME_TAKEN")(error) && /another key/.test(`${error}`),
          );
          back = await connectClient(port, "boundname", { identity });
          equal(back.session.name, "boundname");
          // The watcher joined after the owner, so this is the owner coming back.
          await watcher.waitFor((e) => e.kind === "joined" && e.name === "boundname");
        } finally {
          await thief.quit();
          await quitAll([back, watcher]);
        }
      },
    );

    await t.step(
      "ClientSession.sendText() rejects for an unknown peer, a peer who left, and a recipient who leaves before confirming",
      async () => {
        const alice = await connectClient(port, "u-alice");
        // Ephemeral: a bound peer who left is queued for (tests/offline_test.ts).
        const bob = await connectClient(port, "u-bob", { ephemeral: true });
        const raw = await RawClient.connect(port);
        try {
          await rejects(
            deadline(alice.session.sendText("nosuchpeer", "hi"), SEND_MS, "sendText"),
            hasCode("UNKNOWN_PEER"),
          );

          await bob.session.quit();
          await alice.waitFor((e) => e.kind === "left" && e.name === "u-bob");
          await rejects(
            deadline(alice.session.sendText("u-bob", "are you there?"), SEND_MS, "sendText"),
            hasCode("PEER_OFFLINE", "UNKNOWN_PEER"),
          );

          // A recipient that receives the message but never confirms it, then leaves.
          await raw.hello("u-silent", await generateIdentity());
          await raw.nextOf("welcome");
          await alice.waitFor((e) => e.kind === "joined" && e.name === "u-silent");
          const outcome = deadline(
            alice.session.sendText("u-silent", "will you confirm?"),
            SEND_MS,
            "sendText",
          ).then(() => undefined, (error: unknown) => error);
          const deliver = await raw.nextOf("deliver");
          equal(deliver.from, "u-alice");
          await raw.close();
          const error = await outcome;
          ok(error !== undefined, "the sender's promise must reject, not resolve");
          hasCode("PEER_OFFLINE")(error);
        } finally {
          await raw.close();
          await quitAll([alice, bob]);
        }
      },
    );

    await t.step(
      "ClientSession.sendText() delivers only to its recipient and resolves after the recipient has it",
      async () => {
        const alice = await connectClient(port, "d-alice");
        const bob = await connectClient(port, "d-bob");
        const carol = await connectClient(port, "d-carol");
        try {
          await alice.waitFor((e) => e.kind === "joined" && e.name === "d-carol");
          await bob.waitFor((e) => e.kind === "joined" && e.name === "d-carol");
          const carolBytes = carol.session.bytesRead;
          for (const text of ["first", "second, with ünïcödé ✓", "third"]) {
            await deadline(alice.session.sendText("d-bob", text), SEND_MS, "sendText");
            // Resolved only once bob's client accepted it: bob's event already fired.
            equal(messagesOf(bob).at(-1), text);
          }
          deepEqual(messagesOf(bob), ["first", "second, with ünïcödé ✓", "third"]);
          const fromAlice = bob.events.flatMap((e) => e.kind === "message" ? [e.message] : []);
          ok(fromAlice.every((m) => m.from === "d-alice"));
          // Carol's client got no bytes at all: nothing was broadcast.
          equal(carol.session.bytesRead, carolBytes);
          deepEqual(messagesOf(carol), []);
          deepEqual(messagesOf(alice), []);
        } finally {
          await quitAll([alice, bob, carol]);
        }
      },
    );

    await t.step(
      "a recipient rejects a forged sender, tampered ciphertext and a replay with a warning, and the sender is told",
      async () => {
        const proxy = new MitmProxy(port);
        const bob = await connectClient(port, "f-bob");
        const alice = await connectClient(port, "f-alice");
        let mallory: TestClient | undefined;
        let sender: TestClient | undefined;
        try {
          mallory = await connectClient(proxy.port, "f-mallory");
          sender = await connectClient(proxy.port, "f-sender");
          const bobKeys = await peerKeysOf(bob.identity);

          // Forged sender: mallory signs with her own key an envelope claiming to be from alice.
          const forged = await seal("I am alice, send me money", {
            from: "f-alice",
            to: "f-bob",
            identity: mallory.identity,
            recipient: bobKeys,
          });
          proxy.rewrite = (m, frame) => m.type === "send" ? [withBody(m, forged)] : [frame];
          let from = bob.events.length;
          await rejects(
            deadline(mallory.session.sendText("f-bob", "innocent"), SEND_MS, "sendText"),
            hasCode("BAD_SIGNATURE"),
          );
          deepEqual(warningsOf(bob, from), ["BAD_SIGNATURE"]);
          deepEqual(messagesOf(bob, from), []);

          // Tampered ciphertext: one byte of the envelope flipped on the way.
          proxy.rewrite = (m, frame) => {
            if (m.type !== "send") return [frame];
            const body = m.body.slice();
            body[Math.floor(body.length / 2)] ^= 0x01;
            return [withBody(m, body)];
          };
          from = bob.events.length;
          await rejects(
            deadline(sender.session.sendText("f-bob", "tamper with me"), SEND_MS, "sendText"),
            hasCode("BAD_SIGNATURE", "DECRYPT_FAILED", "BAD_MESSAGE"),
          );
          equal(warningsOf(bob, from).length, 1);
          ok(["BAD_SIGNATURE", "DECRYPT_FAILED", "BAD_MESSAGE"].includes(warningsOf(bob, from)[0]));
          deepEqual(messagesOf(bob, from), []);

          // Replay: the same send frame twice; the first is shown, the second refused.
          proxy.rewrite = (m, frame) => m.type === "send" ? [frame, frame] : [frame];
          from = bob.events.length;
          const senderFrom = sender.events.length;
          await deadline(sender.session.sendText("f-bob", "say it once"), SEND_MS, "sendText");
          await waitForNew(bob, from, (e) => e.kind === "warning");
          deepEqual(messagesOf(bob, from), ["say it once"]);
          deepEqual(warningsOf(bob, from), ["REPLAYED"]);
          // The duplicate's rejection reaches the sender too; it is not silent.
          const told = await waitForNew(sender, senderFrom, (e) => e.kind === "server-error");
          equal((told as Extract<ClientEvent, { kind: "server-error" }>).code, "REPLAYED");

          // Replay of an old envelope under a new request: that request rejects with REPLAYED.
          let recorded: Uint8Array | undefined;
          proxy.rewrite = (m, frame) => {
            if (m.type !== "send") return [frame];
            if (recorded === undefined) {
              recorded = m.body.slice();
              return [frame];
            }
            return [withBody(m, recorded)];
          };
          from = bob.events.length;
          await deadline(sender.session.sendText("f-bob", "original"), SEND_MS, "sendText");
          await rejects(
            deadline(sender.session.sendText("f-bob", "something new"), SEND_MS, "sendText"),
            hasCode("REPLAYED"),
          );
          deepEqual(messagesOf(bob, from), ["original"]);
          deepEqual(warningsOf(bob, from), ["REPLAYED"]);
          proxy.rewrite = undefined;
        } finally {
          await quitAll([mallory, sender, alice, bob]);
          await proxy.close();
        }
      },
    );

    await t.step(
      "the server never sees plaintext: no captured byte in either direction holds it",
      async () => {
        const proxy = new MitmProxy(port);
        let alice: TestClient | undefined;
        let bob: TestClient | undefined;
        try {
          alice = await connectClient(proxy.port, "p-alice");
          bob = await connectClient(proxy.port, "p-bob");
          const marker = `zebra-${crypto.randomUUID()}`;
          const short = `Meet me at the ${marker} tonight`;
          let long = "";
          while (long.length < 60 * 1024) long += `line ${long.length} of the secret ${marker}\n`;
          long = long.slice(0, 60 * 1024);
          const distinctive = long.slice(30_000, 30_064);

          await deadline(alice.session.sendText("p-bob", short), SEND_MS, "sendText");
          await deadline(alice.session.sendText("p-bob", long), SEND_MS, "sendText");
          await deadline(bob.session.sendText("p-alice", short), SEND_MS, "sendText");
          deepEqual(messagesOf(bob), [short, long]);
          deepEqual(messagesOf(alice), [short]);

          const captured = proxy.allBytes();
          equal(proxy.links.length, 2);
          const upTotal = concatBytes(proxy.links[0].up).length;
          ok(upTotal > 60 * 1024, `the proxy saw the sealed long message (${upTotal} bytes up)`);
          const encoder = new TextEncoder();
          // Control: the search does find what is on the wire in clear (the routing).
          ok(containsBytes(concatBytes(proxy.links[0].up), encoder.encode('"to":"p-bob"')));
          for (const secret of [short, marker, long, distinctive]) {
            const needle = encoder.encode(secret);
            for (const bytes of captured) {
              ok(!containsBytes(bytes, needle), `plaintext ${secret.slice(0, 40)}... on the wire`);
            }
          }
        } finally {
          await quitAll([alice, bob]);
          await proxy.close();
        }
      },
    );

    await t.step(
      "ClientSession.sendText() carries exactly MAX_TEXT_BYTES and refuses one byte more locally",
      async () => {
        const alice = await connectClient(port, "l-alice");
        const bob = await connectClient(port, "l-bob");
        try {
          equal(MAX_TEXT_BYTES, 64 * 1024);
          const ascii = "a".repeat(MAX_TEXT_BYTES);
          const wide = "ü".repeat(MAX_TEXT_BYTES / 2);
          equal(new TextEncoder().encode(wide).length, MAX_TEXT_BYTES);
          await deadline(alice.session.sendText("l-bob", ascii), SEND_MS, "sendText");
          await deadline(alice.session.sendText("l-bob", wide), SEND_MS, "sendText");
          deepEqual(messagesOf(bob), [ascii, wide]);

          const from = bob.events.length;
          const bobBytes = bob.session.bytesRead;
          for (const text of [`${ascii}b`, `${wide}b`]) {
            await rejects(
              deadline(alice.session.sendText("l-bob", text), SEND_MS, "sendText"),
              (error: unknown) =>
                hasCode("MESSAGE_TOO_LARGE")(error) && /65537 bytes/.test(`${error}`),
            );
          }
          equal(bob.session.bytesRead, bobBytes, "the recipient was not contacted");
          // A marker sent afterwards is the only thing the recipient sees.
          await deadline(alice.session.sendText("l-bob", "marker"), SEND_MS, "sendText");
          deepEqual(messagesOf(bob, from), ["marker"]);
          deepEqual(warningsOf(bob, from), []);
        } finally {
          await quitAll([alice, bob]);
        }
      },
    );

    await t.step(
      "peers are told who joined and who left after QUIT, a dropped connection and a killed CLI",
      async () => {
        const watcher = await connectClient(port, "j-watcher");
        let cliHome: string | undefined;
        try {
          const quitter = await connectClient(port, "j-quitter");
          await watcher.waitFor((e) => e.kind === "joined" && e.name === "j-quitter");
          await quitter.session.quit();
          const quit = await watcher.waitFor((e) => e.kind === "left" && e.name === "j-quitter");
          deepEqual(quit, { kind: "left", name: "j-quitter", reason: "quit" });

          const dropper = await connectClient(port, "j-dropper");
          await watcher.waitFor((e) => e.kind === "joined" && e.name === "j-dropper");
          dropper.session.close();
          await dropper.session.done;
          const dropped = await watcher.waitFor((e) => e.kind === "left" && e.name === "j-dropper");
          deepEqual(dropped, { kind: "left", name: "j-dropper", reason: "disconnected" });

          const cli = await startCli(port, "j-cli");
          cliHome = cli.home;
          await watcher.waitFor((e) => e.kind === "joined" && e.name === "j-cli");
          cli.child.kill("SIGKILL");
          ok((await cli.finish()) !== 0);
          const killed = await watcher.waitFor((e) => e.kind === "left" && e.name === "j-cli");
          deepEqual(killed, { kind: "left", name: "j-cli", reason: "disconnected" });
          ok(!watcher.session.peers.has("j-cli"));
          deepEqual(watcher.session.peers.names(), []);
        } finally {
          await watcher.session.quit();
          if (cliHome !== undefined) await Deno.remove(cliHome, { recursive: true });
        }
      },
    );

    await t.step(
      "server shutdown (SIGTERM) tells clients before closing and the server exits 0",
      async () => {
        const a = await connectClient(port, "s-a");
        const b = await connectClient(port, "s-b");
        try {
          await a.waitFor((e) => e.kind === "joined" && e.name === "s-b");
          equal(await server.stop(), 0);
          for (const client of [a, b]) {
            const closed = await client.waitFor((e) => e.kind === "closed");
            await client.session.done;
            const kinds = client.events.map((e) => e.kind);
            const shutdownAt = kinds.indexOf("shutdown");
            ok(shutdownAt >= 0, `no shutdown event: ${kinds}`);
            ok(shutdownAt < kinds.indexOf("closed"), "shutdown comes before closed");
            equal(kinds.filter((k) => k === "closed").length, 1);
            ok((closed as Extract<ClientEvent, { kind: "closed" }>).expected);
          }
          ok(server.out.lines.some((l) => /shutting down/.test(l)));
        } finally {
          await quitAll([a, b]);
        }
      },
    );
  } finally {
    await server.stop();
  }
});
