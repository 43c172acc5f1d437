/**
 * The table of malformed frames for `protocol/messages_malformed_test.ts`: each row a frame, the
 * built-in error class `decodeMessage()` must throw and a fragment of its message (frame layer,
 * JSON, fields, types, ranges, names, rooms, quality).
 * @module
 */

import { MAX_LISTED_NAMES } from "../protocol/bounds.ts";
import { type Frame, FrameType } from "../protocol/frame.ts";
import { control, names, ROOM, text, withBody } from "./_message_frames.ts";
import { concatBytes } from "./_util.ts";

export type ErrorClass = typeof TypeError | typeof RangeError | typeof SyntaxError;

export const MALFORMED: { name: string; frame: Frame; error: ErrorClass; fragment: string }[] = [
  // frame layer
  ...[0, 4, 255].map((type) => ({
    name: `unknown frame type ${type}`,
    frame: { ...control('{"type":"quit"}'), type },
    error: TypeError,
    fragment: `unknown frame type ${type}`,
  })),
  {
    name: "body frame shorter than its 4-byte JSON length",
    frame: { type: FrameType.ControlWithBody, payload: new Uint8Array([0, 0, 0]) },
    error: RangeError,
    fragment: "shorter than 4 bytes",
  },
  {
    name: "JSON length in a body frame exceeding the frame",
    frame: withBody('{"type":"send","id":1,"to":"b"}', new Uint8Array(2), 34),
    error: RangeError,
    fragment: "JSON length 34 exceeds the frame",
  },
  {
    name: "JSON length 0xffffffff in a body frame",
    frame: withBody("", new Uint8Array(0), 0xffff_ffff),
    error: RangeError,
    fragment: "exceeds the frame",
  },
  ...[0, 7].map((length) => ({
    name: `media frame of ${length} bytes, shorter than its 8-byte header`,
    frame: { type: FrameType.Media, payload: new Uint8Array(length) },
    error: RangeError,
    fragment: "shorter than its header",
  })),
  // watching together
  {
    name: "room-control with an unknown action",
    frame: control(`{"type":"room-control","id":1,"room":"${ROOM}","action":"rewind"}`),
    error: TypeError,
    fragment: `"action": expected one of "play"`,
  },
  {
    name: "room-playback with rate 2",
    frame: control(
      `{"type":"room-playback","room":"${ROOM}","action":"seek","epoch":1,"anchor":5,"position":1,"rate":2}`,
    ),
    error: TypeError,
    fragment: `"rate": expected one of 0, 1`,
  },
  {
    name: "time-is with a negative server time",
    frame: control('{"type":"time-is","re":1,"server":-5}'),
    error: TypeError,
    fragment: `"server": expected a non-negative number`,
  },
  // UTF-8 and JSON
  {
    name: "bad UTF-8",
    frame: { type: FrameType.Control, payload: new Uint8Array([0xff, 0xfe]) },
    error: SyntaxError,
    fragment: "not UTF-8 JSON",
  },
  {
    name: "truncated UTF-8 sequence inside a JSON string",
    frame: {
      type: FrameType.Control,
      payload: concatBytes(
        [text.encode('{"type":"joined","name":"'), [0xc3], text.encode('"}')].map(
          (p) => new Uint8Array(p),
        ),
      ),
    },
    error: SyntaxError,
    fragment: "not UTF-8 JSON",
  },
  { name: "empty payload", frame: control(""), error: SyntaxError, fragment: "not UTF-8 JSON" },
  { name: "bad JSON", frame: control('{"type":"list",'), error: SyntaxError, fragment: "JSON" },
  {
    name: "bad JSON in a body frame",
    frame: withBody("{send}", new Uint8Array(1)),
    error: SyntaxError,
    fragment: "JSON",
  },
  ...["[]", "[1]", "1", "null", '"list"', "true"].map((json) => ({
    name: `JSON that is ${json}`,
    frame: control(json),
    error: TypeError,
    fragment: "expected a JSON object",
  })),
  // message type
  ...['"nope"', '"media"', '"constructor"', '"toString"', "5", "null"].map((type) => ({
    name: `unknown message type ${type}`,
    frame: control(`{"type":${type}}`),
    error: TypeError,
    fragment: "unknown type",
  })),
  {
    name: "missing message type",
    frame: control('{"id":1}'),
    error: TypeError,
    fragment: "unknown type undefined",
  },
  // missing fields
  {
    name: "missing id",
    frame: control('{"type":"list"}'),
    error: TypeError,
    fragment: 'Missing field "id"',
  },
  {
    name: "missing reason",
    frame: control('{"type":"left","name":"bob"}'),
    error: TypeError,
    fragment: 'Missing field "reason"',
  },
  {
    name: "missing nested field",
    frame: control(
      '{"type":"videos","re":1,"videos":[{"heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1}]}',
    ),
    error: TypeError,
    fragment: 'Missing field "videos[0].title"',
  },
  {
    name: "null in place of a required field",
    frame: control('{"type":"list","id":null}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  // wrong types
  {
    name: "id as a string",
    frame: control('{"type":"list","id":"1"}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "name as a number",
    frame: control('{"type":"joined","name":5}'),
    error: TypeError,
    fragment: '"name": expected a string',
  },
  {
    name: "ok as a string",
    frame: control('{"type":"receipt","rid":"r1","ok":"yes"}'),
    error: TypeError,
    fragment: '"ok": expected a boolean',
  },
  {
    name: "peers as a string",
    frame: control('{"type":"welcome","name":"a","peers":"b","maxSealedBytes":1}'),
    error: TypeError,
    fragment: '"peers": expected an array',
  },
  {
    name: "peer name as a number",
    frame: control('{"type":"welcome","name":"a","peers":["b",2],"maxSealedBytes":1}'),
    error: TypeError,
    fragment: '"peers[1]": expected a string',
  },
  {
    name: "rendition as a number",
    frame: control(
      '{"type":"stream-start","re":1,"streamId":1,"title":"t","duration":1,"codec":"h264","container":"mpegts","fps":1,"hasAudio":true,"renditions":[5],"quality":"auto"}',
    ),
    error: TypeError,
    fragment: '"renditions[0]": expected an object',
  },
  {
    name: "leave reason outside the enum",
    frame: control('{"type":"left","name":"bob","reason":"bored"}'),
    error: TypeError,
    fragment: '"reason": expected one of "quit"',
  },
  {
    name: "negative duration",
    frame: control(
      '{"type":"segment","streamId":1,"epoch":0,"index":0,"height":1,"bitrate":1,"start":0,"duration":-1,"bytes":1}',
    ),
    error: TypeError,
    fragment: '"duration": expected a non-negative number',
  },
  // extra fields
  {
    name: "extra field",
    frame: control('{"type":"list","id":1,"extra":true}'),
    error: TypeError,
    fragment: 'Invalid field "extra": not part of this message',
  },
  ...["constructor", "toString", "__proto__", "hasOwnProperty"].map((key) => ({
    name: `extra field named like an Object.prototype member, "${key}"`,
    frame: control(`{"type":"list","id":1,"${key}":1}`),
    error: TypeError,
    fragment: `Invalid field "${key}": not part of this message`,
  })),
  {
    name: "extra nested field",
    frame: control(
      '{"type":"videos","re":1,"videos":[{"title":"t","heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1,"x":1}]}',
    ),
    error: TypeError,
    fragment: '"videos[0].x": not part of this message',
  },
  {
    name: "body as a JSON field",
    frame: withBody('{"type":"deliver","rid":1,"from":"a","body":"AA=="}', new Uint8Array(1)),
    error: TypeError,
    fragment: '"body": not part of this message',
  },
  // limits
  {
    name: "name of 65 characters",
    frame: control(`{"type":"joined","name":"${"n".repeat(65)}"}`),
    error: RangeError,
    fragment: '"name": longer than 64 characters',
  },
  {
    name: "error message of 2049 characters",
    frame: control(`{"type":"error","code":"INTERNAL","message":"${"m".repeat(2049)}"}`),
    error: RangeError,
    fragment: '"message": longer than 2048 characters',
  },
  {
    name: "17 renditions",
    frame: control(
      `{"type":"stream-start","re":1,"streamId":1,"title":"t","duration":1,"codec":"h264","container":"mpegts","fps":1,"hasAudio":true,"renditions":[${
        new Array(17).fill('{"height":1,"width":1,"bitrate":1}').join(",")
      }],"quality":"auto"}`,
    ),
    error: RangeError,
    fragment: '"renditions": more than 16 items',
  },
  {
    name: "welcome listing MAX_LISTED_NAMES + 1 peers",
    frame: control(
      `{"type":"welcome","name":"a","peers":${names(MAX_LISTED_NAMES + 1)},"maxSealedBytes":1}`,
    ),
    error: RangeError,
    fragment: `"peers": more than ${MAX_LISTED_NAMES} items`,
  },
  {
    name: "peer-state listing MAX_LISTED_NAMES + 1 names",
    frame: control(
      `{"type":"peer-state","names":${names(MAX_LISTED_NAMES + 1)},"state":"reachable"}`,
    ),
    error: RangeError,
    fragment: `"names": more than ${MAX_LISTED_NAMES} items`,
  },
  {
    name: "negative id",
    frame: control('{"type":"ping","id":-1}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "fractional id",
    frame: control('{"type":"ping","id":1.5}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "id of 2^32",
    frame: control('{"type":"ping","id":4294967296}'),
    error: RangeError,
    fragment: '"id": larger than 4294967295',
  },
  // bodies
  {
    name: "body on a control type",
    frame: withBody('{"type":"list","id":1}', new Uint8Array(1)),
    error: TypeError,
    fragment: '"list" cannot have a binary body',
  },
  {
    name: "empty body on a control type",
    frame: withBody('{"type":"quit"}', new Uint8Array(0)),
    error: TypeError,
    fragment: '"quit" cannot have a binary body',
  },
  {
    name: "missing body on send",
    frame: control('{"type":"send","id":1,"to":"bob"}'),
    error: TypeError,
    fragment: '"send" needs a binary body',
  },
  {
    name: "missing body on deliver",
    frame: control('{"type":"deliver","rid":1,"from":"bob"}'),
    error: TypeError,
    fragment: '"deliver" needs a binary body',
  },
  // error codes
  {
    name: "unknown error code",
    frame: control('{"type":"error","code":"NOPE","message":"m"}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  {
    name: "lower-case error code",
    frame: control('{"type":"error","code":"internal","message":"m"}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  {
    name: "unknown error code in a receipt",
    frame: control('{"type":"receipt","rid":"r1","ok":false,"code":42}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  // quality
  ...['"best"', '"AUTO"', "-1", "1.5", "true"].map((quality) => ({
    name: `quality ${quality}`,
    frame: control(`{"type":"play","id":1,"title":"t","quality":${quality}}`),
    error: TypeError,
    fragment: '"quality": expected a non-negative integer',
  })),
  {
    name: "quality 10001",
    frame: control('{"type":"quality","id":1,"quality":10001}'),
    error: RangeError,
    fragment: '"quality": larger than 10000',
  },
];
