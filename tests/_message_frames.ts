/**
 * Message samples and hand-made frames for the `protocol/messages*_test.ts` suites: at least one
 * valid sample of every message type (`SAMPLES`, `ALL`), and control and body frames written
 * from JSON text as a hostile peer would.
 * @module
 */

import { type Frame, FrameType } from "../protocol/frame.ts";
import { MAX_SEALED_BYTES, type Message, type MessageType } from "../protocol/messages.ts";

/** A JSON array of `count` names. */
export function names(count: number): string {
  return JSON.stringify(Array.from({ length: count }, () => "n"));
}

export const text = new TextEncoder();

export function control(json: string): Frame {
  return { type: FrameType.Control, payload: new Uint8Array(text.encode(json)) };
}

export function withBody(json: string, body: Uint8Array, jsonLength?: number): Frame {
  const bytes = text.encode(json);
  const payload = new Uint8Array(4 + bytes.length + body.length);
  new DataView(payload.buffer).setUint32(0, jsonLength ?? bytes.length);
  payload.set(bytes, 4);
  payload.set(body, 4 + bytes.length);
  return { type: FrameType.ControlWithBody, payload };
}

export const KEY = "MCowBQYDK2VwAyEA" + "A".repeat(43) + "=";
export const ROOM = "AAAAAAAAAAAAAAAAAAAA-_";

/** At least one valid sample per message type; optional fields both present and absent. */
export const SAMPLES: { [K in MessageType]: Extract<Message, { type: K }>[] } = {
  hello: [{ type: "hello", version: 1, name: "alice", encKey: KEY, signKey: KEY, proof: "c2ln" }],
  list: [{ type: "list", id: 0 }, { type: "list", id: 0xffff_ffff }],
  key: [{ type: "key", id: 7, name: "bob" }],
  send: [
    { type: "send", id: 1, to: "bob", body: new Uint8Array([0, 1, 0xfe, 0xff]) },
    { type: "send", id: 2, to: "bob", body: new Uint8Array(0) },
  ],
  receipt: [
    { type: "receipt", rid: "AAAAAAAAAAAAAAAA", ok: true },
    { type: "receipt", rid: "x-_9", ok: false, code: "BAD_SIGNATURE" },
  ],
  play: [
    { type: "play", id: 5, title: "big_buck_bunny", quality: "auto" },
    { type: "play", id: 6, title: "東京", quality: 720 },
  ],
  stop: [{ type: "stop", id: 8 }],
  quality: [{ type: "quality", id: 9, quality: 240 }, { type: "quality", id: 9, quality: "auto" }],
  "seg-ack": [{ type: "seg-ack", streamId: 1, epoch: 0, index: 42 }],
  pause: [{ type: "pause", id: 14 }],
  resume: [{ type: "resume", id: 15 }],
  seek: [{ type: "seek", id: 16, position: 0 }, { type: "seek", id: 17, position: 90.5 }],
  ping: [{ type: "ping", id: 10 }],
  pong: [{ type: "pong", id: 10 }],
  quit: [{ type: "quit" }],
  "server-hello": [{
    type: "server-hello",
    version: 1,
    server: "peerstream 0.1.0",
    challenge: "AAAA",
  }],
  welcome: [
    { type: "welcome", name: "alice", peers: [], maxSealedBytes: MAX_SEALED_BYTES },
    { type: "welcome", name: "zoë", peers: ["bob", "Łukasz"], maxSealedBytes: 1 },
  ],
  joined: [{ type: "joined", name: "carol" }],
  "peer-state": [
    { type: "peer-state", names: ["bob"], state: "unreachable" },
    { type: "peer-state", names: [], state: "reachable" },
  ],
  left: [
    { type: "left", name: "carol", reason: "quit" },
    { type: "left", name: "carol", reason: "kicked" },
  ],
  "key-info": [
    { type: "key-info", re: 7, name: "bob", encKey: KEY, signKey: KEY, online: false },
  ],
  videos: [
    { type: "videos", re: 0, videos: [] },
    {
      type: "videos",
      re: 1,
      videos: [
        {
          title: "cat",
          heights: [240, 480, 720],
          duration: 12.5,
          hasAudio: true,
          state: "ready",
          progress: 1,
        },
        {
          title: "dog",
          heights: [],
          duration: 0,
          hasAudio: false,
          state: "preparing",
          progress: 0.3,
        },
      ],
    },
  ],
  deliver: [
    { type: "deliver", rid: "r1", from: "alice", body: new Uint8Array([0x7b, 0x7d, 0]) },
    { type: "deliver", rid: "q7", from: "alice", body: new Uint8Array([1]), queued: true, qseq: 7 },
    { type: "deliver", rid: "r2", from: "alice", body: new Uint8Array([2]), room: ROOM },
  ],
  delivered: [
    { type: "delivered", re: 1, to: "bob" },
    { type: "delivered", re: 1, to: "bob", qseq: 0xffff_ffff },
  ],
  queued: [{ type: "queued", re: 3, to: "bob", qseq: 1 }],
  expired: [{ type: "expired", to: "bob", qseq: 2 }],
  ok: [{ type: "ok", re: 12 }],
  error: [
    { type: "error", code: "SHUTTING_DOWN", message: "Server is shutting down" },
    { type: "error", re: 13, code: "UNKNOWN_PEER", message: 'Cannot send to "x": no such peer' },
  ],
  "stream-start": [
    {
      type: "stream-start",
      re: 5,
      streamId: 1,
      title: "cat",
      duration: 60,
      codec: "h264",
      container: "mpegts",
      fps: 29.97,
      hasAudio: true,
      renditions: [
        { height: 240, width: 426, bitrate: 400_000 },
        { height: 720, width: 1280, bitrate: 2_500_000 },
      ],
      quality: "auto",
      position: 0,
      epoch: 0,
    },
    {
      type: "stream-start",
      re: 6,
      streamId: 2,
      title: "mjpeg",
      duration: 1,
      codec: "mjpeg",
      container: "mjpeg",
      fps: 10,
      hasAudio: false,
      renditions: [],
      quality: 480,
      position: 30,
      epoch: 2,
    },
  ],
  segment: [
    {
      type: "segment",
      streamId: 1,
      epoch: 0,
      index: 0,
      height: 240,
      bitrate: 400_000,
      start: 0,
      duration: 2,
      bytes: 100_000,
    },
  ],
  "stream-seek": [
    { type: "stream-seek", re: 16, streamId: 1, epoch: 1, position: 88, index: 44, paused: false },
  ],
  "stream-end": [
    { type: "stream-end", streamId: 1, reason: "finished" },
    { type: "stream-end", streamId: 1, reason: "error", re: 5, message: "ffmpeg exited" },
  ],
  shutdown: [{ type: "shutdown", message: "bye" }],
  "room-create": [{ type: "room-create", id: 1, name: "club", entry: "cGVlcg==" }],
  "room-change": [{ type: "room-change", id: 2, room: ROOM, entry: "cGVlcg==" }],
  "room-chain": [{ type: "room-chain", id: 3, room: ROOM, from: 0 }],
  "room-entries": [
    { type: "room-entries", re: 3, room: ROOM, entries: ["cGVlcg==", "cGVlcnM="] },
    { type: "room-entries", room: ROOM, entries: [] },
  ],
  "room-sent": [
    { type: "room-sent", re: 4, room: ROOM, relayed: [], queued: [], refused: [] },
    {
      type: "room-sent",
      re: 5,
      room: ROOM,
      relayed: ["bob"],
      queued: [{ name: "carol", qseq: 7 }],
      refused: [{ name: "dave", code: "QUEUE_FULL", message: 'Cannot queue for "dave"' }],
    },
  ],
  rooms: [
    { type: "rooms", rooms: [] },
    { type: "rooms", rooms: [{ room: ROOM, name: "club", seq: 4, head: "A".repeat(43) + "=" }] },
  ],
  "room-send": [{ type: "room-send", id: 4, room: ROOM, body: new Uint8Array([3, 2]) }],
  time: [{ type: "time", id: 9 }],
  "time-is": [{ type: "time-is", re: 9, server: 1_765_000_000_123.25 }],
  "room-control": [
    { type: "room-control", id: 10, room: ROOM, action: "play", title: "The Movie", position: 0 },
    { type: "room-control", id: 11, room: ROOM, action: "pause" },
    { type: "room-control", id: 12, room: ROOM, action: "seek", position: 61.5 },
  ],
  "room-playback": [
    {
      type: "room-playback",
      re: 10,
      room: ROOM,
      action: "play",
      by: "alice",
      title: "The Movie",
      epoch: 1,
      anchor: 1_765_000_000_000,
      position: 0,
      rate: 1,
    },
    {
      type: "room-playback",
      room: ROOM,
      action: "stop",
      epoch: 7,
      anchor: 1_765_000_000_500.5,
      position: 12.25,
      rate: 0,
    },
  ],
  media: [
    { type: "media", streamId: 1, index: 0, data: new Uint8Array([0x47, 0, 0x11, 0x10]) },
    { type: "media", streamId: 0xffff_ffff, index: 0xffff_ffff, data: new Uint8Array(0) },
  ],
};

export const ALL: Message[] = Object.values(SAMPLES).flat();
