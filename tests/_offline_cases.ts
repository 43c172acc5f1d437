/**
 * Sealed offline delivery cases that must hold the same on one server and across a cluster's
 * nodes (tests/offline_test.ts, tests/cluster_offline_test.ts): each takes the ports alice (the
 * sender) and bob (bound, then back) use, the same port for all on one server.
 * @module
 */

import { deepEqual, rejects } from "node:assert/strict";
import { type ClientEvent, connectClient, type TestClient } from "./_helpers.ts";
import { generateIdentity, type Identity } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";

/** Whether a client event is a message shown. */
export const isMessage = (e: ClientEvent): e is Extract<ClientEvent, { kind: "message" }> =>
  e.kind === "message";

/** The `delivered`/`expired` notices a client was given, in order. */
export const notices = (client: TestClient): ClientEvent[] =>
  client.events.filter((e) => e.kind === "queue-notice");

/**
 * Binds `name` to a fresh key (a first join, then QUIT), seen joining and leaving by `watcher`.
 *
 * @param port Where to join.
 * @param name The name.
 * @param watcher A client that must see the leave (on any node).
 * @returns The key the name is bound to.
 */
export async function bindAndLeave(
  port: number,
  name: string,
  watcher: TestClient,
): Promise<Identity> {
  const identity = await generateIdentity();
  const client = await connectClient(port, name, { identity });
  await watcher.waitFor((e) => e.kind === "joined" && e.name === name);
  await client.session.quit();
  await watcher.waitFor((e) => e.kind === "left" && e.name === name);
  return identity;
}

/** Where a case's clients connect. */
export interface CasePorts {
  /** alice, the sender. */
  alice: number;
  /** bob's first join (his name bound there). */
  bind: number;
  /** bob's join after the messages were queued. */
  back: number;
}

/**
 * With `--queue-messages 2`: a third message is refused `QUEUE_FULL` in the design's words, and
 * the two accepted are delivered and confirmed; then the queue is empty again.
 *
 * @param ports Where alice and bob connect.
 */
export async function fullQueueCase(ports: CasePorts): Promise<void> {
  const alice = await connectClient(ports.alice, "alice");
  const bobKey = await bindAndLeave(ports.bind, "bob", alice);
  deepEqual(await alice.session.sendText("bob", "one"), { queued: true, qseq: 1 });
  deepEqual(await alice.session.sendText("bob", "two"), { queued: true, qseq: 2 });
  await rejects(
    alice.session.sendText("bob", "three"),
    (e: Error) =>
      e instanceof PeerstreamError && e.code === "QUEUE_FULL" &&
      e.message === 'Cannot queue for "bob": 2 messages wait for them; try when "bob" is online',
  );
  const bob = await connectClient(ports.back, "bob", { identity: bobKey });
  await bob.waitFor((e) => isMessage(e) && e.message.text === "two");
  await alice.waitFor(() => notices(alice).length === 2);
  // Emptied by the receipts: bob, online, gets the next one at once.
  deepEqual(await alice.session.sendText("bob", "four"), { queued: false });
  await bob.waitFor((e) => isMessage(e) && e.message.text === "four");
  deepEqual(bob.events.filter(isMessage).map((e) => e.message.text), ["one", "two", "four"]);
  await alice.session.quit();
  await bob.session.quit();
}

/**
 * With messages expiring after about a second: a queued message is deleted unread, its sender is
 * told `expired`, and bob, back, never sees it.
 *
 * @param ports Where alice and bob connect.
 */
export async function expiredCase(ports: CasePorts): Promise<void> {
  const alice = await connectClient(ports.alice, "alice");
  const bobKey = await bindAndLeave(ports.bind, "bob", alice);
  deepEqual(await alice.session.sendText("bob", "too late"), { queued: true, qseq: 1 });
  await alice.waitFor((e) => e.kind === "queue-notice" && e.notice === "expired");
  const bob = await connectClient(ports.back, "bob", { identity: bobKey });
  // A live message after the join closes the window: the expired one never came.
  deepEqual(await alice.session.sendText("bob", "now live"), { queued: false });
  await bob.waitFor((e) => isMessage(e) && e.message.text === "now live");
  deepEqual(bob.events.filter(isMessage).map((e) => e.message.text), ["now live"]);
  deepEqual(notices(alice), [{ kind: "queue-notice", notice: "expired", to: "bob", qseq: 1 }]);
  await alice.session.quit();
  await bob.session.quit();
}

/**
 * An ephemeral peer who left is never queued for: `PEER_OFFLINE`, as in version 2.
 *
 * @param ports Where alice and carol (the ephemeral peer, `bind`) connect.
 */
export async function ephemeralCase(ports: Omit<CasePorts, "back">): Promise<void> {
  const alice = await connectClient(ports.alice, "alice");
  const carol = await connectClient(ports.bind, "carol", { ephemeral: true });
  await alice.waitFor((e) => e.kind === "joined" && e.name === "carol");
  await alice.session.peerKeys("carol");
  await carol.session.quit();
  await alice.waitFor((e) => e.kind === "left" && e.name === "carol");
  await rejects(
    alice.session.sendText("carol", "hello?"),
    (e: Error) => e instanceof PeerstreamError && e.code === "PEER_OFFLINE",
  );
  deepEqual(notices(alice), []);
  await alice.session.quit();
}
