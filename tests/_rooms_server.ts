/**
 * Support of the `tests/rooms_server_*_test.ts` suites: a room of three members (and one outsider),
 * a `room-send` request, the deliveries a person got, and a join with an ephemeral name.
 * @module
 */

import { equal } from "node:assert/strict";
import { exportPublicKeys, signChallenge } from "../protocol/e2e.ts";
import { type Message, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { RawClient } from "./_raw_client.ts";
import {
  Chain,
  change,
  create,
  invite,
  join,
  type Person,
  person,
  request,
  ROOM,
} from "./_room_people.ts";

/** A room of alice (owner), bob and carol; dave is not in it. */
export async function roomOfThree(port: number): Promise<{ people: Person[]; chain: Chain }> {
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol] = people;
  for (const who of people) await join(port, who);
  const chain = new Chain();
  await create(chain, alice);
  for (const member of [bob, carol]) {
    await invite(chain, alice, member);
    await change(chain, member, await chain.sign(member, { op: "accept" }));
  }
  return { people, chain };
}

/** Sends `body` to `room` as `who`; resolves with the server's answer. */
export function roomSend(who: Person, body: Uint8Array, room = ROOM): Promise<Message> {
  return request(who, { type: "room-send", room, body });
}

/** The `deliver` messages `who` got. */
export const delivers = (who: Person): Message[] =>
  who.client!.messages.filter((m) => m.type === "deliver");

/** Joins with an ephemeral name (held only while connected; free for anyone once it leaves). */
export async function joinEphemeral(port: number, who: Person): Promise<RawClient> {
  const client = await RawClient.connect(port, { timeoutMs: 30_000 });
  const keys = await exportPublicKeys(who.identity);
  const challenge = Uint8Array.fromBase64(client.greeting.challenge);
  const proof = (await signChallenge(who.identity, challenge, who.name)).toBase64();
  await client.write({
    type: "hello",
    version: PROTOCOL_VERSION,
    name: who.name,
    ...keys,
    proof,
    ephemeral: true,
  });
  const answer = await client.next((m) => m.type === "welcome" || m.type === "error");
  equal(answer.type, "welcome", JSON.stringify(answer));
  who.client = client;
  return client;
}
