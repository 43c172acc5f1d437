import { deepEqual, equal, notDeepEqual, ok, rejects, throws } from "node:assert/strict";
import { KnownPeers } from "./known_peers.ts";
import { knownPeersFile, loadIdentity, loadOrCreateIdentity, replayFile } from "./identity.ts";
import { ReplayGuard } from "../protocol/replay.ts";
import type { Identity } from "../protocol/e2e.ts";

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_identity_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Both public keys as SPKI bytes. */
async function spki(identity: Identity): Promise<number[][]> {
  return await Promise.all(
    [identity.enc.publicKey, identity.sign.publicKey].map(async (key) => [
      ...new Uint8Array(await crypto.subtle.exportKey("spki", key)),
    ]),
  );
}

/** Proves the private keys pair with the public ones. */
async function assertUsable(identity: Identity): Promise<void> {
  const data = new TextEncoder().encode("challenge");
  const signature = await crypto.subtle.sign("Ed25519", identity.sign.privateKey, data);
  ok(await crypto.subtle.verify("Ed25519", identity.sign.publicKey, signature, data));
  const sealed = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, identity.enc.publicKey, data);
  const opened = await crypto.subtle.decrypt(
    { name: "RSA-OAEP" },
    identity.enc.privateKey,
    sealed,
  );
  deepEqual(new Uint8Array(opened), data);
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test("loadOrCreateIdentity() creates a 0600 file under identities/, then loads the same keys", async () => {
  await withTempDir(async (dir) => {
    const first = await loadOrCreateIdentity("alice", { dir });
    equal(first.created, true);
    deepEqual(names(`${dir}/identities`), ["alice.json"]);
    const path = `${dir}/identities/alice.json`;
    equal(Deno.statSync(path).mode! & 0o777, 0o600);
    equal(Deno.statSync(`${dir}/identities`).mode! & 0o077, 0);

    const second = await loadOrCreateIdentity("alice", { dir });
    equal(second.created, false);
    deepEqual(await spki(second.identity), await spki(first.identity));
    await assertUsable(second.identity);
    // Nothing new was written.
    deepEqual(names(`${dir}/identities`), ["alice.json"]);
  });
});

Deno.test("loadOrCreateIdentity() gives each name its own keys", async () => {
  await withTempDir(async (dir) => {
    const alice = await loadOrCreateIdentity("alice", { dir });
    const bob = await loadOrCreateIdentity("bob", { dir });
    notDeepEqual(await spki(alice.identity), await spki(bob.identity));
    deepEqual(names(`${dir}/identities`), ["alice.json", "bob.json"]);
  });
});

Deno.test("loadOrCreateIdentity() writes nothing when ephemeral", async () => {
  await withTempDir(async (dir) => {
    const first = await loadOrCreateIdentity("alice", { dir, ephemeral: true });
    const second = await loadOrCreateIdentity("alice", { dir, ephemeral: true });
    equal(first.created, true);
    equal(second.created, true);
    notDeepEqual(await spki(first.identity), await spki(second.identity));
    await assertUsable(first.identity);
    deepEqual(names(dir), []);
  });
});

Deno.test("loadOrCreateIdentity() keeps odd names to one safe file name inside identities/", async () => {
  const odd = [
    "..",
    ".",
    "../evil",
    "a/b",
    "/etc/passwd",
    "alice.bob",
    "a b",
    "名前",
    "%2E%2E",
    "x\\y",
  ];
  await withTempDir(async (dir) => {
    for (const name of odd) await loadOrCreateIdentity(name, { dir });
    const files = names(`${dir}/identities`);
    equal(files.length, odd.length, files.join(" | "));
    for (const file of files) {
      ok(!file.includes("/"), file);
      ok(!file.includes(".."), file);
      ok(file.endsWith(".json"), file);
      ok(!file.slice(0, -".json".length).includes("."), file);
    }
    // Nothing escaped the folder.
    deepEqual(names(dir), ["identities"]);
    // Each name loads back its own file.
    for (const name of odd) equal((await loadOrCreateIdentity(name, { dir })).created, false, name);
  });
});

Deno.test("loadOrCreateIdentity() rejects a corrupt identity file with its path and a remedy", async () => {
  await withTempDir(async (dir) => {
    await loadOrCreateIdentity("alice", { dir });
    const path = `${dir}/identities/alice.json`;
    Deno.writeTextFileSync(path, "{ not json");
    await rejects(loadOrCreateIdentity("alice", { dir }), (error: unknown) => {
      ok(error instanceof SyntaxError, String(error));
      ok(error.message.includes(path), error.message);
      ok(error.message.includes(";"), error.message);
      return true;
    });
  });
});

Deno.test("knownPeersFile() round-trips the known-peers table with mode 0600", async () => {
  await withTempDir((dir) => {
    const storage = knownPeersFile("alice", dir);
    deepEqual(storage.load(), new Map());
    const table = new Map([
      ["bob", { fingerprint: "f1", verified: false }],
      ["名前", { fingerprint: "f2", verified: true }],
      ["__proto__", { fingerprint: "f3", verified: false }],
      ["constructor", { fingerprint: "f4", verified: true }],
    ]);
    storage.save(table);
    deepEqual(knownPeersFile("alice", dir).load(), table);
    deepEqual(knownPeersFile("carol", dir).load(), new Map());
    equal(Deno.statSync(`${dir}/known_peers/alice.json`).mode! & 0o777, 0o600);
    deepEqual(names(`${dir}/known_peers`), ["alice.json"]);
  });
});

Deno.test("knownPeersFile() backs KnownPeers across restarts", async () => {
  await withTempDir((dir) => {
    const first = new KnownPeers(knownPeersFile("../alice", dir));
    equal(first.check("bob", "f1"), "new");
    first.markVerified("bob");
    const second = new KnownPeers(knownPeersFile("../alice", dir));
    equal(second.check("bob", "f1"), "verified");
    equal(second.check("bob", "f2"), "changed");
    deepEqual(names(dir), ["known_peers"]);
  });
});

Deno.test("knownPeersFile().load() throws SyntaxError with its path and a remedy for a corrupt file", async () => {
  await withTempDir((dir) => {
    const storage = knownPeersFile("alice", dir);
    storage.save(new Map());
    const path = `${dir}/known_peers/alice.json`;
    const bad = ["{ not json", "[]", "null", '"x"', '{"bob":1}', '{"bob":{"fingerprint":2}}'];
    for (const text of bad) {
      Deno.writeTextFileSync(path, text);
      throws(() => storage.load(), (error: unknown) => {
        ok(error instanceof SyntaxError, `${text}: ${error}`);
        ok(error.message.includes(path), error.message);
        ok(error.message.includes("fix or delete it"), error.message);
        return true;
      });
    }
  });
});

Deno.test("replayFile() round-trips the replay guard's state with mode 0600 and backs ReplayGuard across restarts", async () => {
  await withTempDir((dir) => {
    const storage = replayFile("alice", dir);
    equal(storage.load(), undefined);
    const state = {
      floor: 5,
      seen: [["a1", 10, 11], ["b2", 20, 21]] as [string, number, number][],
    };
    storage.save(state);
    deepEqual(replayFile("alice", dir).load(), state);
    equal(replayFile("bob", dir).load(), undefined);
    equal(Deno.statSync(`${dir}/seen/alice.json`).mode! & 0o777, 0o600);
    const first = new ReplayGuard({ storage: replayFile("carol", dir) });
    first.check("id1", 1_000, 1_000);
    const second = new ReplayGuard({ storage: replayFile("carol", dir) });
    throws(() => second.check("id1", 1_000, 2_000), { code: "REPLAYED" });
  });
});

Deno.test("replayFile().load() throws SyntaxError with its path and a remedy for a corrupt file", async () => {
  await withTempDir((dir) => {
    const storage = replayFile("alice", dir);
    storage.save({ floor: 0, seen: [] });
    const path = `${dir}/seen/alice.json`;
    const bad = [
      "{",
      "[]",
      '{"floor":"x","seen":[]}',
      '{"floor":0,"seen":[["a",1]]}',
      '{"floor":0}',
    ];
    for (const text of bad) {
      Deno.writeTextFileSync(path, text);
      throws(() => storage.load(), (error: unknown) => {
        ok(error instanceof SyntaxError, `${text}: ${error}`);
        ok(error.message.includes(path), error.message);
        ok(error.message.includes("fix or delete it"), error.message);
        return true;
      });
    }
  });
});

Deno.test("loadIdentity() writes new keys only when save() is called (after the server accepted the name)", async () => {
  await withTempDir(async (dir) => {
    const made = await loadIdentity("alice", { dir });
    equal(made.created, true);
    deepEqual(names(`${dir}/identities`), [], "nothing on disk before save()");
    await made.save();
    deepEqual(names(`${dir}/identities`), ["alice.json"]);
    const again = await loadIdentity("alice", { dir });
    equal(again.created, false);
    deepEqual(await spki(again.identity), await spki(made.identity));
    await again.save();
    const ephemeral = await loadIdentity("bob", { dir, ephemeral: true });
    await ephemeral.save();
    deepEqual(names(`${dir}/identities`), ["alice.json"]);
  });
});
