/**
 * Trust end to end: names stay with their keys (across leaves, restarts, until released), a
 * dishonest server swapping keys is noticed (trust on first use), and TLS works and fails clearly.
 * @module
 */

import { equal, ok, rejects } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { decodeMessage, encodeMessage, type Message } from "../protocol/messages.ts";
import type { ClientSession } from "../client/session.ts";
import { connectSession } from "../client/connect.ts";
import { KnownPeers } from "../client/known_peers.ts";
import {
  type ClientEvent,
  connectClient,
  PROGRAM_PERMISSIONS,
  startCli,
  startServer,
} from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
import { deadline, until, writeAll } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e) => e);
  ok(error instanceof PeerstreamError, `expected a refusal, got ${error}`);
  return error.code;
}

Deno.test("a registered name cannot be taken by another key: online, after leaving, after a restart; --release frees it, even while the server runs", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-names-" });
  const [alice, mallory] = await Promise.all([generateIdentity(), generateIdentity()]);
  let server = await startServer({ args: ["--data", data] });
  try {
    const owner = await connectClient(server.port, "alice", { identity: alice });
    // Online, and after leaving.
    equal(await refusal(connectClient(server.port, "alice", { identity: mallory })), "NAME_TAKEN");
    await owner.session.quit();
    await server.out.waitFor(/leave #\d+ "alice"/);
    equal(await refusal(connectClient(server.port, "alice", { identity: mallory })), "NAME_TAKEN");
    // A client that cannot sign the challenge with the key it claims.
    const raw = await RawClient.connect(server.port);
    const aliceKeys = await exportPublicKeys(alice);
    await raw.hello("alice", mallory, { signKey: aliceKeys.signKey, encKey: aliceKeys.encKey });
    equal((await raw.nextError()).code, "KEY_INVALID");
    await raw.hello("alice", alice, { proof: btoa("not a signature, not at all, no".repeat(2)) });
    equal((await raw.nextError(1)).code, "KEY_INVALID");
    raw.close();
    await raw.done;
    await server.stop();

    // After a restart with the same --data: still alice's.
    ok(JSON.parse(await Deno.readTextFile(`${data}/names.json`)).alice);
    server = await startServer({ args: ["--data", data] });
    equal(await refusal(connectClient(server.port, "alice", { identity: mallory })), "NAME_TAKEN");
    const back = await connectClient(server.port, "alice", { identity: alice });
    await back.session.quit();
    await server.stop();

    // The operator releases the name; then any key may take it.
    const release = (name: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...PROGRAM_PERMISSIONS,
          `${ROOT}main.ts`,
          "serve",
          "--release",
          name,
          "--data",
          data,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const released = await release("alice");
    equal(released.code, 0);
    const said = new TextDecoder().decode(released.stdout);
    ok(
      /^Released "alice": any key may register it now; no server runs on this folder/.test(said),
      said,
    );
    const unknown = await release("nobody");
    equal(unknown.code, 1);
    ok(/no key owns that name/.test(new TextDecoder().decode(unknown.stderr)));
    server = await startServer({ args: ["--data", data] });
    const taken = await connectClient(server.port, "alice", { identity: mallory });
    await taken.session.quit();

    // A release while the server runs: the command returns once the server applied it, so
    // alice's own key takes the name back from mallory at once, and later saves keep it that way.
    equal(await refusal(connectClient(server.port, "alice", { identity: alice })), "NAME_TAKEN");
    const live = await release("alice");
    equal(live.code, 0, new TextDecoder().decode(live.stderr));
    const told = new TextDecoder().decode(live.stdout);
    ok(/^Released "alice": the running server \(pid \d+\) applied it/.test(told), told);
    const again = await connectClient(server.port, "alice", { identity: alice });
    const other = await connectClient(server.port, "newcomer", { identity: mallory });
    await Promise.all([again.session.quit(), other.session.quit()]);
    await server.stop();
    server = await startServer({ args: ["--data", data] });
    equal(await refusal(connectClient(server.port, "alice", { identity: mallory })), "NAME_TAKEN");
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

/** A man-in-the-middle: forwards bytes, rewrites key-info for one name, can inject messages. */
function keySwappingProxy(target: number, swap: { name: string; encKey: string; signKey: string }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const toClients = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn, rewrite: boolean) => {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (!rewrite) {
          await writeAll(to, buffer.slice(0, n));
          continue;
        }
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          let message = decodeMessage(frame);
          if (message.type === "key-info" && message.name === swap.name) {
            message = { ...message, encKey: swap.encKey, signKey: swap.signKey };
          }
          await writeAll(to, encodeMessage(message));
        }
      }
    } catch {
      // Either side went away.
    } finally {
      for (const c of [from, to]) {
        try {
          c.close();
        } catch {
          // Closed.
        }
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      toClients.add(client);
      tasks.push(pipe(client, server, false), pipe(server, client, true));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    /** Sends a message to every client, as if from the server. */
    async inject(message: Message) {
      for (const c of toClients) await writeAll(c, encodeMessage(message));
    },
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const c of toClients) {
        try {
          c.close();
        } catch {
          // Closed.
        }
      }
      await Promise.all(tasks);
    },
  };
}

Deno.test("a server that swaps bob's key is caught: trust changed, sending refused until ACCEPT, forged messages marked", async () => {
  const server = await startServer();
  const [aliceId, bobId, malloryId] = await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ]);
  const malloryKeys = await exportPublicKeys(malloryId);
  const proxy = keySwappingProxy(server.port, { name: "bob", ...malloryKeys });
  const known = new KnownPeers();
  const bob = await connectClient(server.port, "bob", { identity: bobId });
  let alice: ClientSession | undefined;
  try {
    // Session 1, honest: alice learns bob's real key.
    const first = await connectSession({
      hostname: "127.0.0.1",
      port: server.port,
      knownPeers: known,
    });
    await first.register("alice", aliceId);
    await first.sendText("bob", "hello bob");
    equal((await first.peerKeys("bob")).trust, "new");
    await first.quit();
    await server.out.waitFor(/leave #\d+ "alice"/);

    // Session 2, through the dishonest path.
    const events: ClientEvent[] = [];
    alice = await connectSession({
      hostname: "127.0.0.1",
      port: proxy.port,
      knownPeers: known,
      events: {
        message: (message) => events.push({ kind: "message", message }),
        warning: (text, code) => events.push({ kind: "warning", text, code }),
      },
    });
    await alice.register("alice", aliceId);
    equal((await alice.peerKeys("bob")).trust, "changed");
    await rejects(
      alice.sendText("bob", "secret"),
      (e) =>
        e instanceof PeerstreamError && e.code === "KEY_CHANGED" && /ACCEPT bob/.test(e.message),
    );
    // Mallory, holding the swapped key, writes as "bob": the message verifies against the key the
    // server handed out, and is shown as unverified.
    const aliceKeys = await importPeerKeys(await exportPublicKeys(aliceId));
    const body = await seal("it's me, bob", {
      from: "bob",
      to: "alice",
      identity: malloryId,
      recipient: aliceKeys,
    });
    await proxy.inject({ type: "deliver", rid: "forged1", from: "bob", body });
    await until(() => events.length > 0, { ms: 20_000, what: "the forged message" });
    equal(events.length, 1, JSON.stringify(events));
    const got = events[0] as Extract<ClientEvent, { kind: "message" }>;
    equal(got.message.text, "it's me, bob");
    equal(got.message.trust, "changed");
    // ACCEPT lifts the refusal (the text now goes to mallory's key, which real bob cannot open).
    ok(alice.acceptKey("bob"));
    equal((await alice.peerKeys("bob")).trust, "known");
    const code = await refusal(alice.sendText("bob", "after accept"));
    equal(code, "DECRYPT_FAILED");
    await alice.quit();
    await bob.session.quit();
  } finally {
    alice?.close();
    await alice?.done;
    bob.session.close();
    await bob.session.done;
    await proxy.close();
    await server.stop();
  }
});

Deno.test("the CLI marks a message from a swapped key as <bob !UNVERIFIED KEY>", async () => {
  const server = await startServer();
  const [bobId, malloryId] = await Promise.all([generateIdentity(), generateIdentity()]);
  const proxy = keySwappingProxy(server.port, {
    name: "bob",
    ...(await exportPublicKeys(malloryId)),
  });
  const bob = await connectClient(server.port, "bob", { identity: bobId });
  try {
    // First run, direct: WHO remembers bob's real key in alice's known-peers file.
    const first = await startCli(server.port, "alice");
    await first.type("WHO");
    await first.out.waitFor(/^bob\s+.*\bnew$/);
    await first.type("QUIT");
    equal(await first.finish(), 0);
    await server.out.waitFor(/leave #\d+ "alice"/);
    // Second run, same home (same keys and known peers), through the proxy.
    const second = await startCli(proxy.port, "alice", { home: first.home });
    await second.type("WHO");
    await second.out.waitFor(/^bob\s+.*\bchanged$/);
    const aliceInfo = await bob.session.peerKeys("alice");
    const body = await seal("trust me", {
      from: "bob",
      to: "alice",
      identity: malloryId,
      recipient: aliceInfo,
    });
    await proxy.inject({ type: "deliver", rid: "forged2", from: "bob", body });
    await second.out.waitFor(/^<bob !UNVERIFIED KEY> trust me$/);
    await second.type("MSG bob hi");
    await second.err.waitFor(/key changed/);
    await second.type("QUIT");
    equal(await second.finish(), 0);
    await Deno.remove(first.home, { recursive: true });
    await bob.session.quit();
  } finally {
    bob.session.close();
    await bob.session.done;
    await proxy.close();
    await server.stop();
  }
});

async function makeCertificate(dir: string): Promise<{ cert: string; key: string; pem: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const result = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (result.code !== 0) throw new Error(new TextDecoder().decode(result.stderr));
  return { cert, key, pem: await Deno.readTextFile(cert) };
}

Deno.test("TLS: the happy path (session and CLI) and both mismatches fail clearly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-tls-" });
  const { cert, key, pem } = await makeCertificate(dir);
  const tlsServer = await startServer({ args: ["--tls-cert", cert, "--tls-key", key] });
  const plainServer = await startServer();
  try {
    ok(tlsServer.out.lines.some((l) => /^Listening on .*\(TLS\)$/.test(l)));
    // Happy path: two sessions chat over TLS.
    const connect = () =>
      connectSession({
        hostname: "127.0.0.1",
        port: tlsServer.port,
        tls: { caCerts: [pem] },
      });
    const [a, b] = await Promise.all([connect(), connect()]);
    await a.register("tlsa", await generateIdentity());
    const bId = await generateIdentity();
    await b.register("tlsb", bId);
    const cli = await startCli(tlsServer.port, "tlscli", {
      args: ["--player", "none", "--tls", "--ca", cert],
    });
    await a.sendText("tlscli", "over tls");
    await cli.out.waitFor(/^<tlsa> over tls$/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    await a.quit();
    await b.quit();
    await b.done;

    // A plain client to the TLS server: a clear error, not a hang (the greeting deadline is 5 s).
    const plain = await deadline(
      connectSession({ hostname: "127.0.0.1", port: tlsServer.port }).then(
        () => null,
        (e) => e as PeerstreamError,
      ),
      30_000,
      "a plain client's error",
    );
    ok(plain instanceof PeerstreamError);
    ok(/if it uses TLS, add --tls/.test(plain.message), plain.message);

    // A TLS client to a plain server: a clear error too.
    const tls = await deadline(
      connectSession({
        hostname: "127.0.0.1",
        port: plainServer.port,
        tls: { caCerts: [pem] },
      }).then(() => null, (e) => e as PeerstreamError),
      30_000,
      "a TLS client's error",
    );
    ok(tls instanceof PeerstreamError);
    ok(/may not use TLS; try without --tls/.test(tls.message), tls.message);

    // A TLS client that does not trust the certificate.
    const untrusted = await connectSession({
      hostname: "127.0.0.1",
      port: tlsServer.port,
      tls: {},
    })
      .then(() => null, (e) => e as PeerstreamError);
    ok(untrusted instanceof PeerstreamError);
    ok(/certificate|issuer/i.test(untrusted.message), untrusted.message);
  } finally {
    await tlsServer.stop();
    await plainServer.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
