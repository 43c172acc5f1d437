/**
 * The messages of the peerstream protocol: a discriminated union on `type`, with strict validation
 * of every field on decode.
 *
 * Control messages travel as UTF-8 JSON in {@linkcode FrameType.Control} frames. Messages with a
 * binary body (`send`, `deliver`) travel in {@linkcode FrameType.ControlWithBody} frames, so that
 * ciphertext is bytes on the wire, not base64. Media chunks have their own compact binary frame.
 * @module
 */

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
import { type Check, checkFields, FIELD_SHOWN_MAX, fieldLabel } from "./messages_checks.ts";
import {
  CLIENT_SPECS,
  type HelloMessage,
  type KeyRequestMessage,
  type ListMessage,
  type PauseMessage,
  type PingMessage,
  type PlayMessage,
  type PongMessage,
  type QualityMessage,
  type QuitMessage,
  type ReceiptMessage,
  type ResumeMessage,
  type SeekMessage,
  type SegmentAckMessage,
  type SendMessage,
  type StopMessage,
} from "./messages_client.ts";
import {
  type DeliveredMessage,
  type DeliverMessage,
  type ErrorMessage,
  type JoinedMessage,
  type KeyInfoMessage,
  type LeftMessage,
  type MediaMessage,
  type OkMessage,
  type PeerStateMessage,
  type SegmentMessage,
  SERVER_SPECS,
  type ServerHelloMessage,
  type ShutdownMessage,
  type StreamEndMessage,
  type StreamSeekMessage,
  type StreamStartMessage,
  type VideosMessage,
  type WelcomeMessage,
} from "./messages_server.ts";
import type { ExpiredMessage, QueuedMessage } from "./queue_messages.ts";
import type {
  RoomChainMessage,
  RoomChangeMessage,
  RoomCreateMessage,
  RoomEntriesMessage,
  RoomSendMessage,
  RoomSentMessage,
  RoomsMessage,
} from "./room_messages.ts";
import type {
  RoomControlMessage,
  RoomPlaybackMessage,
  TimeIsMessage,
  TimeMessage,
} from "./watch_messages.ts";

export type {
  RoomControlMessage,
  RoomPlaybackMessage,
  TimeIsMessage,
  TimeMessage,
  WatchAction,
} from "./watch_messages.ts";
export type { ExpiredMessage, QueuedMessage } from "./queue_messages.ts";
export type {
  RoomChainMessage,
  RoomChangeMessage,
  RoomCreateMessage,
  RoomEntriesMessage,
  RoomSendMessage,
  RoomSentMessage,
  RoomsMessage,
  RoomSummary,
} from "./room_messages.ts";
export type {
  HelloMessage,
  KeyRequestMessage,
  ListMessage,
  PauseMessage,
  PingMessage,
  PlayMessage,
  PongMessage,
  Quality,
  QualityMessage,
  QuitMessage,
  ReceiptMessage,
  ResumeMessage,
  SeekMessage,
  SegmentAckMessage,
  SendMessage,
  StopMessage,
} from "./messages_client.ts";
export type {
  DeliveredMessage,
  DeliverMessage,
  ErrorMessage,
  JoinedMessage,
  KeyInfoMessage,
  LeaveReason,
  LeftMessage,
  MediaMessage,
  OkMessage,
  PeerReachability,
  PeerStateMessage,
  RenditionInfo,
  SegmentMessage,
  ServerHelloMessage,
  ShutdownMessage,
  StreamEndMessage,
  StreamEndReason,
  StreamSeekMessage,
  StreamStartMessage,
  VideosMessage,
  VideoSummary,
  WelcomeMessage,
} from "./messages_server.ts";

/** The protocol version; both ends must speak the same one. */
export const PROTOCOL_VERSION = 3;

/** The largest sealed message body a client may send: 96 KiB (64 KiB of text plus overhead). */
export const MAX_SEALED_BYTES = 96 * 1024;

/** The longest text a user may send in one message: 64 KiB of UTF-8. */
export const MAX_TEXT_BYTES = 64 * 1024;

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
  | QuitMessage
  | RoomCreateMessage
  | RoomChangeMessage
  | RoomChainMessage
  | RoomSendMessage
  | TimeMessage
  | RoomControlMessage;

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
  | RoomEntriesMessage
  | RoomSentMessage
  | RoomsMessage
  | TimeIsMessage
  | RoomPlaybackMessage
  | PingMessage
  | PongMessage
  | MediaMessage;

/** Every message of the protocol. */
export type Message = ClientMessage | ServerMessage;

/** The `type` of every message. */
export type MessageType = Message["type"];

/** Field checks per message type; `body` and `data` are handled by the frame layer. */
const SPECS: { [K in Exclude<MessageType, "media">]: Record<string, Check> } = {
  ...CLIENT_SPECS,
  ...SERVER_SPECS,
};

/** Message types that carry a binary `body`. */
const BODY_TYPES = new Set<string>(["send", "deliver", "room-send"]);

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
    const { body, ...rest } = message as SendMessage | DeliverMessage | RoomSendMessage;
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

/** What a client may send: every type of the client specs (`ping` and `pong` go both ways). */
const CLIENT_TYPES = new Set<string>(Object.keys(CLIENT_SPECS));

/** Every message type, for tests and docs. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  ...Object.keys(SPECS),
  "media",
] as MessageType[];
