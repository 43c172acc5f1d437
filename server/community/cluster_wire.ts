/**
 * What nodes of a cluster tell each other through Redis, checked as strictly as protocol
 * messages: presence events (JSON, published by the Lua scripts on the events channel) and node
 * messages (a sealed message or its outcome, binary, published to one node's channel). Nothing
 * read from Redis is trusted to have the right shape. Pure: no I/O.
 * @module
 */

import { type ErrorCode, isErrorCode } from "../../protocol/errors.ts";
import type { LeaveReason } from "../../protocol/messages.ts";

/**
 * The version of what nodes say to each other. A node refuses to join a cluster whose live nodes
 * speak another one, and drops messages of another version. 2: offline queues in Redis (a node of
 * version 1 would refuse what others queue, and never deliver it).
 */
export const CLUSTER_PROTOCOL = 2;

/** The largest header of a node message, bytes. */
export const MAX_NODE_HEADER_BYTES = 4096;
/** The largest body of a node message (a sealed message with room to spare), bytes. */
export const MAX_NODE_BODY_BYTES = 128 * 1024;

/** A peer online on some node, as the presence table holds it. */
export interface PresenceEntry {
  /** The normalized name. */
  name: string;
  /** The node that holds its connection. */
  node: string;
  /** RSA-OAEP public key, SPKI base64. */
  encKey: string;
  /** Ed25519 public key, SPKI base64. */
  signKey: string;
}

/** A change of presence, numbered by Redis (`seq`) so that a node notices what it missed. */
export type PresenceEvent =
  | { t: "join"; seq: number; entry: PresenceEntry }
  | { t: "leave"; seq: number; node: string; name: string; reason: LeaveReason }
  | { t: "gone"; seq: number; node: string; names: string[] }
  | { t: "sync"; seq: number; node: string; entries: PresenceEntry[] };

/**
 * What the offline queue's scripts announce on the queue channel: notices wait for a peer who is
 * online (`notices`), or a notice for an online peer whose name is not bound (`notice`).
 */
export type QueueEvent =
  | { t: "notices"; name: string }
  | {
    t: "notice";
    name: string;
    notice: { kind: "delivered" | "expired"; to: string; qseq: number; re: number };
  };

/** A message from one node to another. */
export type NodeMessage =
  | {
    t: "deliver";
    /** The sending node. */
    from: string;
    /** The sending node's id for this message, echoed in the result. */
    ref: string;
    /** The sender's name. */
    sender: string;
    /** The recipient's name. */
    to: string;
    /** The sealed envelope. */
    body: Uint8Array;
    /** The room it was sent to (a room message). */
    room?: string;
  }
  | { t: "result"; from: string; ref: string; ok: true }
  | { t: "result"; from: string; ref: string; ok: false; code: ErrorCode; message: string };

const ROOM_ID = /^[A-Za-z0-9_-]{22}$/;
const NODE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const REF = /^[A-Za-z0-9_-]{1,32}$/;
const LEAVE_REASONS: readonly string[] = ["quit", "disconnected", "timeout", "kicked"];

/**
 * Whether a node name is acceptable: 1–64 of `A-Z a-z 0-9 . _ -`.
 *
 * @param name The candidate.
 * @returns True when valid.
 */
export function isNodeName(name: string): boolean {
  return NODE_NAME.test(name);
}

type Obj = Record<string, unknown>;

function object(value: unknown, what: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Invalid ${what}: expected an object`);
  }
  return value as Obj;
}

function only(value: Obj, fields: readonly string[], what: string) {
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) {
      throw new TypeError(`Invalid ${what}: unexpected field "${key.slice(0, 64)}"`);
    }
  }
}

function text(value: Obj, field: string, max: number, what: string): string {
  const v = value[field];
  if (typeof v !== "string" || v.length === 0 || v.length > max) {
    throw new TypeError(`Invalid ${what}: "${field}" must be a string of 1 to ${max} characters`);
  }
  return v;
}

function matching(value: Obj, field: string, re: RegExp, what: string): string {
  const v = text(value, field, 64, what);
  if (!re.test(v)) throw new TypeError(`Invalid ${what}: "${field}" has characters it may not`);
  return v;
}

function peerName(value: Obj, field: string, what: string): string {
  const v = text(value, field, 64, what);
  // Names were checked by the node that registered them; still refuse anything a terminal or a
  // log line could be fooled by.
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) {
    throw new TypeError(`Invalid ${what}: "${field}" has control characters`);
  }
  return v;
}

function seqOf(value: Obj, what: string): number {
  const v = value.seq;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new TypeError(`Invalid ${what}: "seq" must be a positive integer`);
  }
  return v;
}

/** A list from Lua's cjson, which writes an empty table as `{}`. */
function list(value: Obj, field: string, max: number, what: string): unknown[] {
  const v = value[field];
  if (Array.isArray(v)) {
    if (v.length > max) throw new RangeError(`Invalid ${what}: "${field}" has over ${max} items`);
    return v;
  }
  if (typeof v === "object" && v !== null && Object.keys(v).length === 0) return [];
  throw new TypeError(`Invalid ${what}: "${field}" must be a list`);
}

/**
 * Checks a presence entry as stored in Redis or carried by an event.
 *
 * @param value Parsed JSON.
 * @returns The entry.
 * @throws {TypeError} When a field is missing, extra or of the wrong shape.
 */
export function checkEntry(value: unknown): PresenceEntry {
  const what = "presence entry";
  const v = object(value, what);
  only(v, ["name", "node", "encKey", "signKey", "eph"], what);
  return {
    name: peerName(v, "name", what),
    node: matching(v, "node", NODE_NAME, what),
    encKey: text(v, "encKey", 2048, what),
    signKey: text(v, "signKey", 2048, what),
  };
}

/**
 * The fields of an event about a whole node's peers (`gone`, `sync`): its sequence number, the
 * node, and one list under `field`, nothing else.
 */
function nodeList(
  v: Obj,
  field: string,
  what: string,
): { seq: number; node: string; list: unknown[] } {
  only(v, ["t", "seq", "node", field], what);
  return {
    seq: seqOf(v, what),
    node: matching(v, "node", NODE_NAME, what),
    list: list(v, field, 1_000_000, what),
  };
}

/**
 * Decodes a presence event published by a script.
 *
 * @param json The message text.
 * @returns The event.
 * @throws {SyntaxError} When it is not JSON.
 * @throws {TypeError} When its shape is wrong.
 */
export function decodePresenceEvent(json: string): PresenceEvent {
  const what = "presence event";
  const v = object(JSON.parse(json), what);
  switch (v.t) {
    case "join":
      only(v, ["t", "seq", "entry"], what);
      return { t: "join", seq: seqOf(v, what), entry: checkEntry(v.entry) };
    case "leave": {
      only(v, ["t", "seq", "node", "name", "reason"], what);
      const reason = text(v, "reason", 16, what);
      if (!LEAVE_REASONS.includes(reason)) throw new TypeError(`Invalid ${what}: unknown reason`);
      return {
        t: "leave",
        seq: seqOf(v, what),
        node: matching(v, "node", NODE_NAME, what),
        name: peerName(v, "name", what),
        reason: reason as LeaveReason,
      };
    }
    case "gone": {
      const { seq, node, list } = nodeList(v, "names", what);
      return { t: "gone", seq, node, names: list.map((n) => peerName({ n }, "n", what)) };
    }
    case "sync": {
      const { seq, node, list } = nodeList(v, "entries", what);
      return { t: "sync", seq, node, entries: list.map(checkEntry) };
    }
    default:
      throw new TypeError(`Invalid ${what}: unknown type`);
  }
}

/**
 * Encodes a node message: u32be header length, the JSON header, then the body (deliver only).
 *
 * @param message The message.
 * @returns The bytes to publish.
 * @throws {RangeError} When the header or body is over its limit.
 */
export function encodeNodeMessage(message: NodeMessage): Uint8Array<ArrayBuffer> {
  const { body, ...fields } = message.t === "deliver" ? message : { ...message, body: undefined };
  const header = new TextEncoder().encode(JSON.stringify({ v: CLUSTER_PROTOCOL, ...fields }));
  if (header.length > MAX_NODE_HEADER_BYTES) throw new RangeError("Node message header too large");
  const size = body?.length ?? 0;
  if (size > MAX_NODE_BODY_BYTES) throw new RangeError("Node message body too large");
  const out = new Uint8Array(4 + header.length + size);
  new DataView(out.buffer).setUint32(0, header.length);
  out.set(header, 4);
  if (body !== undefined) out.set(body, 4 + header.length);
  return out;
}

/**
 * Decodes a node message published to this node's channel.
 *
 * @param bytes The published bytes.
 * @returns The message; a deliver's body is a view of `bytes`.
 * @throws {RangeError} When a length is over its limit or beyond the bytes.
 * @throws {SyntaxError} When the header is not JSON.
 * @throws {TypeError} When the header's shape is wrong, or its version is not ours.
 */
export function decodeNodeMessage(bytes: Uint8Array): NodeMessage {
  const what = "node message";
  if (bytes.length < 4) throw new RangeError(`Invalid ${what}: shorter than its header length`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (length > MAX_NODE_HEADER_BYTES || 4 + length > bytes.length) {
    throw new RangeError(`Invalid ${what}: header length ${length} is over the limit or the bytes`);
  }
  const v = object(
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(4, 4 + length))),
    what,
  );
  if (v.v !== CLUSTER_PROTOCOL) {
    throw new TypeError(
      `Invalid ${what}: cluster protocol ${String(v.v).slice(0, 16)}, expected ${CLUSTER_PROTOCOL}`,
    );
  }
  const body = bytes.subarray(4 + length);
  const from = matching(v, "from", NODE_NAME, what);
  const ref = matching(v, "ref", REF, what);
  if (v.t === "deliver") {
    only(v, ["v", "t", "from", "ref", "sender", "to", "room"], what);
    if (body.length > MAX_NODE_BODY_BYTES) throw new RangeError(`Invalid ${what}: body too large`);
    return {
      t: "deliver",
      from,
      ref,
      sender: peerName(v, "sender", what),
      to: peerName(v, "to", what),
      body,
      ...(v.room === undefined ? {} : { room: matching(v, "room", ROOM_ID, what) }),
    };
  }
  if (v.t !== "result") throw new TypeError(`Invalid ${what}: unknown type`);
  if (body.length > 0) throw new TypeError(`Invalid ${what}: a result has no body`);
  if (v.ok === true) {
    only(v, ["v", "t", "from", "ref", "ok"], what);
    return { t: "result", from, ref, ok: true };
  }
  only(v, ["v", "t", "from", "ref", "ok", "code", "message"], what);
  if (v.ok !== false || !isErrorCode(v.code)) {
    throw new TypeError(`Invalid ${what}: "ok" must be a boolean and "code" an error code`);
  }
  return {
    t: "result",
    from,
    ref,
    ok: false,
    code: v.code,
    message: text(v, "message", 512, what),
  };
}

/**
 * Decodes an event of the queue channel (JSON from the queue scripts).
 *
 * @param json The published text.
 * @returns The event.
 * @throws {SyntaxError} When it is not JSON.
 * @throws {TypeError} When its shape is wrong.
 */
export function decodeQueueEvent(json: string): QueueEvent {
  const what = "queue event";
  const v = object(JSON.parse(json), what);
  const name = peerName(v, "name", what);
  if (v.t === "notices") {
    only(v, ["t", "name"], what);
    return { t: "notices", name };
  }
  if (v.t !== "notice") throw new TypeError(`Invalid ${what}: unknown type`);
  only(v, ["t", "name", "kind", "to", "qseq", "re"], what);
  const kind: "delivered" | "expired" | undefined = v.kind === "d"
    ? "delivered"
    : v.kind === "e"
    ? "expired"
    : undefined;
  const count = (field: string) => {
    const n = v[field];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      throw new TypeError(`Invalid ${what}: "${field}" must be a whole number`);
    }
    return n;
  };
  if (kind === undefined) throw new TypeError(`Invalid ${what}: "kind" must be "d" or "e"`);
  const notice = { kind, to: peerName(v, "to", what), qseq: count("qseq"), re: count("re") };
  return { t: "notice", name, notice };
}
