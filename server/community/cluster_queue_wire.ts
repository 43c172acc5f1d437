/**
 * The answers of the offline queue's scripts (`cluster_queue_scripts.ts`), checked as strictly as
 * anything else read from Redis, and the `QUEUE_FULL` they may mean. Pure: no I/O.
 * @module
 */

import type { QueuedEntry, QueueLimits } from "./offline_queue.ts";
import { queueFull } from "./offline_queue.ts";
import type { PeerstreamError } from "../../protocol/errors.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";

/** What `QUEUE_ADD` answered. */
export type AddAnswer =
  | { kind: "queued"; qseq: number }
  | { kind: "online"; node: string }
  | { kind: "offline" }
  | { kind: "full"; bound: "messages" | "bytes" | "total" };

const what = "queue answer";

function uint(value: unknown, field: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || (typeof value === "string" && !/^\d+$/.test(value))) {
    throw new TypeError(`Invalid ${what}: "${field}" must be a whole number`);
  }
  return n;
}

/** Names were checked by the node that registered them; still refuse a control character. */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;

function name(value: unknown, field: string): string {
  if (
    typeof value !== "string" || value.length === 0 || value.length > 64 || CONTROLS.test(value)
  ) {
    throw new TypeError(`Invalid ${what}: "${field}" must be a name`);
  }
  return value;
}

function listOf(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`Invalid ${what}: "${field}" must be a list`);
  return value;
}

/**
 * Reads `QUEUE_ADD`'s answer.
 *
 * @param reply The script's reply.
 * @returns What it did.
 * @throws {TypeError} When the reply has another shape.
 */
export function parseAddReply(reply: unknown): AddAnswer {
  const r = listOf(reply, "reply");
  switch (r[0]) {
    case "OK":
      if (r.length === 2) return { kind: "queued", qseq: uint(r[1], "qseq") };
      break;
    case "ONLINE":
      if (r.length === 2 && typeof r[1] === "string") return { kind: "online", node: r[1] };
      break;
    case "OFFLINE":
      if (r.length === 1) return { kind: "offline" };
      break;
    case "FULL":
      if (r[1] === "messages" || r[1] === "bytes" || r[1] === "total") {
        return { kind: "full", bound: r[1] };
      }
      break;
  }
  throw new TypeError(`Invalid ${what}: not an answer of queue-add`);
}

/**
 * The `QUEUE_FULL` error of a full answer, in the words of the single server's queue.
 *
 * @param to The recipient.
 * @param bound Which bound is reached.
 * @param limits The bounds.
 * @returns The error.
 */
export function fullError(
  to: string,
  bound: "messages" | "bytes" | "total",
  limits: QueueLimits,
): PeerstreamError {
  return queueFull(
    to,
    bound === "messages"
      ? `${limits.maxMessages.toLocaleString("en")} messages wait for them`
      : bound === "bytes"
      ? `${limits.maxBytes.toLocaleString("en")} bytes of messages wait for them`
      : "the server's queues are full",
  );
}

/**
 * Reads `QUEUE_TAKE`'s answer: what waits for a peer, in order.
 *
 * @param reply The script's reply.
 * @returns The entries (bodies decoded from base64).
 * @throws {TypeError} When an entry has another shape.
 */
export function parseTaken(reply: unknown): QueuedEntry[] {
  return listOf(reply, "reply").map((item) => {
    const e = listOf(item, "entry");
    const fields = e[0] === "m" ? [6, 7] : [6];
    if (!fields.includes(e.length)) {
      throw new TypeError(`Invalid ${what}: an entry has ${e.length} fields`);
    }
    const qseq = uint(e[1], "qseq");
    if (e[0] === "m") {
      if (typeof e[5] !== "string") throw new TypeError(`Invalid ${what}: "body" must be base64`);
      let body: Uint8Array;
      try {
        body = Uint8Array.fromBase64(e[5]);
      } catch {
        throw new TypeError(`Invalid ${what}: "body" must be base64`);
      }
      const [from, re, at] = [name(e[2], "from"), uint(e[3], "re"), uint(e[4], "at")];
      const room = e[6] ?? "";
      if (room !== "" && (typeof room !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(room))) {
        throw new TypeError(`Invalid ${what}: "room" must be a room id`);
      }
      return { kind: "message", qseq, from, re, at, body, ...(room === "" ? {} : { room }) };
    }
    if (e[0] !== "d" && e[0] !== "e") throw new TypeError(`Invalid ${what}: unknown entry kind`);
    return {
      kind: e[0] === "d" ? "delivered" : "expired",
      qseq,
      to: name(e[2], "to"),
      ofQseq: uint(e[3], "ofQseq"),
      re: uint(e[4], "re"),
      at: uint(e[5], "at"),
    };
  });
}

/**
 * Reads `BOUND_KEYS`'s answer: a bound name's keys, if they are the bound key's.
 *
 * @param reply The script's reply (nil is `null`).
 * @returns The keys, or undefined when the name is not bound or its keys are not known (or were
 * stored for another key).
 * @throws {TypeError} When the reply has another shape.
 */
export function parseBoundKeys(reply: unknown): PublicKeysText | undefined {
  if (reply === null) return undefined;
  const r = listOf(reply, "reply");
  if (r.length !== 2 || typeof r[0] !== "string" || typeof r[1] !== "string") {
    throw new TypeError(`Invalid ${what}: not an answer of bound-keys`);
  }
  let keys: unknown;
  try {
    keys = JSON.parse(r[1]);
  } catch {
    throw new TypeError(`Invalid ${what}: the keys are not JSON`);
  }
  const { encKey, signKey } = (typeof keys === "object" && keys !== null ? keys : {}) as Record<
    string,
    unknown
  >;
  const isKey = (v: unknown): v is string =>
    typeof v === "string" && v.length > 0 && v.length <= 4096;
  if (!isKey(encKey) || !isKey(signKey)) throw new TypeError(`Invalid ${what}: not public keys`);
  return signKey === r[0] ? { encKey, signKey } : undefined;
}

/**
 * How often a node looks for expired messages: a tenth of their age, within 1 s and a minute (a
 * message waits 14 days by default; a minute late is nothing, and an idle cluster costs Redis one
 * script per node per minute).
 *
 * @param maxAgeMs How long a message waits before it expires.
 * @returns Milliseconds between runs.
 */
export function expiryInterval(maxAgeMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(maxAgeMs / 10)));
}
