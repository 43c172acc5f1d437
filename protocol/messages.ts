/**
 * The messages of the peerstream protocol: a discriminated union on `type`, with strict validation
 * of every field on decode.
 *
 * Control messages travel as UTF-8 JSON in {@linkcode FrameType.Control} frames. Messages with a
 * binary body (`send`, `deliver`) travel in {@linkcode FrameType.ControlWithBody} frames, so that
 * ciphertext is bytes on the wire, not base64. Media chunks have their own compact binary frame.
 * @module
 */

import { type ErrorCode, isErrorCode } from "./errors.ts";
import {
  encodeFrame,
  type Frame,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_FRAME_BYTES,
  readUint32,
  writeFrameHeader,
  writeUint32,
} from "./frame.ts";
import { type ExpiredMessage, type QueuedMessage, queueSpecs } from "./queue_messages.ts";
import { logText } from "./text.ts";

export type { ExpiredMessage, QueuedMessage } from "./queue_messages.ts";

/** The protocol version; both ends must speak the same one. */
export const PROTOCOL_VERSION = 3;

/** The largest sealed message body a client may send: 96 KiB (64 KiB of text plus overhead). */
export const MAX_SEALED_BYTES = 96 * 1024;

/** The longest text a user may send in one message: 64 KiB of UTF-8. */
export const MAX_TEXT_BYTES = 64 * 1024;

/** A title as the server lists it. */
export interface VideoSummary {
  /** The title's name, used with PLAY. */
  title: string;
  /** Available heights, ascending (240 for 240p). */
  heights: number[];
  /** Duration in seconds. */
  duration: number;
  /** Whether the title has sound. */
  hasAudio: boolean;
  /** `ready`, `preparing` or `failed`. */
  state: "ready" | "preparing" | "failed";
  /** Preparation progress from 0 to 1. */
  progress: number;
}

/** One rendition of a stream, as announced in `stream-start`. */
export interface RenditionInfo {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Average bit rate in bits per second. */
  bitrate: number;
}

/** A requested quality: a height, or `auto` for adaptive switching. */
export type Quality = number | "auto";

/** Why a peer left. */
export type LeaveReason = "quit" | "disconnected" | "timeout" | "kicked";

/** Whether a peer online on another cluster node can be reached. */
export type PeerReachability = "unreachable" | "reachable";

/** Why a stream ended. */
export type StreamEndReason = "finished" | "stopped" | "error";

// ---- client to server ----

/** Client greeting: registers a name and its public keys. */
export interface HelloMessage {
  type: "hello";
  version: number;
  name: string;
  /** RSA-OAEP public key, SPKI, base64. */
  encKey: string;
  /** Ed25519 public key, SPKI, base64. */
  signKey: string;
  /** Ed25519 signature of the server's challenge, the name and both keys, base64. */
  proof: string;
  /** The keys live in memory only: the name is held only while this connection lasts. */
  ephemeral?: boolean;
}
/** Asks for the video list. */
export interface ListMessage {
  type: "list";
  id: number;
}
/** Asks for a peer's public keys. */
export interface KeyRequestMessage {
  type: "key";
  id: number;
  name: string;
}
/** Sends a sealed message to one peer. */
export interface SendMessage {
  type: "send";
  id: number;
  to: string;
  body: Uint8Array;
}
/** The recipient's client confirms (or refuses) a delivered message. */
export interface ReceiptMessage {
  type: "receipt";
  /** The relay id from `deliver`. */
  rid: string;
  ok: boolean;
  code?: ErrorCode;
}
/** Starts a stream. */
export interface PlayMessage {
  type: "play";
  id: number;
  title: string;
  quality: Quality;
  /** Where to start, seconds from the start of the title. @default {0} */
  position?: number;
}
/** Stops the current stream. */
export interface StopMessage {
  type: "stop";
  id: number;
}
/** Changes the quality of the current stream. */
export interface QualityMessage {
  type: "quality";
  id: number;
  quality: Quality;
  /**
   * The second the viewer sees now: the server jumps there in the new rendition and answers
   * `stream-seek`. Without it the change applies from the next segment boundary.
   */
  position?: number;
}
/** Holds the current stream: nothing more is sent until `resume`. */
export interface PauseMessage {
  type: "pause";
  id: number;
}
/** Continues a held stream. */
export interface ResumeMessage {
  type: "resume";
  id: number;
}
/** Jumps to the segment containing `position`. */
export interface SeekMessage {
  type: "seek";
  id: number;
  /** Seconds from the start of the title. */
  position: number;
}
/** The client has received a whole segment. */
export interface SegmentAckMessage {
  type: "seg-ack";
  streamId: number;
  /** The epoch of the segment; acks of an older epoch are ignored. */
  epoch: number;
  index: number;
}
/** Keepalive request, either direction. */
export interface PingMessage {
  type: "ping";
  id: number;
}
/** Keepalive answer, either direction. */
export interface PongMessage {
  type: "pong";
  id: number;
}
/** The client leaves. */
export interface QuitMessage {
  type: "quit";
}

// ---- server to client ----

/** The server speaks first: its version and a challenge to sign. */
export interface ServerHelloMessage {
  type: "server-hello";
  version: number;
  server: string;
  /** Random bytes, base64, that the client signs in `hello.proof`. */
  challenge: string;
}
/** Registration accepted. */
export interface WelcomeMessage {
  type: "welcome";
  name: string;
  /** Names of the other peers online. */
  peers: string[];
  /** The largest sealed body the server accepts. */
  maxSealedBytes: number;
  /** Names online on a cluster node that cannot be reached now. */
  unreachable?: string[];
}
/** A peer joined. */
export interface JoinedMessage {
  type: "joined";
  name: string;
}
/** A peer left. */
export interface LeftMessage {
  type: "left";
  name: string;
  reason: LeaveReason;
}
/** Peers online elsewhere became unreachable, or reachable again. */
export interface PeerStateMessage {
  type: "peer-state";
  names: string[];
  state: PeerReachability;
}
/** A peer's public keys. */
export interface KeyInfoMessage {
  type: "key-info";
  re: number;
  name: string;
  encKey: string;
  signKey: string;
  online: boolean;
}
/** The video list. */
export interface VideosMessage {
  type: "videos";
  re: number;
  videos: VideoSummary[];
}
/** A sealed message from a peer. */
export interface DeliverMessage {
  type: "deliver";
  /** A random relay id, echoed in the `receipt`. */
  rid: string;
  from: string;
  body: Uint8Array;
  /** Kept for the recipient while they were offline, and sent on their join. */
  queued?: boolean;
  /** The message's place in the recipient's queue (with `queued`). */
  qseq?: number;
}
/** The recipient's client confirmed a message. */
export interface DeliveredMessage {
  type: "delivered";
  re: number;
  to: string;
  /** A queued message's place in the recipient's queue: this confirms it, later. */
  qseq?: number;
}
/** A generic success answer. */
export interface OkMessage {
  type: "ok";
  re: number;
}
/** An error, in answer to a request (`re`) or unprompted. */
export interface ErrorMessage {
  type: "error";
  re?: number;
  code: ErrorCode;
  message: string;
}
/** A stream begins. */
export interface StreamStartMessage {
  type: "stream-start";
  re: number;
  streamId: number;
  title: string;
  duration: number;
  codec: "h264" | "mjpeg";
  container: "mpegts" | "mjpeg";
  fps: number;
  hasAudio: boolean;
  renditions: RenditionInfo[];
  quality: Quality;
  /** Where the stream starts, seconds (the start of the first segment sent). */
  position: number;
  /** The epoch of the media that follows: 0. */
  epoch: number;
}
/** The stream jumped: every media frame after this belongs to `epoch`, from segment `index`. */
export interface StreamSeekMessage {
  type: "stream-seek";
  re: number;
  streamId: number;
  epoch: number;
  /** The start of segment `index`, seconds. */
  position: number;
  index: number;
  /** Whether the stream is held (a seek while paused stays paused). */
  paused: boolean;
}
/** A segment begins; its media chunks follow. */
export interface SegmentMessage {
  type: "segment";
  streamId: number;
  epoch: number;
  index: number;
  height: number;
  bitrate: number;
  start: number;
  duration: number;
  bytes: number;
}
/** A stream ended; no media for it follows. */
export interface StreamEndMessage {
  type: "stream-end";
  streamId: number;
  reason: StreamEndReason;
  re?: number;
  /** Why an `error` end happened, e.g. `SLOW_CONSUMER` or `PAUSE_TIMEOUT`. */
  code?: ErrorCode;
  message?: string;
}
/** The server is shutting down. */
export interface ShutdownMessage {
  type: "shutdown";
  message: string;
}
/** A chunk of media of one segment. */
export interface MediaMessage {
  type: "media";
  streamId: number;
  index: number;
  data: Uint8Array;
}

/** Messages a client sends. */
export type ClientMessage =
  | HelloMessage
  | ListMessage
  | KeyRequestMessage
  | SendMessage
  | ReceiptMessage
  | PlayMessage
  | StopMessage
  | QualityMessage
  | PauseMessage
  | ResumeMessage
  | SeekMessage
  | SegmentAckMessage
  | PingMessage
  | PongMessage
  | QuitMessage;

/** Messages a server sends. */
export type ServerMessage =
  | ServerHelloMessage
  | WelcomeMessage
  | JoinedMessage
  | LeftMessage
  | PeerStateMessage
  | KeyInfoMessage
  | VideosMessage
  | DeliverMessage
  | DeliveredMessage
  | OkMessage
  | ErrorMessage
  | StreamStartMessage
  | StreamSeekMessage
  | SegmentMessage
  | StreamEndMessage
  | ShutdownMessage
  | QueuedMessage
  | ExpiredMessage
  | PingMessage
  | PongMessage
  | MediaMessage;

/** Every message of the protocol. */
export type Message = ClientMessage | ServerMessage;

/** The `type` of every message. */
export type MessageType = Message["type"];

// ---- validation ----

type Check = (value: unknown, field: string) => void;

const NAME_MAX = 64;
/** The most characters of a field name or type an error message repeats (they are untrusted). */
const FIELD_SHOWN_MAX = 64;

/**
 * A field path as error messages show it: escaped and cut, so that a 1 MiB key makes a short
 * error (one that still fits a frame and a log line) and a key with escapes forges nothing.
 */
function fieldLabel(path: string): string {
  return logText(path, FIELD_SHOWN_MAX);
}
const KEY_B64_MAX = 1024;
const TEXT_MAX = 512;

function str(max: number): Check {
  return (value, field) => {
    if (typeof value !== "string") {
      throw new TypeError(`Invalid field "${field}": expected a string`);
    }
    if (value.length > max) {
      throw new RangeError(`Invalid field "${field}": longer than ${max} characters`);
    }
  };
}
function uint(max = 0xffff_ffff): Check {
  return (value, field) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new TypeError(`Invalid field "${field}": expected a non-negative integer`);
    }
    if (value > max) throw new RangeError(`Invalid field "${field}": larger than ${max}`);
  };
}
const num: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Invalid field "${field}": expected a non-negative number`);
  }
};
const bool: Check = (value, field) => {
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid field "${field}": expected a boolean`);
  }
};
function oneOf(values: readonly unknown[]): Check {
  return (value, field) => {
    if (!values.includes(value)) {
      throw new TypeError(
        `Invalid field "${field}": expected one of ${
          values.map((v) => JSON.stringify(v)).join(", ")
        }`,
      );
    }
  };
}
function optional(check: Check): Check & { optional: true } {
  return Object.assign((value: unknown, field: string) => check(value, field), {
    optional: true as const,
  });
}
function arrayOf(item: Check, max: number): Check {
  return (value, field) => {
    if (!Array.isArray(value)) throw new TypeError(`Invalid field "${field}": expected an array`);
    if (value.length > max) {
      throw new RangeError(`Invalid field "${field}": more than ${max} items`);
    }
    value.forEach((v, i) => item(v, `${field}[${i}]`));
  };
}
function object(spec: Record<string, Check>): Check {
  return (value, field) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(`Invalid field "${field}": expected an object`);
    }
    checkFields(value as Record<string, unknown>, spec, `${field}.`);
  };
}
const errorCode: Check = (value, field) => {
  if (!isErrorCode(value)) throw new TypeError(`Invalid field "${field}": unknown error code`);
};
const quality: Check = (value, field) => {
  if (value === "auto") return;
  uint(10_000)(value, field);
};

const id = uint();
const position = num;
/** A relay id: an opaque token of 1 to 32 URL-safe base64 characters. */
const rid: Check = (value, field) => {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(value)) {
    throw new TypeError(`Invalid field "${field}": expected a relay id of 1 to 32 characters`);
  }
};
const name = str(NAME_MAX);
const b64key = str(KEY_B64_MAX);

const queue = queueSpecs<Check>({
  id,
  name,
  optionalId: optional(id),
  optionalBool: optional(bool),
});

const videoSummary = object({
  title: str(NAME_MAX * 4),
  heights: arrayOf(uint(10_000), 16),
  duration: num,
  hasAudio: bool,
  state: oneOf(["ready", "preparing", "failed"]),
  progress: num,
});
const rendition = object({ height: uint(10_000), width: uint(20_000), bitrate: num });

/** Field checks per message type; `body` and `data` are handled by the frame layer. */
const SPECS: { [K in Exclude<MessageType, "media">]: Record<string, Check> } = {
  hello: {
    version: uint(),
    name,
    encKey: b64key,
    signKey: b64key,
    proof: b64key,
    ephemeral: optional(bool),
  },
  list: { id },
  key: { id, name },
  send: { id, to: name },
  receipt: { rid, ok: bool, code: optional(errorCode) },
  play: { id, title: str(NAME_MAX * 4), quality, position: optional(position) },
  stop: { id },
  quality: { id, quality, position: optional(position) },
  pause: { id },
  resume: { id },
  seek: { id, position },
  "seg-ack": { streamId: id, epoch: id, index: id },
  ping: { id },
  pong: { id },
  quit: {},
  "server-hello": { version: uint(), server: str(TEXT_MAX), challenge: b64key },
  welcome: {
    name,
    peers: arrayOf(name, 100_000),
    maxSealedBytes: uint(),
    unreachable: optional(arrayOf(name, 100_000)),
  },
  joined: { name },
  left: { name, reason: oneOf(["quit", "disconnected", "timeout", "kicked"]) },
  "peer-state": { names: arrayOf(name, 100_000), state: oneOf(["unreachable", "reachable"]) },
  "key-info": { re: id, name, encKey: b64key, signKey: b64key, online: bool },
  videos: { re: id, videos: arrayOf(videoSummary, 10_000) },
  deliver: { rid, from: name, ...queue.deliverExtra },
  delivered: { re: id, to: name, ...queue.deliveredExtra },
  queued: queue.queued,
  expired: queue.expired,
  ok: { re: id },
  error: { re: optional(id), code: errorCode, message: str(TEXT_MAX * 4) },
  "stream-start": {
    re: id,
    streamId: id,
    title: str(NAME_MAX * 4),
    duration: num,
    codec: oneOf(["h264", "mjpeg"]),
    container: oneOf(["mpegts", "mjpeg"]),
    fps: num,
    hasAudio: bool,
    renditions: arrayOf(rendition, 16),
    quality,
    position,
    epoch: id,
  },
  "stream-seek": {
    re: id,
    streamId: id,
    epoch: id,
    position,
    index: id,
    paused: bool,
  },
  segment: {
    streamId: id,
    epoch: id,
    index: id,
    height: uint(10_000),
    bitrate: num,
    start: num,
    duration: num,
    bytes: uint(),
  },
  "stream-end": {
    streamId: id,
    reason: oneOf(["finished", "stopped", "error"]),
    re: optional(id),
    code: optional(errorCode),
    message: optional(str(TEXT_MAX * 4)),
  },
  shutdown: { message: str(TEXT_MAX * 4) },
};

/** Message types that carry a binary `body`. */
const BODY_TYPES = new Set<string>(["send", "deliver"]);

function checkFields(obj: Record<string, unknown>, spec: Record<string, Check>, prefix = "") {
  // for…in, not Object.keys or entries: no array per message. `obj` comes from JSON.parse and
  // `spec` is a literal, so neither has enumerable inherited keys.
  for (const key in obj) {
    // Object.hasOwn, not `in`: inherited names such as "constructor" are not fields.
    if (!Object.hasOwn(spec, key) && !(prefix === "" && key === "type")) {
      throw new TypeError(`Invalid field ${fieldLabel(prefix + key)}: not part of this message`);
    }
  }
  for (const key in spec) {
    const check = spec[key];
    const value = obj[key];
    if (value === undefined) {
      if ("optional" in check) continue;
      throw new TypeError(`Missing field "${prefix}${key}"`);
    }
    check(value, prefix + key);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes before the media in a media frame's payload: stream id and segment index. */
export const MEDIA_HEADER_BYTES = 8;

/**
 * Encodes a message into one frame.
 *
 * @param message The message.
 * @returns A fresh buffer holding the frame.
 * @throws {RangeError} When the frame would exceed `MAX_FRAME_BYTES`.
 */
export function encodeMessage(message: Message): Uint8Array<ArrayBuffer> {
  if (message.type === "media") {
    if (MEDIA_HEADER_BYTES + message.data.length > MAX_FRAME_BYTES) {
      throw new RangeError(
        `Cannot encode media: ${message.data.length} bytes exceeds the ${
          MAX_FRAME_BYTES - MEDIA_HEADER_BYTES
        }-byte limit; split the chunk`,
      );
    }
    const out = new Uint8Array(FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES + message.data.length);
    writeMediaFrameHeader(out, message.streamId, message.index, message.data.length);
    out.set(message.data, FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES);
    return out;
  }
  if (BODY_TYPES.has(message.type)) {
    const { body, ...rest } = message as SendMessage | DeliverMessage;
    const text = JSON.stringify(rest);
    const start = FRAME_HEADER_BYTES + 4;
    // Built in place: the body (up to 96 KiB, once per relayed message) is copied only once.
    let out = new Uint8Array(start + text.length + body.length);
    let jsonLength = _encodeAscii(text, out, start);
    if (jsonLength < 0) {
      const json = encoder.encode(text);
      out = new Uint8Array(start + json.length + body.length);
      out.set(json, start);
      jsonLength = json.length;
    }
    const length = 4 + jsonLength + body.length;
    if (length > MAX_FRAME_BYTES) {
      throw new RangeError(
        `Cannot encode "${message.type}": ${length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
      );
    }
    writeFrameHeader(out, FrameType.ControlWithBody, length);
    writeUint32(out, FRAME_HEADER_BYTES, jsonLength);
    out.set(body, start + jsonLength);
    return out;
  }
  const text = JSON.stringify(message);
  if (text.length > MAX_FRAME_BYTES) return encodeFrame(FrameType.Control, encoder.encode(text));
  const out = new Uint8Array(FRAME_HEADER_BYTES + text.length);
  if (_encodeAscii(text, out, FRAME_HEADER_BYTES) < 0) {
    return encodeFrame(FrameType.Control, encoder.encode(text));
  }
  writeFrameHeader(out, FrameType.Control, text.length);
  return out;
}

/**
 * Encodes `text` into `out` at `at` when it is all ASCII, as JSON text mostly is (one pass, no
 * intermediate buffer); `out` must have room for `text.length` bytes there.
 *
 * @returns The bytes written, or -1 when the text is not all ASCII (nothing useful was written).
 */
function _encodeAscii(text: string, out: Uint8Array, at: number): number {
  const { read, written } = encoder.encodeInto(text, out.subarray(at, at + text.length));
  return read === text.length && written === text.length ? written : -1;
}

/** Options for {@linkcode encodeMediaFrames}. */
export interface MediaFramesOptions {
  /** Most media bytes per frame. @default {65536} */
  chunkBytes?: number;
}

/**
 * Encodes media as consecutive media frames in one buffer, each with at most `chunkBytes` bytes of
 * media, so that a segment can be framed once and the same bytes written to every viewer of a
 * stream id (never modified after).
 *
 * @example
 * ```ts
 * const frames = encodeMediaFrames(1, 0, new Uint8Array(100_000), { chunkBytes: 65536 });
 * // Two frames: 13 + 65,536 and 13 + 34,464 bytes.
 * ```
 *
 * @param streamId The stream.
 * @param index The segment index.
 * @param data The media; empty gives no frames (an empty buffer).
 * @param options The chunk size.
 * @returns A fresh buffer of whole frames.
 * @throws {RangeError} When `chunkBytes` is not a whole number from 1 to the largest media frame.
 */
export function encodeMediaFrames(
  streamId: number,
  index: number,
  data: Uint8Array,
  options: MediaFramesOptions = {},
): Uint8Array<ArrayBuffer> {
  const chunk = options.chunkBytes ?? 64 * 1024;
  if (!Number.isInteger(chunk) || chunk < 1 || MEDIA_HEADER_BYTES + chunk > MAX_FRAME_BYTES) {
    throw new RangeError(
      `Cannot encode media frames: chunk of ${chunk} bytes is not from 1 to ${
        MAX_FRAME_BYTES - MEDIA_HEADER_BYTES
      }`,
    );
  }
  const frames = Math.ceil(data.length / chunk);
  const header = FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES;
  const out = new Uint8Array(frames * header + data.length);
  let at = 0;
  for (let from = 0; from < data.length; from += chunk) {
    const piece = data.subarray(from, from + chunk);
    writeMediaFrameHeader(out.subarray(at), streamId, index, piece.length);
    out.set(piece, at + header);
    at += header + piece.length;
  }
  return out;
}

/**
 * Writes the frame header and media header of a media frame, so that media bytes can follow
 * without being copied.
 *
 * @param target At least `FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES` bytes.
 * @param streamId The stream.
 * @param index The segment index.
 * @param dataLength How many media bytes follow.
 */
export function writeMediaFrameHeader(
  target: Uint8Array,
  streamId: number,
  index: number,
  dataLength: number,
): void {
  writeFrameHeader(target, FrameType.Media, MEDIA_HEADER_BYTES + dataLength);
  writeUint32(target, FRAME_HEADER_BYTES, streamId);
  writeUint32(target, FRAME_HEADER_BYTES + 4, index);
}

/**
 * Decodes and validates the message in a frame.
 *
 * @param frame A frame from `FrameDecoder`.
 * @returns The message, every field checked.
 * @throws {SyntaxError} When the JSON or UTF-8 is malformed.
 * @throws {TypeError} When the frame type or message type is unknown, or a field is missing,
 * unexpected or of the wrong type.
 * @throws {RangeError} When a field exceeds its limit.
 */
export function decodeMessage(frame: Frame): Message {
  const { type, payload } = frame;
  if (type === FrameType.Media) {
    if (payload.length < MEDIA_HEADER_BYTES) {
      throw new RangeError(
        `Invalid media frame: ${payload.length} bytes is shorter than its header`,
      );
    }
    return {
      type: "media",
      streamId: readUint32(payload, 0),
      index: readUint32(payload, 4),
      data: payload.subarray(MEDIA_HEADER_BYTES),
    };
  }
  let jsonBytes: Uint8Array;
  let body: Uint8Array | undefined;
  if (type === FrameType.Control) {
    jsonBytes = payload;
  } else if (type === FrameType.ControlWithBody) {
    if (payload.length < 4) throw new RangeError("Invalid frame: body frame shorter than 4 bytes");
    const jsonLength = readUint32(payload, 0);
    if (jsonLength > payload.length - 4) {
      throw new RangeError(`Invalid frame: JSON length ${jsonLength} exceeds the frame`);
    }
    jsonBytes = payload.subarray(4, 4 + jsonLength);
    body = payload.subarray(4 + jsonLength);
  } else {
    throw new TypeError(`Invalid frame: unknown frame type ${type}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(jsonBytes));
  } catch (error) {
    throw new SyntaxError("Invalid frame: payload is not UTF-8 JSON", { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid message: expected a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const messageType = obj.type;
  if (typeof messageType !== "string" || !Object.hasOwn(SPECS, messageType)) {
    const shown = typeof messageType === "string"
      ? fieldLabel(messageType)
      : String(JSON.stringify(messageType)).slice(0, FIELD_SHOWN_MAX);
    throw new TypeError(`Invalid message: unknown type ${shown}`);
  }
  const wantsBody = BODY_TYPES.has(messageType);
  if (wantsBody !== (body !== undefined)) {
    throw new TypeError(
      `Invalid message: "${messageType}" ${wantsBody ? "needs" : "cannot have"} a binary body`,
    );
  }
  checkFields(obj, SPECS[messageType as keyof typeof SPECS]);
  // The body is bounded by the frame cap; the server checks MAX_SEALED_BYTES itself, so that an
  // oversized message gets MESSAGE_TOO_LARGE and the connection survives.
  if (body !== undefined) obj.body = body;
  return obj as unknown as Message;
}

/** Whether a message is one a client may send. */
export function isClientMessage(message: Message): message is ClientMessage {
  return CLIENT_TYPES.has(message.type);
}

/** Whether a message is one a server may send. */
export function isServerMessage(message: Message): message is ServerMessage {
  return !CLIENT_TYPES.has(message.type) || message.type === "ping" || message.type === "pong";
}

const CLIENT_TYPES = new Set<string>([
  "hello",
  "list",
  "key",
  "send",
  "receipt",
  "play",
  "stop",
  "quality",
  "pause",
  "resume",
  "seek",
  "seg-ack",
  "ping",
  "pong",
  "quit",
]);

/** Every message type, for tests and docs. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  ...Object.keys(SPECS),
  "media",
] as MessageType[];
