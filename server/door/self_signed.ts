/**
 * A self-signed TLS certificate made with WebCrypto, for `serve --tls-self-signed`: browsers on
 * the LAN need https for WebCrypto, and a person without a certificate of their own still gets
 * one, with nothing to install (no openssl, no package) and nothing downloaded. The certificate
 * is ECDSA P-256, `CA:FALSE` (rustls refuses a CA certificate used as an end entity), with the
 * server's names and addresses as subjectAltName; people compare its SHA-256 fingerprint, which
 * the server prints, with what their browser shows before they accept it.
 *
 * The DER encoding below is the small subset of ASN.1 that an X.509 v3 certificate needs.
 * @module
 */

import { X509Certificate } from "node:crypto";
import { concat as concatBytes } from "../../protocol/e2e.ts";

/** ASN.1 tags used here. */
const TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  generalizedTime: 0x18,
  boolean: 0x01,
} as const;

/**
 * Encodes one DER element: tag, definite length, contents.
 *
 * @param tag The tag byte.
 * @param contents The contents, or the encoded elements inside a constructed one.
 * @returns The element.
 */
export function der(tag: number, ...contents: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concatBytes(contents);
  const n = body.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes([new Uint8Array([tag, ...length]), body]);
}

/**
 * Encodes an OBJECT IDENTIFIER.
 *
 * @param dotted For example `2.5.4.3`.
 * @returns The element.
 */
export function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      groups.unshift((v & 0x7f) | 0x80);
    }
    bytes.push(...groups);
  }
  return der(TAG.oid, new Uint8Array(bytes));
}

/** A positive INTEGER from big-endian bytes (leading zeros dropped, a sign byte added). */
function unsignedInteger(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return der(
    TAG.integer,
    trimmed[0] & 0x80 ? concatBytes([new Uint8Array([0]), trimmed]) : trimmed,
  );
}

function time(date: Date): Uint8Array<ArrayBuffer> {
  // GeneralizedTime is valid for any year; YYYYMMDDHHMMSSZ.
  const text = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return der(TAG.generalizedTime, new TextEncoder().encode(text));
}

function name(commonName: string): Uint8Array<ArrayBuffer> {
  return der(
    TAG.sequence,
    der(
      TAG.set,
      der(TAG.sequence, oid("2.5.4.3"), der(TAG.utf8String, new TextEncoder().encode(commonName))),
    ),
  );
}

function ipBytes(address: string): Uint8Array | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    return new Uint8Array(address.split(".").map(Number));
  }
  if (!address.includes(":")) return null;
  const [head, tail = ""] = address.split("::");
  const part = (s: string) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
  const left = part(head);
  const right = address.includes("::") ? part(tail) : [];
  const groups = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return new Uint8Array(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array<ArrayBuffer> {
  return der(
    TAG.sequence,
    oid(id),
    ...(critical ? [der(TAG.boolean, new Uint8Array([0xff]))] : []),
    der(TAG.octetString, value),
  );
}

function extensions(names: readonly string[]): Uint8Array<ArrayBuffer> {
  const alt = names.map((n) => {
    const ip = ipBytes(n);
    // [7] iPAddress, [2] dNSName: context-specific, primitive.
    return ip !== null ? der(0x87, ip) : der(0x82, new TextEncoder().encode(n));
  });
  return der(
    0xa3,
    der(
      TAG.sequence,
      extension("2.5.29.19", true, der(TAG.sequence)), // basicConstraints: CA:FALSE
      extension("2.5.29.15", true, der(TAG.bitString, new Uint8Array([7, 0x80]))), // digitalSignature
      extension("2.5.29.37", false, der(TAG.sequence, oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
      extension("2.5.29.17", false, der(TAG.sequence, ...alt)), // subjectAltName
    ),
  );
}

function pem(label: string, bytes: Uint8Array): string {
  const lines = bytes.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Options for {@linkcode makeSelfSignedCertificate}. */
export interface SelfSignedOptions {
  /** How long it is valid, days. @default {365} */
  days?: number;
  /** When it starts to be valid. @default {now, less a day for clock skew} */
  now?: Date;
}

/**
 * Makes a self-signed ECDSA P-256 server certificate and its private key.
 *
 * @param names DNS names and IP addresses for the subjectAltName (the first is the subject).
 * @param options Validity.
 * @returns The certificate and the PKCS #8 key, PEM.
 */
export async function makeSelfSignedCertificate(
  names: readonly string[],
  options: SelfSignedOptions = {},
): Promise<{ cert: string; key: string }> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const start = new Date((options.now ?? new Date()).getTime() - 86_400_000);
  const end = new Date(start.getTime() + (options.days ?? 365) * 86_400_000);
  const ecdsaWithSha256 = der(TAG.sequence, oid("1.2.840.10045.4.3.2"));
  const subject = name(`peerstream ${names[0] ?? "server"}`);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const tbs = der(
    TAG.sequence,
    der(0xa0, der(TAG.integer, new Uint8Array([2]))), // version v3
    unsignedInteger(serial),
    ecdsaWithSha256,
    subject,
    der(TAG.sequence, time(start), time(end)),
    subject,
    spki,
    extensions(names),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs),
  );
  // WebCrypto signs as r ‖ s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  const signature = der(
    TAG.sequence,
    unsignedInteger(raw.subarray(0, 32)),
    unsignedInteger(raw.subarray(32)),
  );
  const cert = der(
    TAG.sequence,
    tbs,
    ecdsaWithSha256,
    der(TAG.bitString, new Uint8Array([0]), signature),
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: pem("CERTIFICATE", cert), key: pem("PRIVATE KEY", pkcs8) };
}

/**
 * The names a self-signed certificate should cover: loopback, the listening host, and, where the
 * program may look (`--allow-sys=hostname,networkInterfaces`), the machine's name and addresses.
 *
 * @param host The `--host` the server listens on.
 * @returns The names, without duplicates.
 */
export function serverNames(host: string): string[] {
  const names = new Set(["localhost", "127.0.0.1", "::1"]);
  if (host !== "0.0.0.0" && host !== "::") names.add(host);
  const granted = (kind: "hostname" | "networkInterfaces") =>
    Deno.permissions.querySync({ name: "sys", kind }).state === "granted";
  if (granted("hostname")) {
    const hostname = Deno.hostname().toLowerCase();
    names.add(hostname);
    if (!hostname.includes(".")) names.add(`${hostname}.local`);
  }
  if (granted("networkInterfaces")) {
    for (const nic of Deno.networkInterfaces()) {
      // Link-local IPv6 addresses carry a zone; browsers cannot use them in URLs anyway.
      if (!nic.address.startsWith("fe80")) names.add(nic.address);
    }
  }
  return [...names];
}

/**
 * Loads the self-signed certificate kept in `dir`, or makes and saves one (the key with mode
 * 0600) when there is none, it expires within 30 days, or it lacks one of `names`. Kept, so
 * that its fingerprint stays the same across restarts and browsers remember it.
 *
 * @param dir The folder (`DATA/tls`).
 * @param names The names it must cover.
 * @returns The PEM texts, where they are, and whether they were just made.
 */
export async function loadOrMakeSelfSigned(
  dir: string,
  names: readonly string[],
): Promise<{ cert: string; key: string; certFile: string; created: boolean }> {
  const certFile = `${dir}/self-signed.pem`;
  const keyFile = `${dir}/self-signed-key.pem`;
  try {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(certFile),
      Deno.readTextFile(keyFile),
    ]);
    const x509 = new X509Certificate(cert);
    const covered = (x509.subjectAltName ?? "").toLowerCase();
    const fresh = new Date(x509.validTo).getTime() - Date.now() > 30 * 86_400_000;
    const ipText = (n: string) => n.includes(":") ? "" : n;
    if (fresh && names.every((n) => covered.includes(ipText(n).toLowerCase()))) {
      return { cert, key, certFile, created: false };
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const made = await makeSelfSignedCertificate(names);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(keyFile, made.key, { mode: 0o600 });
  await Deno.writeTextFile(certFile, made.cert);
  return { ...made, certFile, created: true };
}
