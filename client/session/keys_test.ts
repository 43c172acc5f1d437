import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type PublicKeysText } from "../../protocol/e2e.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import type { KeyInfoMessage } from "../../protocol/messages.ts";
import { KnownPeers } from "../known_peers.ts";
import { KeyCache } from "./keys.ts";

const [one, two] = await Promise.all([
  generateIdentity().then(exportPublicKeys),
  generateIdentity().then(exportPublicKeys),
]);

/** A cache whose server answers each name with `keysOf(name)`, counting lookups. */
function cache(
  options: { maxKeys?: number; keysOf?: (name: string) => PublicKeysText; known?: KnownPeers } = {},
) {
  const lookups: string[] = [];
  const warnings: [string, ErrorCode][] = [];
  const keys = new KeyCache({
    known: options.known ?? new KnownPeers(),
    maxKeys: options.maxKeys ?? 1024,
    lookUp: (name): Promise<KeyInfoMessage> => {
      lookups.push(name);
      const k = (options.keysOf ?? (() => one))(name);
      return Promise.resolve({ type: "key-info", re: 1, name, online: true, ...k });
    },
    warning: (text, code) => warnings.push([text, code]),
  });
  return { keys, lookups, warnings };
}

Deno.test("KeyCache.get() looks a name up once: together and afterwards", async () => {
  const { keys, lookups } = cache();
  const [a, b] = await Promise.all([keys.get("alice"), keys.get("alice")]);
  equal(a, b);
  equal(a.trust, "new");
  equal((await keys.get("alice")).trust, "new", "cached as first seen");
  deepEqual(lookups, ["alice"]);
});

Deno.test("KeyCache keeps at most maxKeys, forgetting the oldest", async () => {
  const { keys, lookups } = cache({ maxKeys: 2 });
  for (const name of ["a", "b"]) await keys.get(name);
  equal(keys.size, 2, "at the bound");
  await keys.get("c");
  equal(keys.size, 2);
  await keys.get("b");
  await keys.get("c");
  deepEqual(lookups, ["a", "b", "c"]);
  await keys.get("a");
  deepEqual(lookups, ["a", "b", "c", "a"], "the oldest was forgotten");
});

Deno.test("KeyCache.get() never caches a changed key, and ACCEPT lets it through", async () => {
  let current = one;
  const { keys, lookups } = cache({ keysOf: () => current });
  equal((await keys.get("alice")).trust, "new");
  keys.forget("alice");
  current = two;
  equal((await keys.get("alice")).trust, "changed");
  equal((await keys.get("alice")).trust, "changed");
  equal(lookups.length, 3, "a changed key is looked up again each time");
  equal(keys.accept("alice"), true);
  equal((await keys.get("alice")).trust, "known");
  equal(keys.knows("alice"), true);
  equal(keys.knows("bob"), false);
});

Deno.test("KeyCache.verify() marks the remembered key only when the fingerprint matches", async () => {
  const { keys } = cache();
  const { fingerprint } = await keys.get("alice");
  equal(keys.verify("alice", "0".repeat(64)), false);
  equal(keys.verify("alice", fingerprint), true);
  equal((await keys.get("alice")).trust, "verified");
});

Deno.test("KeyCache.get() rejects an answer for another name with BAD_MESSAGE", async () => {
  const keys = new KeyCache({
    known: new KnownPeers(),
    maxKeys: 4,
    lookUp: () =>
      Promise.resolve({ type: "key-info", re: 1, name: "mallory", online: true, ...one }),
  });
  await rejects(keys.get("alice"), (error: Error & { code?: string }) => {
    equal(error.code, "BAD_MESSAGE");
    ok(error.message.includes(`answered "key" for "mallory", not "alice"`), error.message);
    return true;
  });
  equal(keys.size, 0);
});

Deno.test("KeyCache.get() warns when a new name looks like a known peer's", async () => {
  const known = new KnownPeers();
  const { keys, warnings } = cache({ known, keysOf: (name) => name === "paypal" ? one : two });
  await keys.get("paypal");
  const lookalike = await keys.get("paypa1");
  equal(lookalike.trust, "new");
  equal(lookalike.lookalike, "paypal");
  equal(warnings.length, 1);
  equal(warnings[0][1], "NAME_CONFUSABLE");
  ok(warnings[0][0].includes(`looks like "paypal"`), warnings[0][0]);
});
