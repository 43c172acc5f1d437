/**
 * Scenario "rooms" (issue 20's figures, the server's part): a 100-member room, one sender's
 * room-send fanned out by the server to the 99 others (deliveries per second, and the time from a
 * send to its delivery at the last member, p50/p99), and 1,000 room messages queued for a member
 * offline, drained when they join (time to the last, target ≤ 1 s). The bodies are opaque bytes
 * of a real envelope's size (the server never opens one); sealing cost is the client's figure.
 * @module
 */

import { keyPins, type RoomEntry, signEntry } from "../protocol/room_chain.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { type BenchIdentity, benchIdentity, connectMany, LoadClient } from "./_client.ts";
import { generateIdentity } from "../protocol/e2e.ts";
import { type BenchContext, names, type ScenarioResult, withServer } from "./_scenario.ts";
import { BENCH_LIMITS } from "./_server.ts";

/** A room envelope's size at 100 members: 100 wraps of ~262 bytes plus a 1 KiB text. */
export const ENVELOPE_BYTES_100 = 100 * 262 + 1024 + 200;
/** A 2-member room's envelope with a 1 KiB text. */
export const ENVELOPE_BYTES_2 = 2 * 262 + 1024 + 200;
/** Room messages in flight at once in the fan-out run (each waits for all 99 deliveries). */
const WINDOW = 8;

/** One member's connection with its answers by request id. */
export interface Member {
  name: string;
  client: LoadClient;
  answers: Map<number, (m: ServerMessage) => void>;
  /** Called for every room delivery with its index (the body's first 4 bytes). */
  onDeliver?: (index: number, now: number) => void;
  /** Called when someone leaves. */
  onLeft?: (name: string) => void;
}

/**
 * Takes over a client's messages: answers by request id, receipts for room deliveries.
 *
 * @param name The member's name.
 * @param client Its registered client.
 * @returns The member.
 */
export function wire(name: string, client: LoadClient): Member {
  const member: Member = { name, client, answers: new Map() };
  client.onMessage = (message, now) => {
    if (message.type === "deliver") {
      client.send({ type: "receipt", rid: message.rid, ok: true });
      const view = new DataView(message.body.buffer, message.body.byteOffset, 4);
      member.onDeliver?.(view.getUint32(0), now);
      return;
    }
    if (message.type === "left") member.onLeft?.(message.name);
    if ("re" in message && typeof message.re === "number") {
      const answer = member.answers.get(message.re);
      member.answers.delete(message.re);
      answer?.(message);
    }
  };
  return member;
}

/** Sends a request and waits for the answer that names it; an error answer throws. */
function ask(member: Member, message: Record<string, unknown> & { type: string }) {
  const id = member.client.nextId++;
  const answer = new Promise<ServerMessage>((resolve) => member.answers.set(id, resolve));
  member.client.send({ ...message, id } as never);
  return answer.then((m) => {
    if (m.type === "error") throw new Error(`${message.type}: ${m.code}: ${m.message}`);
    return m;
  });
}

/**
 * Creates a room owned by the first member, every other one invited and accepted (signed entries,
 * the room's chain followed as a client keeps it; settings: anyone invites, anyone controls).
 *
 * @param members The owner first, then the others.
 * @param who The identity they all share.
 * @param room A fresh room id ({@linkcode roomId}).
 */
export async function makeRoom(members: Member[], who: BenchIdentity, room: string): Promise<void> {
  const pins = await keyPins(who);
  let seq = -1;
  let head = "";
  const sign = async (author: string, fields: Partial<RoomEntry> & Pick<RoomEntry, "op">) => {
    const entry: RoomEntry = {
      room,
      seq: seq + 1,
      prev: head,
      author,
      subject: "",
      keys: null,
      settings: null,
      time: Date.now(),
      ...fields,
    };
    return (await signEntry(entry, who.identity)).toBase64();
  };
  const accepted = async (entry: string) => {
    const bytes = Uint8Array.fromBase64(entry);
    seq++;
    head = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toBase64();
  };
  const [owner, ...others] = members;
  const create = await sign(owner.name, {
    op: "create",
    keys: pins,
    settings: { invite: "members", control: "all" },
  });
  await ask(owner, { type: "room-create", name: `r${room.slice(0, 8)}`, entry: create });
  await accepted(create);
  for (const member of others) {
    const invite = await sign(owner.name, { op: "invite", subject: member.name, keys: pins });
    await ask(owner, { type: "room-change", room, entry: invite });
    await accepted(invite);
    const accept = await sign(member.name, { op: "accept", subject: member.name });
    await ask(member, { type: "room-change", room, entry: accept });
    await accepted(accept);
  }
}

/**
 * A fresh random room id.
 *
 * @returns 16 random bytes in base64url.
 */
export function roomId(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function body(bytes: number, index: number): Uint8Array {
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint32(0, index);
  return out;
}

/** The fan-out run: `count` messages, at most {@linkcode WINDOW} in flight. */
async function fanOut(members: Member[], room: string, count: number) {
  const [sender, ...others] = members;
  const sentAt: number[] = [];
  const remaining: number[] = [];
  const toLast: number[] = [];
  let done = 0;
  let next = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const send = () => {
    const index = next++;
    sentAt[index] = performance.now();
    remaining[index] = others.length;
    sender.client.send({
      type: "room-send",
      id: sender.client.nextId++,
      room,
      body: body(ENVELOPE_BYTES_100, index),
    });
  };
  let duplicates = 0;
  for (const member of others) {
    const seen = new Set<number>();
    member.onDeliver = (index, now) => {
      if (seen.has(index)) duplicates++;
      seen.add(index);
      if (--remaining[index] > 0) return;
      toLast.push(now - sentAt[index]);
      if (++done === count) finish();
      else if (next < count) send();
    };
  }
  const start = performance.now();
  for (let i = 0; i < Math.min(WINDOW, count); i++) send();
  await finished;
  const seconds = (performance.now() - start) / 1000;
  return { deliveriesPerSecond: (count * others.length) / seconds, toLast, duplicates };
}

/** The drain run: `count` room messages queued for a member offline, then their join timed. */
async function drain(ctx: BenchContext, port: number, who: BenchIdentity, count: number) {
  const [senderName, offlineName] = names(ctx, "q", 2);
  const { clients } = await connectMany(port, { names: [senderName, offlineName], who });
  const [sender, offline] = [wire(senderName, clients[0]), wire(offlineName, clients[1])];
  const room = roomId();
  await makeRoom([sender, offline], who, room);
  // The server takes the leave before the first send: the sender waits for `left`.
  const left = new Promise<void>((resolve) => {
    sender.onLeft = (name) => name === offlineName && resolve();
  });
  offline.client.close();
  await Promise.all([offline.client.done, left]);
  let queued = 0;
  for (let i = 0; i < count; i++) {
    const answer = await ask(sender, { type: "room-send", room, body: body(ENVELOPE_BYTES_2, i) });
    if (answer.type === "room-sent" && answer.queued.length === 1) queued++;
  }
  const again = wire(offlineName, await LoadClient.connect(port));
  let last = 0;
  let got = 0;
  const all = new Promise<void>((resolve) => {
    again.onDeliver = (_index, now) => {
      last = now;
      if (++got === count) resolve();
    };
  });
  const start = performance.now();
  await again.client.register(offlineName, who);
  await all;
  const ms = last - start;
  for (const member of [sender, again]) member.client.close();
  return { ms, queued };
}

/**
 * Runs the rooms scenario.
 *
 * @param ctx The bench context.
 * @returns Deliveries per second and time to the last member at 100 members; the drain time.
 */
export async function roomsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const messages = ctx.quick ? 50 : 500;
  const queued = ctx.quick ? 100 : 1000;
  const who = await benchIdentity(await generateIdentity());
  const failures: string[] = [];
  const result = await withServer(ctx, async (server) => {
    const { clients } = await connectMany(server.port, { names: names(ctx, "m", 100), who });
    const members = clients.map((client, i) => wire(names(ctx, "m", 100)[i], client));
    const room = roomId();
    await makeRoom(members, who, room);
    ctx.log(`rooms: a room of ${members.length}; ${messages} messages of ${ENVELOPE_BYTES_100} B`);
    const run = await fanOut(members, room, messages);
    for (const member of members) member.client.close();
    ctx.log(`rooms: ${queued} messages queued for a member offline, then drained`);
    const drained = await drain(ctx, server.port, who, queued);
    return { run, drained };
  }, { limits: { ...BENCH_LIMITS, queueMessages: Math.max(1000, queued) } });
  if (result.run.duplicates > 0) {
    failures.push(`${result.run.duplicates} room deliveries came twice`);
  }
  if (result.drained.queued !== queued) {
    failures.push(`only ${result.drained.queued} of ${queued} messages were queued`);
  }
  return {
    id: "rooms",
    title: "Rooms: one sender to a 100-member room, and a queue drained on join",
    metrics: [
      {
        name: "deliveries per second, 100-member room (99 recipients)",
        unit: "/s",
        values: [result.run.deliveriesPerSecond],
        limit: `one sender, ${WINDOW} messages in flight, bodies of ${ENVELOPE_BYTES_100} B`,
      },
      {
        name: "send → its delivery at the last of 99 members",
        unit: "ms",
        values: result.run.toLast,
        limit: `each of ${messages} messages; up to ${WINDOW} in flight`,
      },
      {
        name: `${queued} queued room messages drained on join (to the last)`,
        unit: "ms",
        values: [result.drained.ms],
        target: "≤ 1000 ms",
        goal: ctx.quick
          ? { stat: "max", atMost: 1000, notTested: "quick mode queues 100" }
          : { stat: "max", atMost: 1000 },
      },
    ],
    failures,
    notes: [
      "The server relays room envelopes as opaque bytes of a real envelope's size; sealing (one RSA-OAEP wrap per member) is measured on the client.",
    ],
  };
}
