/**
 * The messages a client sends and the field checks each takes on decode. Re-exported by
 * `messages.ts`, which holds the union and the codec.
 * @module
 */

import type { ErrorCode } from "./errors.ts";
import {
  b64key,
  bool,
  type Check,
  errorCode,
  id,
  name,
  NAME_MAX,
  optional,
  position,
  quality,
  rid,
  str,
  uint,
} from "./messages_checks.ts";
import { ROOM_CLIENT_SPECS } from "./room_messages.ts";
import { WATCH_CLIENT_SPECS } from "./watch_messages.ts";

/** A requested quality: a height, or `auto` for adaptive switching. */
export type Quality = number | "auto";

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

/** Field checks per message type a client sends; `body` is handled by the frame layer. */
export const CLIENT_SPECS = {
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
  ...ROOM_CLIENT_SPECS,
  ...WATCH_CLIENT_SPECS,
} satisfies Record<string, Record<string, Check>>;
