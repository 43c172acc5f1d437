/**
 * Rooms end to end (issue 20): a real `serve` and real terminal clients (`peerstream join`).
 * Some clients reach the server through a tap, a TCP relay of our own that decodes every frame
 * the server sends them (so a test can look at the very bytes a client received) and can slip in
 * frames of its own: on that link it is the server, so it plays a server that injects a
 * membership change.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { encodeFrame, FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  type DeliverMessage,
  encodeMessage,
  type Message,
} from "../protocol/messages.ts";
import { hashEntry, keyPins, parseEntry, signEntry } from "../protocol/room_chain.ts";
import { exportPublicKeys } from "../protocol/e2e.ts";
import { parseRoomEnvelope } from "../protocol/room_envelope.ts";
import {
  type CliClient,
  connectClient,
  startCli,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { startCluster } from "./_cluster.ts";

/** A relay between one client and the server that decodes what the server sends. */
interface Tap {
  /** The port the client connects to. */
  port: number;
  /** Every message the server sent this client, in order. */
  received: Message[];
  /** Sends the client a message as if the server had sent it, between two frames. */
  inject(message: Message): Promise<void>;
  /** Waits for a message the server sent that `match` takes. */
  waitFor(match: (m: Message) => boolean, what: string): Promise<Message>;
  /** Closes both sides. */
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function startTap(serverPort: number): Tap {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Message[] = [];
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  let writing = Promise.resolve();
  let toClient: Deno.Conn | undefined;
  let toServer: Deno.Conn | undefined;
  const write = (bytes: Uint8Array) => {
    const conn = toClient!;
    writing = writing.then(() => writeAll(conn, bytes)).catch(() => {});
    return writing;
  };
  const running = (async () => {
    const client = toClient = await listener.accept();
    listener.close();
    const server = toServer = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
    const up = client.readable.pipeTo(server.writable).catch(() => {});
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of server.readable) {
        for (const frame of decoder.push(chunk)) {
          const message = decodeMessage(frame);
          received.push(message);
          for (const waiter of [...waiters]) {
            if (waiter.match(message)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(message);
            }
          }
          await write(encodeFrame(frame.type, frame.payload));
        }
      }
    } catch {
      // The client or the server went away.
    }
    await up;
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    inject: (message) => write(encodeMessage(message)),
    waitFor(match, what) {
      const found = received.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`The tap saw no ${what} within 60 s`)),
          60_000,
        );
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    async close() {
      for (const conn of [toClient, toServer]) {
        try {
          conn?.close();
        } catch {
          // Closed already.
        }
      }
      try {
        listener.close();
      } catch {
        // Closed once accepted.
      }
      await running;
    },
  };
}

/** Types a line and waits for a stdout line matching `re` that came after it. */
async function say(client: CliClient, line: string) {
  await client.type(line);
}

function waitOut(client: CliClient, re: RegExp, from = 0) {
  return client.out.waitFor(re, { timeoutMs: 60_000, from });
}

function waitErr(client: CliClient, re: RegExp, from = 0) {
  return client.err.waitFor(re, { timeoutMs: 60_000, from });
}

/** alice creates #club and invites the others, who accept; everyone sees everyone join. */
async function club(alice: CliClient, others: [CliClient, string][]) {
  await say(alice, "ROOM CREATE club");
  await waitOut(alice, /^\* created #club/);
  for (const [other, name] of others) {
    await say(alice, `INVITE #club ${name}`);
    await waitOut(other, /^\* #club: alice invited you; ACCEPT #club or DECLINE #club$/);
    await say(other, "ACCEPT #club");
    await waitOut(alice, new RegExp(`^\\* #club: ${name} joined$`));
  }
}

function roomDelivers(tap: Tap): DeliverMessage[] {
  return tap.received.filter((m): m is DeliverMessage =>
    m.type === "deliver" && m.room !== undefined
  );
}

Deno.test("rooms: three terminals chat both ways; a removed member gets nothing she can open", async () => {
  const server = await startServer();
  const clients: CliClient[] = [];
  const taps = [startTap(server.port), startTap(server.port)];
  try {
    const alice = await startCli(server.port, "alice");
    clients.push(alice);
    const bob = await startCli(taps[0].port, "bob");
    clients.push(bob);
    const carol = await startCli(taps[1].port, "carol");
    clients.push(carol);
    const [bobTap, carolTap] = taps;
    await club(alice, [[bob, "bob"], [carol, "carol"]]);
    await waitOut(bob, /^\* #club: carol joined$/);
    await waitOut(carol, /^\* #club: bob joined$/);
    // All three see the same history: the same fingerprint at the same entry.
    const fingerprints = [];
    for (const client of [alice, bob, carol]) {
      const from = client.out.lines.length;
      await say(client, "VERIFY #club");
      fingerprints.push(await waitOut(client, /^#club at entry 4: [0-9a-f ]{79}$/, from));
    }
    equal(new Set(fingerprints).size, 1, fingerprints.join("\n"));

    // Both ways: bob to the room, alice to the room.
    await say(bob, "MESSAGE #club hello from bob");
    await waitOut(alice, /^#club <bob> hello from bob$/);
    await waitOut(carol, /^#club <bob> hello from bob$/);
    await waitOut(bob, /^\* #club: sent to alice, carol$/);
    // Then each member's receipt, in one line once both opened it.
    await waitOut(bob, /^\* #club: delivered to alice, carol$/);
    await say(alice, "MESSAGE #club hi bob, hi carol");
    await waitOut(bob, /^#club <alice> hi bob, hi carol$/);
    await waitOut(carol, /^#club <alice> hi bob, hi carol$/);
    // One upload for the room: carol's copy is wrapped for all three.
    const before = parseRoomEnvelope(roomDelivers(carolTap).at(-1)!.body);
    deepEqual(before.wraps.map((w) => w.name), ["alice", "bob", "carol"]);

    await say(alice, "REMOVE #club carol");
    await waitOut(bob, /^\* #club: alice removed carol$/);
    await waitOut(carol, /^\* #club: alice removed you$/);
    const carolDeliversBefore = roomDelivers(carolTap).length;
    await say(alice, "MESSAGE #club only for bob now");
    await waitOut(bob, /^#club <alice> only for bob now$/);
    // The bytes bob received: the one envelope of that message has no wrap for carol.
    const after = parseRoomEnvelope(
      (await bobTap.waitFor(
        (m) =>
          m.type === "deliver" && m.room !== undefined && m.from === "alice" &&
          parseRoomEnvelope(m.body).wraps.length === 2,
        "room message wrapped for two",
      ) as DeliverMessage).body,
    );
    deepEqual(after.wraps.map((w) => w.name), ["alice", "bob"]);
    // What carol received after her removal, up to a 1:1 message alice sends her next (which
    // closes the window: the server relays alice's messages to carol in order).
    await say(alice, "MESSAGE carol are you still there?");
    await waitOut(carol, /^<alice> are you still there\?$/);
    for (const deliver of roomDelivers(carolTap).slice(carolDeliversBefore)) {
      const names = parseRoomEnvelope(deliver.body).wraps.map((w) => w.name);
      ok(!names.includes("carol"), `carol got an envelope wrapped for her: ${names}`);
    }
    ok(!carol.out.lines.some((l) => l.includes("only for bob now")), carol.out.lines.join("\n"));
    // And carol's client will not send to a room she left.
    const errorsBefore = carol.err.lines.length;
    await say(carol, "MESSAGE #club let me back");
    await waitErr(carol, /you are not a member/, errorsBefore);
  } finally {
    for (const client of clients) await client.finish();
    for (const tap of taps) await tap.close();
    await server.stop();
  }
});

Deno.test("rooms: a membership change the server makes up is caught by every client and shown", async () => {
  const server = await startServer();
  const clients: CliClient[] = [];
  const taps = [startTap(server.port), startTap(server.port)];
  // dave is a real peer with a registered key: his forged entry is signed by him.
  const daveIdentity = await generateIdentity();
  const dave = await connectClient(server.port, "dave", { identity: daveIdentity });
  try {
    const alice = await startCli(taps[0].port, "alice");
    clients.push(alice);
    const bob = await startCli(taps[1].port, "bob");
    clients.push(bob);
    await club(alice, [[bob, "bob"]]);
    await waitOut(bob, /^\* #club: bob joined$|^\* #club: you joined$/);
    const entries = taps[0].received.flatMap((m) => m.type === "room-entries" ? m.entries : []);
    const last = await hashEntry(parseEntry(entries.at(-1)!));
    const { room, seq } = last.entry;
    // The server "adds" dave: an accept of an invite nobody made, signed by dave's own key.
    const forged = await signEntry({
      room,
      seq: seq + 1,
      prev: last.hash,
      author: "dave",
      op: "accept",
      subject: "dave",
      keys: null,
      settings: null,
      time: Date.now(),
    }, daveIdentity);
    // And the same made as if alice invited mallory, signed by a key that is not alice's.
    const mallory = await generateIdentity();
    const asAlice = await signEntry({
      room,
      seq: seq + 1,
      prev: last.hash,
      author: "alice",
      op: "invite",
      subject: "mallory",
      keys: await keyPins(await exportPublicKeys(mallory)),
      settings: null,
      time: Date.now(),
    }, mallory);
    const errs = clients.map((c) => c.err.lines.length);
    await taps[0].inject({
      type: "room-entries",
      room,
      entries: [forged.toBase64()],
      name: "club",
    });
    await taps[1].inject({
      type: "room-entries",
      room,
      entries: [asAlice.toBase64()],
      name: "club",
    });
    await waitErr(alice, /Room #club is read-only: .*"dave" is not invited/, errs[0]);
    await waitErr(bob, /Room #club is read-only: .*not signed by "alice"'s key/, errs[1]);
    await waitErr(bob, /read-only: .*, and ROOM CHECK #club once the server is fixed$/, errs[1]);
    for (const [i, client] of clients.entries()) {
      // Nothing was sent on a history the client does not trust...
      const errors = client.err.lines.length;
      await say(client, "MESSAGE #club is anyone there?");
      await waitErr(client, /Cannot send in #club: the room is read-only/, errors);
      // ...and the members it shows are those it checked.
      const outs = client.out.lines.length;
      await say(client, "ROOMS");
      const line = await waitOut(client, /^#club \(/, outs);
      equal(line, `#club (${i === 0 ? "owner" : "member"}): alice (owner), bob`);
      await waitOut(client, /READ-ONLY/, outs);
    }
    ok(!clients.some((c) => c.out.lines.some((l) => /dave joined|invited mallory/.test(l))));
    // VERIFY #club says why, so that the person can compare with a member out of band.
    const outs = alice.out.lines.length;
    await say(alice, "VERIFY #club");
    await waitOut(alice, /^READ-ONLY: it refused a change the server sent/, outs);
    await waitOut(alice, /ROOM CHECK #club/, outs);

    // The server itself never made that change: checked again from entry 0, its history extends
    // the one each client checked, and the room works again.
    for (const client of clients) {
      const from = client.out.lines.length;
      await say(client, "ROOM CHECK #club");
      await waitOut(
        client,
        /^\* #club: checked again from entry 0: the server's history extends the one you checked \(entry 2\); you can send again$/,
        from,
      );
    }
    await say(alice, "MESSAGE #club back to normal");
    await waitOut(bob, /^#club <alice> back to normal$/);
    await waitOut(alice, /^\* #club: delivered to bob$/);
  } finally {
    for (const client of clients) await client.finish();
    for (const tap of taps) await tap.close();
    await dave.session.quit();
    await server.stop();
  }
});

Deno.test("rooms: a room message to an offline member waits, survives a restart, and is shown once", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-data-" });
  let server = await startServer({ data });
  const clients: CliClient[] = [];
  try {
    const alice = await startCli(server.port, "alice");
    clients.push(alice);
    let bob = await startCli(server.port, "bob");
    clients.push(bob);
    await club(alice, [[bob, "bob"]]);
    await waitOut(bob, /^\* #club: you joined$/);
    const bobHome = bob.home;
    equal(await bob.finish(), 0);
    await waitOut(alice, /bob left/);
    await say(alice, "MESSAGE #club while you were away");
    await waitOut(alice, /^\* #club: queued for bob$/);
    equal(await alice.finish(), 0);
    await server.stop();

    server = await startServer({ data });
    bob = await startCli(server.port, "bob", { home: bobHome });
    clients.push(bob);
    await waitOut(bob, /^#club <alice> while you were away$/);
    await waitOut(bob, /^\* sent earlier by alice, at .* \(it waited while you were offline\)$/);
    // Shown once; and the changes bob saw before his restart are not shown again. A room
    // message bob sends now reaches nobody online, which closes the window.
    await say(bob, "MESSAGE #club back");
    await waitOut(bob, /^\* #club: queued for alice$/);
    equal(bob.out.lines.filter((l) => l.includes("while you were away")).length, 1);
    ok(
      !bob.out.lines.some((l) => /^\* #club: alice (created|invited)/.test(l)),
      bob.out.lines.join("\n"),
    );
    // bob's client remembered how far it had checked the room.
    const remembered = JSON.parse(
      await Deno.readTextFile(`${bobHome}/.config/peerstream/rooms/bob.json`),
    );
    equal(Object.values(remembered.rooms as Record<string, { seq: number }>)[0].seq, 2);
  } finally {
    for (const client of clients) await client.finish();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("rooms: a room message queued for an offline member turns delivered in the terminal once they open it", async () => {
  const server = await startServer();
  const clients: CliClient[] = [];
  try {
    const alice = await startCli(server.port, "alice");
    clients.push(alice);
    let bob = await startCli(server.port, "bob");
    clients.push(bob);
    let carol = await startCli(server.port, "carol");
    clients.push(carol);
    await club(alice, [[bob, "bob"], [carol, "carol"]]);
    await waitOut(carol, /^\* #club: you joined$/);
    const [bobHome, carolHome] = [bob.home, carol.home];
    equal(await bob.finish(), 0);
    equal(await carol.finish(), 0);
    await waitOut(alice, /bob left/);
    await waitOut(alice, /carol left/);
    await say(alice, "MESSAGE #club while you were away");
    await waitOut(alice, /^\* #club: queued for bob, carol$/);
    bob = await startCli(server.port, "bob", { home: bobHome });
    clients.push(bob);
    await waitOut(bob, /^#club <alice> while you were away$/);
    // One of two opened it: the line says so with a count, not as a 1:1 message's receipt.
    await waitOut(alice, /^\* #club: delivered to 1 of 2 \(bob\)$/);
    carol = await startCli(server.port, "carol", { home: carolHome });
    clients.push(carol);
    await waitOut(carol, /^#club <alice> while you were away$/);
    await waitOut(alice, /^\* #club: delivered to bob, carol$/);
    ok(!alice.out.lines.some((l) => /^\* delivered to /.test(l)), alice.out.lines.join("\n"));
  } finally {
    for (const client of clients) await client.finish();
    await server.stop();
  }
});

Deno.test("rooms in a cluster: a member on another node found offline shows as queued, then delivered, in the terminal", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  const clients: CliClient[] = [];
  try {
    const alice = await startCli(a.port, "alice");
    clients.push(alice);
    let bob = await startCli(b.port, "bob");
    clients.push(bob);
    await club(alice, [[bob, "bob"]]);
    await waitOut(bob, /^\* #club: you joined$/);
    const bobHome = bob.home;
    equal(await bob.finish(), 0);
    await waitOut(alice, /bob left/);
    // Node A hands the message to the cluster (room-sent lists bob as relayed); that bob was
    // offline comes later with the room-send's id (issue 20).
    const mark = alice.out.lines.length;
    await say(alice, "MESSAGE #club while you were away");
    await waitOut(alice, /^\* #club: queued for bob$/, mark);
    const lines = alice.out.lines.slice(mark);
    const at = lines.indexOf("* #club: sent to bob");
    ok(at >= 0 && at < lines.indexOf("* #club: queued for bob"), lines.join("\n"));
    bob = await startCli(b.port, "bob", { home: bobHome });
    clients.push(bob);
    await waitOut(bob, /^#club <alice> while you were away$/);
    await waitOut(alice, /^\* #club: delivered to bob$/);
    // Shown as the room message's receipt, not as a 1:1 message's.
    ok(!alice.out.lines.some((l) => /^\* delivered to /.test(l)), alice.out.lines.join("\n"));
  } finally {
    for (const client of clients) await client.finish();
    await cluster.stop();
  }
});

/** Waits until a client's room book holds the room with `name` invited (its push checked). */
async function invitedTo(client: TestClient, room: string, name: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await client.session.rooms.idle;
    const view = client.session.rooms.list().find((r) => r.name === room);
    if (view?.invitees.includes(name)) return;
    if (Date.now() > deadline) throw new Error(`${name} never saw the invitation to #${room}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("rooms: a room of seven: the sender's terminal sums the receipts up instead of a line per member", async () => {
  const server = await startServer();
  const clients: CliClient[] = [];
  const members: TestClient[] = [];
  try {
    const alice = await startCli(server.port, "alice");
    clients.push(alice);
    for (let i = 1; i <= 6; i++) members.push(await connectClient(server.port, `m${i}`));
    await say(alice, "ROOM CREATE big");
    await waitOut(alice, /^\* created #big/);
    for (const [i, member] of members.entries()) {
      const name = `m${i + 1}`;
      await say(alice, `INVITE #big ${name}`);
      await invitedTo(member, "big", name);
      await member.session.rooms.change("big", { op: "accept" });
      await waitOut(alice, new RegExp(`^\\* #big: ${name} joined$`));
    }
    const from = alice.out.lines.length;
    await say(alice, "MESSAGE #big hello all");
    await waitOut(alice, /^\* #big: sent to 6 members$/, from);
    // The last receipt closes the window: up to it, only counts, never a line per member.
    await waitOut(alice, /^\* #big: delivered to all 6$/, from);
    const between = alice.out.lines.slice(from).filter((l) => /delivered/.test(l));
    equal(between.at(-1), "* #big: delivered to all 6");
    for (const line of between.slice(0, -1)) {
      ok(/^\* #big: delivered to [1-5] of 6( \(.*\))?$/.test(line), between.join("\n"));
    }
  } finally {
    for (const member of members) await member.session.quit().catch(() => {});
    for (const client of clients) await client.finish();
    await server.stop();
  }
});
