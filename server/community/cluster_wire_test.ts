import { deepEqual, equal, throws } from "node:assert/strict";
import {
  checkEntry,
  CLUSTER_PROTOCOL,
  decodeNodeMessage,
  decodePresenceEvent,
  decodeQueueEvent,
  encodeNodeMessage,
  isNodeName,
  MAX_NODE_BODY_BYTES,
  MAX_NODE_HEADER_BYTES,
  type NodeMessage,
} from "./cluster_wire.ts";

const entry = { name: "alice", node: "n1", encKey: "E", signKey: "S" };

Deno.test("isNodeName() accepts 1 to 64 of A-Z a-z 0-9 . _ -", () => {
  const cases: [string, boolean][] = [
    ["", false],
    ["a", true],
    ["host-1.example_2", true],
    ["x".repeat(64), true],
    ["x".repeat(65), false],
    ["with space", false],
    ["naïve", false],
    ["a:b", false],
  ];
  for (const [name, valid] of cases) equal(isNodeName(name), valid, name);
});

Deno.test("decodePresenceEvent() decodes each event type", () => {
  deepEqual(decodePresenceEvent(JSON.stringify({ t: "join", seq: 1, entry })), {
    t: "join",
    seq: 1,
    entry,
  });
  deepEqual(
    decodePresenceEvent('{"t":"leave","seq":2,"node":"n1","name":"alice","reason":"quit"}'),
    { t: "leave", seq: 2, node: "n1", name: "alice", reason: "quit" },
  );
  // Lua's cjson writes an empty list as {}.
  deepEqual(decodePresenceEvent('{"t":"gone","seq":3,"node":"n1","names":{}}'), {
    t: "gone",
    seq: 3,
    node: "n1",
    names: [],
  });
  deepEqual(
    decodePresenceEvent(JSON.stringify({ t: "sync", seq: 4, node: "n1", entries: [entry] })),
    {
      t: "sync",
      seq: 4,
      node: "n1",
      entries: [entry],
    },
  );
});

Deno.test("decodePresenceEvent() refuses what a node must not trust", () => {
  const bad: [string, ErrorConstructor, RegExp][] = [
    ["not json", SyntaxError, /JSON/],
    ["[]", TypeError, /expected an object/],
    ['{"t":"nope","seq":1}', TypeError, /unknown type/],
    ['{"t":"leave","seq":0,"node":"n","name":"a","reason":"quit"}', TypeError, /"seq"/],
    ['{"t":"leave","seq":1.5,"node":"n","name":"a","reason":"quit"}', TypeError, /"seq"/],
    ['{"t":"leave","seq":1,"node":"n","name":"a","reason":"bored"}', TypeError, /reason/],
    ['{"t":"leave","seq":1,"node":"n n","name":"a","reason":"quit"}', TypeError, /"node"/],
    ['{"t":"leave","seq":1,"node":"n","name":"a\\u001b[2J","reason":"quit"}', TypeError, /control/],
    ['{"t":"leave","seq":1,"node":"n","name":"","reason":"quit"}', TypeError, /"name"/],
    [
      '{"t":"leave","seq":1,"node":"n","name":"a","reason":"quit","x":1}',
      TypeError,
      /unexpected field "x"/,
    ],
    ['{"t":"gone","seq":1,"node":"n","names":"a"}', TypeError, /must be a list/],
    ['{"t":"join","seq":1,"entry":{"name":"a","node":"n","encKey":"E"}}', TypeError, /"signKey"/],
  ];
  for (const [json, kind, message] of bad) {
    throws(() => decodePresenceEvent(json), (e: Error) => {
      equal(e instanceof kind, true, `${json}: ${e}`);
      equal(message.test(e.message), true, `${json}: ${e.message}`);
      return true;
    });
  }
});

Deno.test("checkEntry() takes a stored entry with its ephemeral flag and drops the flag", () => {
  deepEqual(checkEntry({ ...entry, eph: 1 }), entry);
  throws(() => checkEntry({ ...entry, encKey: "x".repeat(2049) }), TypeError);
});

Deno.test("encodeNodeMessage() and decodeNodeMessage() round-trip each message", () => {
  const messages: NodeMessage[] = [
    {
      t: "deliver",
      from: "n1",
      ref: "abc_-1",
      sender: "alice",
      to: "bob",
      body: new Uint8Array([0, 1, 255]),
    },
    { t: "deliver", from: "n1", ref: "r", sender: "alice", to: "bob", body: new Uint8Array(0) },
    // A room message keeps its room across nodes.
    {
      t: "deliver",
      from: "n1",
      ref: "r",
      sender: "alice",
      to: "bob",
      body: new Uint8Array([7]),
      room: "AAAAAAAAAAAAAAAAAAAAAA",
    },
    { t: "result", from: "n2", ref: "r", ok: true },
    { t: "result", from: "n2", ref: "r", ok: false, code: "INBOX_FULL", message: "Cannot send" },
  ];
  for (const message of messages) {
    const decoded = decodeNodeMessage(encodeNodeMessage(message));
    deepEqual(
      decoded.t === "deliver" ? { ...decoded, body: [...decoded.body] } : decoded,
      message.t === "deliver" ? { ...message, body: [...message.body] } : message,
    );
  }
});

Deno.test("encodeNodeMessage() writes u32be header length, JSON, then the body", () => {
  const bytes = encodeNodeMessage({
    t: "deliver",
    from: "a",
    ref: "r",
    sender: "s",
    to: "t",
    body: new Uint8Array([7]),
  });
  const json = `{"v":${CLUSTER_PROTOCOL},"t":"deliver","from":"a","ref":"r","sender":"s","to":"t"}`;
  deepEqual([...bytes.subarray(0, 4)], [0, 0, 0, json.length]);
  equal(new TextDecoder().decode(bytes.subarray(4, 4 + json.length)), json);
  deepEqual([...bytes.subarray(4 + json.length)], [7]);
});

Deno.test("node message bodies are bounded at MAX_NODE_BODY_BYTES", () => {
  const at = (n: number) => ({
    t: "deliver" as const,
    from: "a",
    ref: "r",
    sender: "s",
    to: "t",
    body: new Uint8Array(n),
  });
  equal(decodeNodeMessage(encodeNodeMessage(at(MAX_NODE_BODY_BYTES))).t, "deliver");
  throws(() => encodeNodeMessage(at(MAX_NODE_BODY_BYTES + 1)), RangeError);
});

Deno.test("decodeNodeMessage() refuses short, oversized, foreign and malformed messages", () => {
  const header = (json: string, body: number[] = []) => {
    const text = new TextEncoder().encode(json);
    const out = new Uint8Array(4 + text.length + body.length);
    new DataView(out.buffer).setUint32(0, text.length);
    out.set(text, 4);
    out.set(body, 4 + text.length);
    return out;
  };
  const bad: [Uint8Array, ErrorConstructor][] = [
    [new Uint8Array(0), RangeError],
    [new Uint8Array(3), RangeError],
    [new Uint8Array([0, 0, 0, 9, 123]), RangeError],
    [new Uint8Array([0, 0, 0x10, 1]), RangeError],
    [header("{"), SyntaxError],
    [
      header(`{"v":${CLUSTER_PROTOCOL + 1},"t":"result","from":"a","ref":"r","ok":true}`),
      TypeError,
    ],
    [
      header(`{"v":${CLUSTER_PROTOCOL},"t":"result","from":"a","ref":"r","ok":true}`, [1]),
      TypeError,
    ],
    [
      header(
        `{"v":${CLUSTER_PROTOCOL},"t":"result","from":"a","ref":"r","ok":false,"code":"NOPE","message":"m"}`,
      ),
      TypeError,
    ],
    [header(`{"v":${CLUSTER_PROTOCOL},"t":"result","from":"a","ref":"r r","ok":true}`), TypeError],
    [header(`{"v":${CLUSTER_PROTOCOL},"t":"other","from":"a","ref":"r"}`), TypeError],
    [
      header(
        `{"v":${CLUSTER_PROTOCOL},"t":"deliver","from":"a","ref":"r","sender":"s","to":"t","extra":1}`,
      ),
      TypeError,
    ],
    [
      header(
        `{"v":${CLUSTER_PROTOCOL},"t":"deliver","from":"a","ref":"r","sender":"s","to":"t","room":"short"}`,
      ),
      TypeError,
    ],
  ];
  for (const [bytes, kind] of bad) {
    throws(() => decodeNodeMessage(bytes), (e: Error) => e instanceof kind);
  }
  equal(MAX_NODE_HEADER_BYTES, 4096);
});

Deno.test("decodeQueueEvent() decodes notices and a notice", () => {
  deepEqual(decodeQueueEvent('{"t":"notices","name":"alice"}'), { t: "notices", name: "alice" });
  deepEqual(
    decodeQueueEvent('{"t":"notice","name":"eve","kind":"d","to":"bob","qseq":3,"re":9}'),
    { t: "notice", name: "eve", notice: { kind: "delivered", to: "bob", qseq: 3, re: 9 } },
  );
  deepEqual(
    decodeQueueEvent('{"t":"notice","name":"eve","kind":"e","to":"bob","qseq":0,"re":0}'),
    { t: "notice", name: "eve", notice: { kind: "expired", to: "bob", qseq: 0, re: 0 } },
  );
});

Deno.test("decodeQueueEvent() refuses what a node must not trust", () => {
  const bad: [string, ErrorConstructor, RegExp][] = [
    ["not json", SyntaxError, /JSON/],
    ["[]", TypeError, /expected an object/],
    ['{"t":"notices"}', TypeError, /"name"/],
    ['{"t":"notices","name":"a\\u0007"}', TypeError, /control characters/],
    ['{"t":"notices","name":"a","extra":1}', TypeError, /unexpected field "extra"/],
    ['{"t":"other","name":"a"}', TypeError, /unknown type/],
    ['{"t":"notice","name":"a","kind":"x","to":"b","qseq":1,"re":1}', TypeError, /"kind"/],
    ['{"t":"notice","name":"a","kind":"d","to":"b","qseq":-1,"re":1}', TypeError, /"qseq"/],
    ['{"t":"notice","name":"a","kind":"d","to":"b","qseq":1,"re":1.5}', TypeError, /"re"/],
    ['{"t":"notice","name":"a","kind":"d","qseq":1,"re":1}', TypeError, /"to"/],
  ];
  for (const [json, type, message] of bad) {
    throws(
      () => decodeQueueEvent(json),
      (e: Error) => e instanceof type && message.test(e.message),
      json,
    );
  }
});
