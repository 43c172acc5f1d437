/**
 * Hostile peers against real processes: a real `serve` and real `join` clients, the attackers
 * speaking the protocol directly. Each test is one finding of issue 9: a flood that used to cost
 * the recipient its connection (1), text that wrote on the victim's terminal (2), look-alike names
 * (7) and trust-on-first-use false alarms for names like `constructor` (8).
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage, type ErrorMessage } from "../protocol/messages.ts";
import { type CliClient, connectClient, startCli, startServer } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";

/** A byte that moves the cursor or changes the terminal: C0 but line feed, DEL, C1, bidi controls. */
const CONTROL =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Asserts that nothing the CLI printed holds a control character. */
function assertNoControl(cli: CliClient) {
  for (const line of [...cli.out.lines, ...cli.err.lines]) {
    ok(!CONTROL.test(line), `control character in ${JSON.stringify(line)}`);
  }
}

Deno.test("finding 1: two senders flooding a stalled recipient get INBOX_FULL; the recipient stays connected and chats", async () => {
  const server = await startServer();
  const victim = await startCli(server.port, "victim");
  const attackers: RawClient[] = [];
  const alice = await connectClient(server.port, "alice");
  try {
    for (const name of ["flood1", "flood2"]) {
      const attacker = await RawClient.connect(server.port);
      await attacker.register(name, await generateIdentity());
      attackers.push(attacker);
    }
    // The victim's machine is busy for a moment: it reads nothing while 2 × 250 sealed-size
    // messages (47 MiB) are sent to it.
    Deno.kill(victim.child.pid, "SIGSTOP");
    const body = new Uint8Array(96 * 1024);
    let answers: ErrorMessage[] = [];
    try {
      await Promise.all(attackers.map(async (attacker) => {
        for (let id = 1; id <= 250; id++) {
          await attacker.write(encodeMessage({ type: "send", id, to: "victim", body }));
        }
      }));
      // Over budget, each sender is told at once, while the recipient is still stalled.
      for (const attacker of attackers) {
        await attacker.next((m) => m.type === "error" && m.code === "INBOX_FULL");
      }
    } finally {
      Deno.kill(victim.child.pid, "SIGCONT");
    }
    // Every send is answered: INBOX_FULL, or the victim's own verdict on the garbage it got.
    for (const attacker of attackers) {
      const answered = () =>
        new Set(attacker.messages.flatMap((m) => m.type === "error" ? [m.re] : [])).size;
      await attacker.next(() => answered() === 250, { timeoutMs: 20_000 });
      answers = attacker.messages.filter((m): m is ErrorMessage => m.type === "error");
      const codes = new Set(answers.map((m) => m.code));
      deepEqual([...codes].sort(), ["BAD_MESSAGE", "INBOX_FULL"]);
      equal(new Set(answers.map((m) => m.re)).size, 250);
      ok(!attacker.closed);
    }
    // The victim is still there and still chats.
    await alice.session.sendText("victim", "are you still there?");
    await victim.out.waitFor(/^<alice> are you still there\?$/);
    ok(!server.out.lines.some((l) => /"victim".*(leave|drop)|(leave|drop).*"victim"/.test(l)));
    ok(server.out.lines.some((l) => /reject #\d+ "flood1": INBOX_FULL/.test(l)), "logged once");
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    assertNoControl(victim);
  } finally {
    for (const attacker of attackers) {
      attacker.close();
      await attacker.done;
    }
    alice.session.close();
    await alice.session.done;
    await victim.finish();
    await server.stop();
  }
});
