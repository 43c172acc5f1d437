import { deepEqual, equal, match, notEqual, ok, rejects } from "node:assert/strict";
import { type ErrorCode, PeerstreamError } from "./errors.ts";
import {
  exportPublicKeys,
  formatFingerprint,
  generateIdentity,
  type Identity,
  importPeerKeys,
  open,
  type PeerKeys,
  ReplayGuard,
  seal,
  signChallenge,
  verifyChallenge,
} from "./e2e.ts";
import { MAX_TEXT_BYTES } from "./messages.ts";
import { indexOfBytes } from "../tests/_util.ts";

// Key generation is slow (RSA-2048), so three identities are made once for the whole file.
const [alice, bob, carol] = await Promise.all([
  generateIdentity(),
  generateIdentity(),
  generateIdentity(),
]);
const [aliceKeys, bobKeys, carolKeys] = await Promise.all(
  [alice, bob, carol].map(async (identity) => importPeerKeys(await exportPublicKeys(identity))),
);

const NOW = Date.UTC(2025, 0, 1);
const WINDOW_MS = 600_000;

/** Bob seals `text` for Alice at {@linkcode NOW}. */
function sealBobToAlice(text: string, sentAt = NOW): Promise<Uint8Array<ArrayBuffer>> {
  return seal(text, { from: "bob", to: "alice", identity: bob, recipient: aliceKeys, sentAt });
}

interface OpenAs {
  from?: string;
  me?: string;
  identity?: Identity;
  sender?: PeerKeys;
  replay?: ReplayGuard;
  now?: number;
}

/** Alice opens an envelope claimed to be from Bob, unless told otherwise. */
function openAsAlice(envelope: Uint8Array, options: OpenAs = {}) {
  return open(envelope, {
    from: options.from ?? "bob",
    me: options.me ?? "alice",
    identity: options.identity ?? alice,
    sender: options.sender ?? bobKeys,
    replay: options.replay ?? new ReplayGuard(),
    now: options.now ?? NOW,
  });
}

/** A predicate for `throws`/`rejects`: a PeerstreamError with one of `codes` and `fragment`. */
function peerstreamError(codes: ErrorCode | ErrorCode[], fragment = "") {
  const wanted = Array.isArray(codes) ? codes : [codes];
  return (error: unknown): boolean => {
    if (!(error instanceof PeerstreamError)) {
      throw new Error(`expected a PeerstreamError, got ${String(error)}`, { cause: error });
    }
    if (!wanted.includes(error.code)) {
      throw new Error(`expected code ${wanted.join(" or ")}, got ${error.code}: ${error.message}`);
    }
    if (!error.message.includes(fragment)) {
      throw new Error(`expected "${fragment}" in "${error.message}"`);
    }
    equal(error.name, "PeerstreamError");
    return true;
  };
}

Deno.test("open() returns the text sealed by seal() when the text is at or under MAX_TEXT_BYTES", async (t) => {
  const table: { name: string; text: string }[] = [
    { name: "empty string", text: "" },
    { name: "1 character", text: "a" },
    { name: "multi-byte text", text: "zoë Łukasz 東京 😀 \u0000 \n" },
    { name: "exactly MAX_TEXT_BYTES of ASCII", text: "a".repeat(MAX_TEXT_BYTES) },
    { name: "exactly MAX_TEXT_BYTES of 2-byte UTF-8", text: "é".repeat(MAX_TEXT_BYTES / 2) },
    { name: "exactly MAX_TEXT_BYTES of 4-byte UTF-8", text: "😀".repeat(MAX_TEXT_BYTES / 4) },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      const envelope = await sealBobToAlice(row.text);
      const opened = await openAsAlice(envelope);
      equal(opened.text, row.text);
      equal(opened.from, "bob");
      equal(opened.sentAt, NOW);
      match(opened.id, /^[0-9a-f]{32}$/);
    });
  }
});

Deno.test("seal() throws MESSAGE_TOO_LARGE when the text is MAX_TEXT_BYTES + 1 bytes of UTF-8", async (t) => {
  const table: { name: string; text: string }[] = [
    { name: "ASCII", text: "a".repeat(MAX_TEXT_BYTES + 1) },
    { name: "limit - 1 ASCII then a 2-byte letter", text: "a".repeat(MAX_TEXT_BYTES - 1) + "é" },
    // Fewer characters than the limit, but more bytes: the limit is on bytes.
    { name: "3-byte characters", text: "€".repeat(Math.ceil((MAX_TEXT_BYTES + 1) / 3)) },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      await rejects(sealBobToAlice(row.text), peerstreamError("MESSAGE_TOO_LARGE", "limit"));
    });
  }
});

Deno.test("seal() returns an envelope that does not contain the plaintext", async () => {
  const secret = "attack at dawn, the password is hunter2 ".repeat(4);
  const envelope = await sealBobToAlice(secret);
  equal(indexOfBytes(envelope, new TextEncoder().encode(secret)), -1);
  equal(indexOfBytes(envelope, new TextEncoder().encode("hunter2")), -1);
  // Two seals of the same text differ (fresh key, iv and id).
  notEqual((await sealBobToAlice(secret)).toHex(), envelope.toHex());
});

Deno.test("open() throws BAD_SIGNATURE when the sender bob signed as does not match the deliver", async (t) => {
  // Bob always signs; `signedAs` is the sender name inside the envelope, `deliver` what the server
  // claims when it delivers it to alice.
  const table: { name: string; signedAs: string; deliver: OpenAs; fragment: string }[] = [
    {
      name: "bob signs but the deliver claims carol",
      signedAs: "carol",
      deliver: { from: "carol", sender: carolKeys },
      fragment: "does not match their key",
    },
    {
      name: "bob's envelope claims to be from alice",
      signedAs: "alice",
      deliver: { from: "alice", sender: aliceKeys },
      fragment: 'claiming to be from "alice"',
    },
    {
      name: "the server delivers bob's envelope as from carol with bob's keys",
      signedAs: "bob",
      deliver: { from: "carol", sender: bobKeys },
      fragment: 'signed as from "bob"',
    },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      const envelope = await seal("hi", {
        from: row.signedAs,
        to: "alice",
        identity: bob,
        recipient: aliceKeys,
        sentAt: NOW,
      });
      await rejects(
        openAsAlice(envelope, row.deliver),
        peerstreamError("BAD_SIGNATURE", row.fragment),
      );
    });
  }
});

Deno.test("open() throws BAD_SIGNATURE when the envelope was sealed to carol", async () => {
  const envelope = await seal("for carol", {
    from: "bob",
    to: "carol",
    identity: bob,
    recipient: carolKeys,
    sentAt: NOW,
  });
  await rejects(openAsAlice(envelope), peerstreamError("BAD_SIGNATURE", 'to "carol"'));
  // Carol herself can open it.
  const opened = await openAsAlice(envelope, { me: "carol", identity: carol });
  equal(opened.text, "for carol");
});

Deno.test("open() throws DECRYPT_FAILED when the key was wrapped for someone else", async () => {
  const envelope = await seal("hi", {
    from: "bob",
    to: "alice",
    identity: bob,
    recipient: carolKeys,
    sentAt: NOW,
  });
  await rejects(openAsAlice(envelope), peerstreamError("DECRYPT_FAILED", "cannot be decrypted"));
});

Deno.test("open() rejects with BAD_SIGNATURE or BAD_MESSAGE when any single byte is flipped", async () => {
  const envelope = await sealBobToAlice("flip me");
  // Sanity: the untouched envelope opens.
  equal((await openAsAlice(envelope)).text, "flip me");
  // Header: version, fromLen, "bob", toLen, "alice", id, sentAt; then the wrapped key, iv,
  // ciphertext and signature. Every position is flipped, with a low and a high bit.
  for (let at = 0; at < envelope.length; at++) {
    for (const mask of [0x01, 0x80]) {
      const forged = envelope.slice();
      forged[at] ^= mask;
      await rejects(
        openAsAlice(forged),
        peerstreamError(["BAD_SIGNATURE", "BAD_MESSAGE"]),
        `byte ${at} ^ 0x${mask.toString(16)}`,
      );
    }
  }
});

Deno.test("open() throws BAD_MESSAGE when the envelope is truncated or extended", async (t) => {
  const envelope = await sealBobToAlice("short");
  const table: { name: string; bytes: Uint8Array; fragment: string }[] = [
    { name: "empty", bytes: new Uint8Array(0), fragment: "header" },
    { name: "1 byte", bytes: envelope.subarray(0, 1), fragment: "header" },
    { name: "version and fromLen only", bytes: envelope.subarray(0, 2), fragment: "sender" },
    { name: "half", bytes: envelope.subarray(0, envelope.length >> 1), fragment: "malformed" },
    {
      name: "without the signature",
      bytes: envelope.subarray(0, envelope.length - 64),
      fragment: "signature",
    },
    {
      name: "last byte missing",
      bytes: envelope.subarray(0, envelope.length - 1),
      fragment: "signature",
    },
    { name: "one byte appended", bytes: new Uint8Array([...envelope, 0]), fragment: "signature" },
    {
      name: "version 2",
      bytes: new Uint8Array([2, ...envelope.subarray(1)]),
      fragment: "version 2",
    },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      await rejects(openAsAlice(row.bytes), peerstreamError("BAD_MESSAGE", row.fragment));
    });
  }
});

Deno.test("open() throws REPLAYED when the same envelope is opened twice with one guard", async () => {
  const envelope = await sealBobToAlice("once");
  const replay = new ReplayGuard();
  equal((await openAsAlice(envelope, { replay })).text, "once");
  equal(replay.size, 1);
  await rejects(openAsAlice(envelope, { replay }), peerstreamError("REPLAYED", "already received"));
  // Another envelope with the same text is a different message.
  equal((await openAsAlice(await sealBobToAlice("once"), { replay })).text, "once");
  equal(replay.size, 2);
});

Deno.test("open() throws REPLAYED when sentAt is outside the window", async (t) => {
  const table: { name: string; sentAt: number; accepted: boolean }[] = [
    { name: "exactly window ago", sentAt: NOW - WINDOW_MS, accepted: true },
    { name: "window + 1 ms ago", sentAt: NOW - WINDOW_MS - 1, accepted: false },
    { name: "exactly window ahead", sentAt: NOW + WINDOW_MS, accepted: true },
    { name: "window + 1 ms ahead", sentAt: NOW + WINDOW_MS + 1, accepted: false },
    { name: "epoch", sentAt: 0, accepted: false },
    { name: "beyond what Date can hold", sentAt: 1e300, accepted: false },
    { name: "NaN", sentAt: NaN, accepted: false },
    { name: "Infinity", sentAt: Infinity, accepted: false },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      const envelope = await sealBobToAlice("tick", row.sentAt);
      if (row.accepted) {
        equal((await openAsAlice(envelope)).sentAt, row.sentAt);
      } else {
        await rejects(
          openAsAlice(envelope),
          peerstreamError("REPLAYED", "outside the 600 s window"),
        );
      }
    });
  }
});

Deno.test("verifyChallenge() returns true only for the right keys, name and challenge", async (t) => {
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  const proof = await signChallenge(alice, challenge, "alice");
  const aliceText = await exportPublicKeys(alice);
  const bobText = await exportPublicKeys(bob);
  equal(proof.length, 64);
  const other = challenge.slice();
  other[0] ^= 1;
  const table: {
    name: string;
    key: CryptoKey;
    challenge: Uint8Array;
    who: string;
    proof: Uint8Array;
    expected: boolean;
    keys?: { encKey: string; signKey: string };
  }[] = [
    {
      name: "right key, name, challenge",
      key: aliceKeys.sign,
      challenge,
      who: "alice",
      proof,
      expected: true,
    },
    { name: "different name", key: aliceKeys.sign, challenge, who: "bob", proof, expected: false },
    {
      name: "name differing by case",
      key: aliceKeys.sign,
      challenge,
      who: "Alice",
      proof,
      expected: false,
    },
    {
      name: "different challenge",
      key: aliceKeys.sign,
      challenge: other,
      who: "alice",
      proof,
      expected: false,
    },
    { name: "different key", key: bobKeys.sign, challenge, who: "alice", proof, expected: false },
    {
      name: "truncated proof",
      key: aliceKeys.sign,
      challenge,
      who: "alice",
      proof: proof.subarray(0, 63),
      expected: false,
    },
    {
      // The v1 proof did not cover the encryption key: a thief could register alice's name and
      // signing key with an encryption key of their own.
      name: "someone else's encryption key",
      key: aliceKeys.sign,
      challenge,
      who: "alice",
      proof,
      expected: false,
      keys: { encKey: bobText.encKey, signKey: aliceText.signKey },
    },
    {
      name: "empty proof",
      key: aliceKeys.sign,
      challenge,
      who: "alice",
      proof: new Uint8Array(0),
      expected: false,
    },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      equal(
        await verifyChallenge(row.key, row.challenge, {
          name: row.who,
          keys: row.keys ?? aliceText,
          proof: row.proof,
        }),
        row.expected,
      );
    });
  }
});

Deno.test("importPeerKeys() throws KEY_INVALID when a key is garbage or too weak", async (t) => {
  const good = await exportPublicKeys(alice);
  const weak = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["encrypt", "decrypt"],
  );
  const weakSpki = new Uint8Array(await crypto.subtle.exportKey("spki", weak.publicKey)).toBase64();
  const table: { name: string; encKey: string; signKey: string; fragment: string }[] = [
    {
      name: "garbage base64 enc key",
      encKey: "!!not base64!!",
      signKey: good.signKey,
      fragment: "Cannot import public keys: ",
    },
    {
      name: "garbage base64 sign key",
      encKey: good.encKey,
      signKey: "%%%",
      fragment: "Cannot import public keys: ",
    },
    {
      name: "valid base64, not a key",
      encKey: "AAAA",
      signKey: good.signKey,
      fragment: "Cannot import public keys: ",
    },
    { name: "empty keys", encKey: "", signKey: "", fragment: "Cannot import public keys: " },
    {
      name: "keys swapped",
      encKey: good.signKey,
      signKey: good.encKey,
      fragment: "Cannot import public keys: ",
    },
    {
      name: "1024-bit RSA key",
      encKey: weakSpki,
      signKey: good.signKey,
      fragment: "RSA key of 1024 bits is shorter than 2048",
    },
  ];
  for (const row of table) {
    await t.step(row.name, async () => {
      await rejects(
        importPeerKeys({ encKey: row.encKey, signKey: row.signKey }),
        peerstreamError("KEY_INVALID", row.fragment),
      );
    });
  }
});

Deno.test("importPeerKeys() returns a stable 64-hex fingerprint of both SPKI keys", async () => {
  const text = await exportPublicKeys(alice);
  const again = await exportPublicKeys(alice);
  deepEqual(again, text);
  const [first, second] = await Promise.all([importPeerKeys(text), importPeerKeys(again)]);
  match(first.fingerprint, /^[0-9a-f]{64}$/);
  equal(first.fingerprint, second.fingerprint);
  equal(first.fingerprint, aliceKeys.fingerprint);
  notEqual(aliceKeys.fingerprint, bobKeys.fingerprint);
  notEqual(bobKeys.fingerprint, carolKeys.fingerprint);
  const spki = new Uint8Array([
    ...Uint8Array.fromBase64(text.encKey),
    ...Uint8Array.fromBase64(text.signKey),
  ]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
  equal(first.fingerprint, digest.toHex());
  equal(first.enc.algorithm.name, "RSA-OAEP");
  equal(first.sign.algorithm.name, "Ed25519");
  ok(first.enc.usages.includes("wrapKey"));
});

Deno.test("formatFingerprint() groups hex digits by four", async (t) => {
  const hex = "0123456789abcdef".repeat(4);
  const table: { name: string; input: string; groups?: number; expected: string }[] = [
    { name: "empty", input: "", expected: "" },
    { name: "fewer than 4 digits", input: "abc", expected: "abc" },
    { name: "exactly 4 digits", input: "abcd", expected: "abcd" },
    { name: "5 digits", input: "abcde", expected: "abcd e" },
    { name: "a whole fingerprint", input: hex, expected: hex.match(/.{4}/g)!.join(" ") },
    { name: "first 2 groups", input: hex, groups: 2, expected: "0123 4567" },
    { name: "0 groups", input: hex, groups: 0, expected: "" },
    { name: "more groups than digits", input: "abcdef", groups: 9, expected: "abcd ef" },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      equal(formatFingerprint(row.input, row.groups), row.expected);
    });
  }
  equal(formatFingerprint(aliceKeys.fingerprint).length, 64 + 15);
});
