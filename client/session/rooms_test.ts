import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { exportPublicKeys, importPeerKeys } from "../../protocol/e2e.ts";
import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import type { ClientMessage, RoomEntriesMessage } from "../../protocol/messages.ts";
import { ReplayGuard } from "../../protocol/replay.ts";
import { parseEntry, signEntry } from "../../protocol/room_chain.ts";
import { parseRoomEnvelope } from "../../protocol/room_envelope.ts";
import { people, type Person } from "../../protocol/_room_testing.ts";
import type { TrustedKeys } from "./keys.ts";
import {
  type IncomingRoomMessage,
  MAX_CHANGES_SHOWN,
  RoomBook,
  type RoomMemory,
  type RoomSendOutcome,
} from "./rooms.ts";

const [alice, bob, carol, dave] = await people("alice", "bob", "carol", "dave");
const everyone = [alice, bob, carol, dave];
const trusted = new Map<string, TrustedKeys>();
for (const p of everyone) {
  trusted.set(p.name, {
    ...await importPeerKeys(await exportPublicKeys(p.identity)),
    trust: "new",
  });
}

interface Client {
  person: Person;
  book: RoomBook;
  changes: string[];
  /** Each change's checked entry, as `seq op author subject`. */
  entries: string[];
  messages: IncomingRoomMessage[];
  warnings: [string, ErrorCode][];
  receipts: ClientMessage[];
  bodies: Uint8Array[];
  memory?: RoomMemory;
}

/**
 * A server in memory that stores chains as they come (it checks nothing: the clients must) and
 * pushes each change to every client but its author; `tamper` lets a test play a hostile one.
 */
class FakeServer {
  readonly chains = new Map<string, string[]>();
  readonly names = new Map<string, string>();
  readonly clients = new Map<string, Client>();
  /** Names the server does not push changes to (it withholds them). */
  readonly deaf = new Set<string>();

  client(person: Person, memory?: RoomMemory): Client {
    const client: Client = {
      person,
      changes: [],
      entries: [],
      messages: [],
      warnings: [],
      receipts: [],
      bodies: [],
      book: undefined as unknown as RoomBook,
    };
    client.book = new RoomBook({
      self: () => ({ name: person.name, identity: person.identity }),
      keys: (name) => {
        const keys = trusted.get(name);
        return keys === undefined
          ? Promise.reject(new PeerstreamError("UNKNOWN_PEER", `no "${name}"`))
          : Promise.resolve(keys);
      },
      requests: {
        create: (name, entry) => this.#append(person.name, entry, name),
        change: (_room, entry) => this.#append(person.name, entry),
        chain: (room, from) =>
          Promise.resolve({
            type: "room-entries",
            re: 1,
            room,
            entries: (this.chains.get(room) ?? []).slice(from),
          }),
        send: (room, body) => Promise.resolve(this.#send(person.name, room, body)),
      },
      send: (message) => client.receipts.push(message),
      replay: new ReplayGuard({ windowMs: 15 * 24 * 3600_000 }),
      storage: {
        load: () => memory,
        save: (m) => client.memory = structuredClone(m),
      },
      change: (_room, words, entry) => {
        client.changes.push(words);
        client.entries.push(
          entry === undefined
            ? "summary"
            : `${entry.seq} ${entry.op} ${entry.author} ${entry.subject}`,
        );
      },
      message: (m) => client.messages.push(m),
      warning: (text, code) => client.warnings.push([text, code]),
    });
    this.clients.set(person.name, client);
    return client;
  }

  /** Pushes entries to everyone but `except`, as the server does for a change. */
  push(room: string, entries: string[], except = "") {
    for (const [name, client] of this.clients) {
      if (name === except || this.deaf.has(name)) continue;
      client.book.pushed({ type: "room-entries", room, entries, name: this.names.get(room) });
    }
  }

  #append(author: string, entry: string, name?: string): Promise<RoomEntriesMessage> {
    const { room, seq } = parseEntry(entry).entry;
    if (seq !== (this.chains.get(room) ?? []).length) {
      return Promise.reject(new PeerstreamError("CHAIN_INVALID", `seq ${seq} does not follow`));
    }
    if (name !== undefined) this.names.set(room, name);
    const chain = this.chains.get(room) ?? [];
    chain.push(entry);
    this.chains.set(room, chain);
    this.push(room, [entry], author);
    return Promise.resolve({ type: "room-entries", re: 1, room, entries: [entry] });
  }

  #send(from: string, room: string, body: Uint8Array): RoomSendOutcome {
    const relayed: string[] = [];
    for (const [name, client] of this.clients) {
      if (name === from) continue;
      client.bodies.push(body);
      client.book.deliver({ rid: `r${name}`, from, room, body, queued: false });
      relayed.push(name);
    }
    return { relayed, queued: [], refused: [] };
  }
}

async function settle(...clients: Client[]) {
  for (let i = 0; i < 3; i++) await Promise.all(clients.map((c) => c.book.idle));
}

/** alice creates #club, invites bob and carol, both accept. */
async function clubOfThree() {
  const server = new FakeServer();
  const [a, b, c] = [alice, bob, carol].map((p) => server.client(p));
  await a.book.create("club");
  await settle(a, b, c);
  await a.book.change("club", { op: "invite", subject: "bob" });
  await a.book.change("club", { op: "invite", subject: "carol" });
  await settle(a, b, c);
  await b.book.change("club", { op: "accept" });
  await c.book.change("club", { op: "accept" });
  await settle(a, b, c);
  return { server, a, b, c };
}

Deno.test("RoomBook: three members see each change in words and chat both ways", async () => {
  const { a, b, c } = await clubOfThree();
  deepEqual(a.changes, [
    "you created #club",
    "you invited bob",
    "you invited carol",
    "bob joined",
    "carol joined",
  ]);
  deepEqual(b.changes, [
    "alice created #club",
    "alice invited you; ACCEPT #club or DECLINE #club",
    "alice invited carol",
    "you joined",
    "carol joined",
  ]);
  for (const client of [a, b, c]) {
    deepEqual(client.book.find("#club").members, ["alice", "bob", "carol"]);
    deepEqual(client.warnings, []);
  }
  equal(a.book.find("club").head, c.book.find("club").head);
  const sent = await b.book.sendText("#club", "hi all");
  deepEqual(sent.relayed.sort(), ["alice", "carol"]);
  await a.book.sendText("club", "hello bob");
  await settle(a, b, c);
  deepEqual(a.messages.map((m) => [m.from, m.text, m.roomName]), [["bob", "hi all", "club"]]);
  deepEqual(c.messages.map((m) => [m.from, m.text]), [["bob", "hi all"], ["alice", "hello bob"]]);
  deepEqual(b.messages.map((m) => [m.from, m.text]), [["alice", "hello bob"]]);
  ok(b.receipts.every((r) => r.type === "receipt" && r.ok));
});

Deno.test("RoomBook: each change comes with its checked entry, and the view says who invited whom", async () => {
  const server = new FakeServer();
  const [a, b, c] = [alice, bob, carol].map((p) => server.client(p));
  await a.book.create("club");
  await a.book.change("club", { op: "invite", subject: "bob" });
  await settle(a, b, c);
  await b.book.change("club", { op: "accept" });
  await settle(a, b, c);
  await b.book.change("club", { op: "invite", subject: "carol" });
  await settle(a, b, c);
  deepEqual(a.entries, [
    "0 create alice ",
    "1 invite alice bob",
    "2 accept bob bob",
    "3 invite bob carol",
  ]);
  deepEqual(c.entries, a.entries);
  for (const client of [a, b, c]) {
    deepEqual(client.book.find("club").invitedBy, { carol: "bob" });
  }
  await c.book.change("club", { op: "accept" });
  await settle(a, b, c);
  deepEqual(a.book.find("club").invitedBy, {});
});

Deno.test("RoomBook.create() makes a host-only room on request, and every member's view says so", async () => {
  const server = new FakeServer();
  const [a, b] = [alice, bob].map((p) => server.client(p));
  equal((await a.book.create("open")).control, "all");
  equal((await a.book.create("club", { control: "host" })).control, "host");
  await a.book.change("club", { op: "invite", subject: "bob" });
  await settle(a, b);
  await b.book.change("club", { op: "accept" });
  await settle(a, b);
  equal(b.book.find("club").control, "host");
});

Deno.test("RoomBook: a member removed cannot read what follows; their client says so", async () => {
  const { a, b, c } = await clubOfThree();
  await a.book.change("club", { op: "remove", subject: "carol" });
  await settle(a, b, c);
  deepEqual(b.changes.at(-1), "alice removed carol");
  deepEqual(c.changes.at(-1), "alice removed you");
  await a.book.sendText("club", "after carol");
  await settle(a, b, c);
  const last = c.bodies.at(-1)!;
  deepEqual(parseRoomEnvelope(last).wraps.map((w) => w.name), ["alice", "bob"]);
  deepEqual(c.messages, []);
  equal(c.warnings.at(-1)?.[1], "NOT_A_MEMBER");
  deepEqual(c.receipts.at(-1), { type: "receipt", rid: "rcarol", ok: false, code: "NOT_A_MEMBER" });
  deepEqual(b.messages.map((m) => m.text), ["after carol"]);
  await rejects(c.book.sendText("club", "still here?"), /you are not a member/);
});

Deno.test("RoomBook: an entry the server injects is refused and the room becomes read-only", async () => {
  const { server, a, b, c } = await clubOfThree();
  const chain = server.chains.get(a.book.find("club").id)!;
  const head = parseEntry(chain.at(-1)!);
  const headHash = new Uint8Array(await crypto.subtle.digest("SHA-256", head.bytes)).toBase64();
  // dave, no member, signs an invite of himself; then "accepts" it.
  const injected = await signEntry({
    room: head.entry.room,
    seq: head.entry.seq + 1,
    prev: headHash,
    author: "dave",
    op: "invite",
    subject: "eve",
    keys: dave.keys.pins,
    settings: null,
    time: 1,
  }, dave.identity);
  server.push(head.entry.room, [injected.toBase64()]);
  await settle(a, b, c);
  for (const client of [a, b, c]) {
    const [text, code] = client.warnings.at(-1)!;
    equal(code, "NOT_A_MEMBER", text);
    ok(text.includes("read-only"), text);
    ok(client.book.find("club").broken !== undefined);
    deepEqual(client.book.find("club").members, ["alice", "bob", "carol"]);
  }
  await rejects(
    a.book.sendText("club", "x"),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "NOT_ALLOWED" && /read-only/.test(e.message),
  );
});

Deno.test("RoomBook: a rollback or a fork against the furthest point seen makes the room read-only", async () => {
  const { server, b } = await clubOfThree();
  const id = b.book.find("club").id;
  const memory = structuredClone(b.memory!);
  equal(memory.rooms[id].seq, 4);
  // The server rolls the room back to entry 2 for bob's next run.
  const full = server.chains.get(id)!;
  server.chains.set(id, full.slice(0, 3));
  const again = new FakeServer();
  again.chains.set(id, full.slice(0, 3));
  const b2 = again.client(bob, memory);
  b2.book.listed([{ room: id, name: "club", seq: 2, head: "A".repeat(43) + "=" }]);
  await settle(b2);
  ok(b2.warnings.some(([t]) => /rollback/.test(t)), JSON.stringify(b2.warnings));
  // A fork: entry 4 replaced by another (carol declines instead of accepting).
  const forked = new FakeServer();
  const third = parseEntry(full[3]);
  const hash3 = new Uint8Array(await crypto.subtle.digest("SHA-256", third.bytes)).toBase64();
  const other = await signEntry({
    ...parseEntry(full[4]).entry,
    prev: hash3,
    op: "decline",
  }, carol.identity);
  forked.chains.set(id, [...full.slice(0, 4), other.toBase64()]);
  const b3 = forked.client(bob, memory);
  b3.book.listed([{ room: id, name: "club", seq: 4, head: "A".repeat(43) + "=" }]);
  await settle(b3);
  ok(b3.warnings.some(([t]) => /fork/.test(t)), JSON.stringify(b3.warnings));
  // Changes already seen before are not shown again on a new run.
  deepEqual(b3.changes, []);
});

Deno.test("RoomBook.check() lifts read-only only when the chain fetched again from 0 extends the checked one", async () => {
  const { server, a, b, c } = await clubOfThree();
  const id = a.book.find("club").id;
  const chain = server.chains.get(id)!;
  const head = parseEntry(chain.at(-1)!);
  const headHash = new Uint8Array(await crypto.subtle.digest("SHA-256", head.bytes)).toBase64();
  const injected = await signEntry({
    room: id,
    seq: head.entry.seq + 1,
    prev: headHash,
    author: "dave",
    op: "invite",
    subject: "eve",
    keys: dave.keys.pins,
    settings: null,
    time: 1,
  }, dave.identity);
  server.push(id, [injected.toBase64()]);
  await settle(a, b, c);
  ok(a.book.find("club").broken !== undefined);
  // A server that keeps the made-up change: still read-only, and why.
  server.chains.set(id, [...chain, injected.toBase64()]);
  const kept = await a.book.check("club");
  equal(kept.wasBroken, true);
  ok(kept.still?.startsWith("its history still does not check out: "), kept.still);
  ok(a.book.find("club").broken !== undefined);
  // A server whose stored history never had it: usable again, and a message goes.
  server.chains.set(id, chain);
  const fixed = await a.book.check("club");
  deepEqual([fixed.wasBroken, fixed.still, fixed.room.broken, fixed.room.seq], [
    true,
    undefined,
    undefined,
    4,
  ]);
  await a.book.sendText("club", "back");
  await settle(a, b, c);
  equal(b.messages.at(-1)?.text, "back");
  // A room that was fine checks out again, and stays fine.
  const fine = await a.book.check("club");
  deepEqual([fine.wasBroken, fine.still], [false, undefined]);

  // A rollback and a fork stay read-only when checked again.
  const memory = structuredClone(b.memory!);
  const rolled = new FakeServer();
  rolled.chains.set(id, chain.slice(0, 3));
  const b2 = rolled.client(bob, memory);
  b2.book.listed([{ room: id, name: "club", seq: 2, head: "A".repeat(43) + "=" }]);
  await settle(b2);
  const stillRolled = await b2.book.check("club");
  ok(/\(a rollback\)$/.test(stillRolled.still ?? ""), stillRolled.still);
  ok(b2.book.find("club").broken !== undefined);
  const forked = new FakeServer();
  const third = parseEntry(chain[3]);
  const hash3 = new Uint8Array(await crypto.subtle.digest("SHA-256", third.bytes)).toBase64();
  const other = await signEntry({
    ...parseEntry(chain[4]).entry,
    prev: hash3,
    op: "decline",
  }, carol.identity);
  forked.chains.set(id, [...chain.slice(0, 4), other.toBase64()]);
  const b3 = forked.client(bob, memory);
  b3.book.listed([{ room: id, name: "club", seq: 4, head: "A".repeat(43) + "=" }]);
  await settle(b3);
  const stillForked = await b3.book.check("club");
  ok(/\(a fork\)$/.test(stillForked.still ?? ""), stillForked.still);
  ok(b3.book.find("club").broken !== undefined);
});

Deno.test("RoomBook: a message at a seq the client has not seen makes it fetch the chain, then open", async () => {
  const { server, a, b, c } = await clubOfThree();
  // The server withholds from carol the change that adds dave... (dave joins through alice).
  const d = server.client(dave);
  server.deaf.add("carol");
  await a.book.change("club", { op: "invite", subject: "dave" });
  await settle(a, b, c, d);
  await d.book.change("club", { op: "accept" });
  await settle(a, b, c, d);
  equal(c.book.find("club").seq, 4);
  // ...then alice writes at seq 6: carol fetches entries 5 and 6, checks them, shows them, opens.
  await a.book.sendText("club", "welcome dave");
  await settle(a, b, c, d);
  deepEqual(c.messages.map((m) => m.text), ["welcome dave"]);
  equal(c.book.find("club").seq, 6);
  deepEqual(c.changes.slice(-2), ["alice invited dave", "dave joined"]);
  deepEqual(c.warnings, []);
});

Deno.test("RoomBook: a long history met for the first time is summed up, its last changes shown", async () => {
  const { server, a, b, c } = await clubOfThree();
  // Churn: bob leaves and is invited back five times (12 more entries, 17 in all).
  for (let i = 0; i < 5; i++) {
    await b.book.change("club", { op: "leave" });
    await settle(a, b, c);
    await a.book.change("club", { op: "invite", subject: "bob" });
    await settle(a, b, c);
    if (i < 4) await b.book.change("club", { op: "accept" });
    await settle(a, b, c);
  }
  await a.book.change("club", { op: "invite", subject: "dave" });
  await settle(a, b, c);
  const id = a.book.find("club").id;
  const d = server.client(dave);
  d.book.listed([{ room: id, name: "club", seq: 19, head: "A".repeat(43) + "=" }]);
  await settle(d);
  equal(d.book.find("club").seq, 19);
  equal(d.changes.length, MAX_CHANGES_SHOWN + 1);
  equal(d.changes[0], "12 earlier changes; ROOMS lists the members");
  equal(d.changes.at(-1), "alice invited you; ACCEPT #club or DECLINE #club");
});

Deno.test("RoomBook.change() raced by someone else's change catches up and signs again, once", async () => {
  const { server, a, b, c } = await clubOfThree();
  // The server withholds from alice bob's invite of dave, so alice signs on an old head.
  server.deaf.add("alice");
  await b.book.change("club", { op: "invite", subject: "dave" });
  await settle(a, b, c);
  equal(a.book.find("club").seq, 4);
  await a.book.change("club", { op: "remove", subject: "carol" });
  await settle(a, b, c);
  deepEqual(a.book.find("club").members, ["alice", "bob"]);
  equal(a.book.find("club").seq, 6);
  deepEqual(a.changes.slice(-2), ["bob invited dave", "you removed carol"]);
  deepEqual(a.warnings, []);
});
