import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, signChallenge } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { type HelloMessage, PROTOCOL_VERSION } from "../../protocol/messages.ts";
import { allowedBeforeWelcome, verifyHello } from "./handshake.ts";

const challenge = crypto.getRandomValues(new Uint8Array(32));
const [me, other] = await Promise.all([generateIdentity(), generateIdentity()]);
const myKeys = await exportPublicKeys(me);
const otherKeys = await exportPublicKeys(other);

async function hello(over: Partial<HelloMessage> = {}, signedName = over.name ?? "alice") {
  const proof = await signChallenge(me, challenge, signedName);
  return {
    type: "hello" as const,
    version: PROTOCOL_VERSION,
    name: "alice",
    ...myKeys,
    proof: proof.toBase64(),
    ...over,
  };
}

async function refusedWith(message: HelloMessage, code: string, fragment: string) {
  await rejects(verifyHello(message, challenge), (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, code);
    ok(error.message.includes(fragment), error.message);
    // deno-lint-ignore no-control-regex -- the text goes to a log and a terminal
    ok(!/[\u0000-\u001f]/.test(error.message), JSON.stringify(error.message));
    return true;
  });
}

Deno.test("verifyHello() returns the normalized name, the keys, the fingerprint and the ephemeral flag", async () => {
  const verified = await verifyHello(await hello(), challenge);
  equal(verified.name, "alice");
  deepEqual(verified.keys, myKeys);
  equal(verified.fingerprint.length, 64);
  equal(verified.ephemeral, false);
  equal((await verifyHello(await hello({ ephemeral: true }), challenge)).ephemeral, true);
  // NFC: a decomposed é is registered composed.
  const decomposed = "jose\u0301";
  const signed = await hello({ name: decomposed }, decomposed.normalize("NFC"));
  equal((await verifyHello(signed, challenge)).name, "jos\u00e9");
});

Deno.test("verifyHello() refuses each bad hello with its code", async (t) => {
  await t.step("another protocol version", async () => {
    await refusedWith(await hello({ version: 1 }), "VERSION_MISMATCH", "protocol 1");
  });
  await t.step("an invalid name, escaped in the message", async () => {
    await refusedWith(await hello({ name: "a\x1b[2Jb" }), "NAME_INVALID", "Invalid name");
  });
  await t.step("a key that does not import", async () => {
    await refusedWith(await hello({ encKey: "AAAA" }), "KEY_INVALID", "Cannot import");
  });
  await t.step("a proof that is not base64", async () => {
    await refusedWith(await hello({ proof: "%%%" }), "KEY_INVALID", "proof");
  });
  await t.step("a proof for another name", async () => {
    await refusedWith(await hello({ name: "mallory" }, "alice"), "KEY_INVALID", "proof");
  });
  await t.step("someone else's signing key", async () => {
    await refusedWith(await hello({ signKey: otherKeys.signKey }), "KEY_INVALID", "proof");
  });
  await t.step("someone else's encryption key: the proof covers both keys", async () => {
    await refusedWith(await hello({ encKey: otherKeys.encKey }), "KEY_INVALID", "proof");
  });
  await t.step("another challenge", async () => {
    const message = await hello();
    await rejects(verifyHello(message, new Uint8Array(32)), { code: "KEY_INVALID" });
  });
});

Deno.test("allowedBeforeWelcome() admits only hello and quit", () => {
  deepEqual(
    (["hello", "quit", "ping", "list", "key", "send", "receipt", "pong", "seg-ack"] as const)
      .filter(allowedBeforeWelcome),
    ["hello", "quit"],
  );
});

Deno.test("verifyHello() accepts a name bound before the name rules tightened, for its own key only", async () => {
  // "аlice" (Cyrillic а) mixes scripts: refused now, but a binding from before still works.
  const legacy = "\u0430lice";
  const message = await hello({ name: legacy });
  await refusedWith(message, "NAME_INVALID", "scripts");
  const mine = await verifyHello(message, challenge, { boundTo: () => myKeys.signKey });
  equal(mine.name, legacy);
  await rejects(
    verifyHello(message, challenge, { boundTo: () => otherKeys.signKey }),
    { code: "NAME_INVALID" },
  );
  await rejects(
    verifyHello(await hello({ name: "x".repeat(300) }), challenge, {
      boundTo: () => myKeys.signKey,
    }),
    { code: "NAME_INVALID" },
  );
});
