import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { generateIdentity } from "../../protocol/e2e.ts";
import type { ClientMessage, WelcomeMessage } from "../../protocol/messages.ts";
import { Roster, type RosterOptions } from "./roster.ts";

const identity = await generateIdentity();

function roster(options: Partial<RosterOptions> = {}) {
  const sent: ClientMessage[] = [];
  const said: string[] = [];
  const roster = new Roster({
    challenge: new Uint8Array(32).toBase64(),
    maxPeers: 100,
    send: (m) => sent.push(m),
    lost: () => undefined,
    online: (name) => said.push(`online ${name}`),
    joined: (name) => said.push(`joined ${name}`),
    left: (name, reason) => said.push(`left ${name} ${reason}`),
    peerState: (names, state) => said.push(`${state} ${names.join(",")}`),
    warning: (text) => said.push(`warning ${text}`),
    ...options,
  });
  return { roster, sent, said };
}

function welcome(name: string, peers: string[], unreachable?: string[]): WelcomeMessage {
  return {
    type: "welcome",
    name,
    peers,
    maxSealedBytes: 96 * 1024,
    ...(unreachable ? { unreachable } : {}),
  };
}

/** Registers as "bob" and answers with `answer`. */
async function register(r: ReturnType<typeof roster>, answer: WelcomeMessage) {
  const registered = r.roster.register("bob", identity);
  while (r.sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  r.roster.welcomed(answer);
  return await registered;
}

Deno.test("Roster.register() sends hello and takes the welcome: peers listed, unreachable said", async () => {
  const r = roster();
  await register(r, welcome("bob", ["alice"], ["carol"]));
  equal(r.sent[0].type, "hello");
  equal(r.roster.name, "bob");
  equal(r.roster.identity, identity);
  deepEqual([...r.roster.peers.names()].sort(), ["alice", "carol"]);
  deepEqual(r.said.sort(), ["online alice", "online carol", "unreachable carol"]);
});

Deno.test("Roster.register() rejects a welcome for another name with BAD_MESSAGE", async () => {
  const r = roster();
  await rejects(register(r, welcome("bobby", [])), (error: Error & { code?: string }) => {
    equal(error.code, "BAD_MESSAGE");
    ok(error.message.includes(`welcomed "bobby" instead of "bob"`), error.message);
    return true;
  });
  equal(r.roster.name, undefined);
  equal(r.roster.fail(new Error("nothing waits")), false);
});

Deno.test("Roster keeps at most maxPeers: exactly the bound fits, past it one warning", async () => {
  const r = roster({ maxPeers: 3 });
  await register(r, welcome("bob", ["a", "b", "c"]));
  equal(r.roster.peers.size, 3, "at the bound");
  equal(r.said.filter((s) => s.startsWith("warning")).length, 0);
  r.roster.joined("d");
  r.roster.joined("e");
  equal(r.roster.peers.size, 3);
  equal(r.said.filter((s) => s.startsWith("warning")).length, 1);
  ok(r.said.some((s) => s.includes("more than 3 peers")));
  r.roster.left("a", "quit");
  r.roster.joined("d");
  deepEqual(r.said.slice(-3), ["left a quit", "joined d", "online d"]);
});

Deno.test("Roster lists only maxPeers of a welcome that names more", async () => {
  const r = roster({ maxPeers: 3 });
  await register(r, welcome("bob", ["a", "b", "c", "d"]));
  deepEqual(r.roster.peers.names(), ["a", "b", "c"]);
  equal(r.said.filter((s) => s.startsWith("warning")).length, 1);
});

Deno.test("Roster.peerState() tells only of peers it lists", async () => {
  const r = roster();
  await register(r, welcome("bob", ["alice"]));
  r.roster.peerState(["alice", "zed"], "unreachable");
  r.roster.peerState(["zed"], "reachable");
  deepEqual(r.said.slice(-1), ["unreachable alice"]);
});

Deno.test("Roster.register() rejects with UNAVAILABLE when the connection ended while signing", async () => {
  const r = roster({ lost: () => "the server closed the connection" });
  await rejects(r.roster.register("bob", identity), {
    code: "UNAVAILABLE",
    message:
      "Cannot register: not connected to the server (the server closed the connection); reconnect",
  });
  deepEqual(r.sent, [], "no hello into a closed connection");
  equal(r.roster.fail(new Error("nothing waits")), false);
});
