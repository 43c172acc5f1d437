/**
 * The messages a server sends and the field checks each takes on decode. Re-exported by
 * `messages.ts`, which holds the union and the codec.
 * @module
 */

import { MAX_LISTED_NAMES } from "./bounds.ts";
import type { ErrorCode } from "./errors.ts";
import {
  arrayOf,
  b64key,
  bool,
  type Check,
  errorCode,
  id,
  name,
  NAME_MAX,
  num,
  object,
  oneOf,
  optional,
  position,
  quality,
  rid,
  str,
  TEXT_MAX,
  uint,
} from "./messages_checks.ts";
import type { Quality } from "./messages_client.ts";
import { queueSpecs } from "./queue_messages.ts";
import { ROOM_DELIVER_EXTRA, ROOM_SERVER_SPECS } from "./room_messages.ts";
import { WATCH_SERVER_SPECS } from "./watch_messages.ts";

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

/** Why a peer left. */
export type LeaveReason = "quit" | "disconnected" | "timeout" | "kicked";

/** Whether a peer online on another cluster node can be reached. */
export type PeerReachability = "unreachable" | "reachable";

/** Why a stream ended. */
export type StreamEndReason = "finished" | "stopped" | "error";

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
  /** The room it was sent to (`room-send`); absent for a 1:1 message. */
  room?: string;
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

/** Field checks per message type a server sends; `body` and `data` are handled by the frame layer. */
export const SERVER_SPECS = {
  "server-hello": { version: uint(), server: str(TEXT_MAX), challenge: b64key },
  welcome: {
    name,
    peers: arrayOf(name, MAX_LISTED_NAMES),
    maxSealedBytes: uint(),
    unreachable: optional(arrayOf(name, MAX_LISTED_NAMES)),
  },
  joined: { name },
  left: { name, reason: oneOf(["quit", "disconnected", "timeout", "kicked"]) },
  "peer-state": {
    names: arrayOf(name, MAX_LISTED_NAMES),
    state: oneOf(["unreachable", "reachable"]),
  },
  "key-info": { re: id, name, encKey: b64key, signKey: b64key, online: bool },
  videos: { re: id, videos: arrayOf(videoSummary, 10_000) },
  deliver: { rid, from: name, ...queue.deliverExtra, ...ROOM_DELIVER_EXTRA },
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
  ...ROOM_SERVER_SPECS,
  ...WATCH_SERVER_SPECS,
} satisfies Record<string, Record<string, Check>>;
