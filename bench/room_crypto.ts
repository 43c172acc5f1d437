/**
 * Scenario "room-crypto" (issue 20's figures, the client's part): in process, the cost of sealing
 * one room message (one AES-256-GCM encryption, one RSA-OAEP wrap per member, one Ed25519
 * signature) and of opening it, by room size (10, 50, 100 members), the envelope's size, and the
 * time a client takes to check a room's whole chain (each entry's signature and the op table).
 * @module
 */

import { exportPublicKeys, generateIdentity, type Identity } from "../protocol/e2e.ts";
import { ReplayGuard } from "../protocol/replay.ts";
import { type RoomEntry, signEntry } from "../protocol/room_chain.ts";
import { openRoom, type RoomRecipient, sealRoom } from "../protocol/room_envelope.ts";
import { RoomHistory, type RoomKeys, roomKeys } from "../protocol/room_history.ts";
import type { BenchContext, Metric, ScenarioResult } from "./_scenario.ts";

interface Member {
  name: string;
  identity: Identity;
  keys: RoomKeys;
}

/** The room sizes measured. */
const SIZES = [10, 50, 100] as const;
/** A chat line's worth of text. */
const TEXT = "m".repeat(100);

async function member(name: string): Promise<Member> {
  const identity = await generateIdentity();
  return { name, identity, keys: await roomKeys(await exportPublicKeys(identity)) };
}

/** The signed entries of a room where `members[0]` invites each other member, who accepts. */
async function chainOf(members: readonly Member[]): Promise<string[]> {
  const lookup = new Map(members.map((m) => [m.name, m.keys]));
  const history = new RoomHistory();
  const entries: string[] = [];
  const add = async (who: Member, fields: Partial<RoomEntry> & Pick<RoomEntry, "op">) => {
    const state = history.state;
    const entry = (await signEntry({
      room: "AAAAAAAAAAAAAAAAAAAAAA",
      seq: history.seq + 1,
      prev: state?.head ?? "",
      author: who.name,
      subject: "",
      keys: null,
      settings: null,
      time: Date.now(),
      ...fields,
    }, who.identity)).toBase64();
    await history.extend([entry], (name) => Promise.resolve(lookup.get(name)));
    entries.push(entry);
  };
  const [owner, ...others] = members;
  await add(owner, {
    op: "create",
    keys: owner.keys.pins,
    settings: { invite: "members", control: "all" },
  });
  for (const other of others) {
    await add(owner, { op: "invite", subject: other.name, keys: other.keys.pins });
    await add(other, { op: "accept", subject: other.name });
  }
  return entries;
}

/**
 * Runs the scenario.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function roomCryptoScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const iterations = ctx.quick ? 5 : 40;
  const all = await Promise.all(
    Array.from({ length: SIZES.at(-1)! }, (_, i) => member(`m${i}`)),
  );
  ctx.log(`room-crypto: ${all.length} identities made`);
  const metrics: Metric[] = [];
  const detail: Record<string, unknown> = {};
  for (const size of SIZES) {
    const members = all.slice(0, size);
    const entries = await chainOf(members);
    const lookup = new Map(members.map((m) => [m.name, m.keys]));
    const checkMs: number[] = [];
    let history = new RoomHistory();
    for (let i = 0; i < Math.max(2, iterations / 10); i++) {
      history = new RoomHistory();
      const t = performance.now();
      await history.extend(entries, (name) => Promise.resolve(lookup.get(name)));
      checkMs.push(performance.now() - t);
    }
    const recipients = new Map<string, RoomRecipient>(
      members.map((m) => [m.name, { enc: m.identity.enc.publicKey, pins: m.keys.pins }]),
    );
    const reader = members.at(-1)!;
    const replay = new ReplayGuard({ maxIds: iterations * 2 });
    const sealMs: number[] = [];
    const openMs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const envelope = await sealRoom(TEXT, {
        from: "m0",
        identity: members[0].identity,
        state: history.state!,
        recipients,
        origin: new Uint8Array(8),
        counter: i + 1,
      });
      const t1 = performance.now();
      const opened = await openRoom(envelope, {
        room: history.state!.room,
        from: "m0",
        me: reader.name,
        identity: reader.identity,
        chain: history,
        sender: members[0].keys,
        replay,
      });
      const t2 = performance.now();
      if (opened.text !== TEXT) throw new Error("Opened text differs from the sealed one");
      sealMs.push(t1 - t0);
      openMs.push(t2 - t1);
      bytes = envelope.length;
    }
    metrics.push(
      { name: `${size} members: seal (one wrap each) + sign`, unit: "ms", values: sealMs },
      { name: `${size} members: verify + open (one member)`, unit: "ms", values: openMs },
      {
        name: `${size} members: check the chain (${entries.length} entries)`,
        unit: "ms",
        values: checkMs,
      },
    );
    detail[`envelopeBytes${size}`] = bytes;
    ctx.log(`room-crypto: ${size} members done (envelope ${bytes} B)`);
  }
  return {
    id: "room-crypto",
    title: "Rooms: the client's crypto by room size (in process, WebCrypto)",
    metrics,
    failures: [],
    notes: [
      `A ${TEXT.length}-byte text; the envelope is ${
        SIZES.map((s) => `${detail[`envelopeBytes${s}`]} B at ${s}`).join(", ")
      } members (one ~262-byte wrap per member)`,
      "Checking the chain verifies every entry's Ed25519 signature and replays the op table; a client does it per room at join",
    ],
    detail,
  };
}
