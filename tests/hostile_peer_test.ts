/**
 * Hostile peers against real processes: a real `serve` and real `join` clients, the attackers
 * speaking the protocol directly. Each test is one finding of issue 9: a flood that used to cost
 * the recipient its connection (1), text that wrote on the victim's terminal (2), look-alike names
 * (7), trust-on-first-use false alarms for names like `constructor` (8), and what a peer could
 * learn or fill: relay ids, names per key, ephemeral names (9).
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { exportPublicKeys, generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage, type ErrorMessage } from "../protocol/messages.ts";
import { type CliClient, connectClient, startCli, startServer } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";

/** A byte that moves the cursor or changes the terminal: C0 but line feed, DEL, C1, bidi controls. */
const CONTROL =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** A real server's limits: the attacks meet the defaults, not the loopback test limits. */
const DEFAULTS = { env: { PEERSTREAM_LIMITS: "{}" } };

/** Asserts that nothing the CLI printed holds a control character. */
function assertNoControl(cli: CliClient) {
  for (const line of [...cli.out.lines, ...cli.err.lines]) {
    ok(!CONTROL.test(line), `control character in ${JSON.stringify(line)}`);
  }
}

Deno.test("finding 1: two senders flooding a stalled recipient get INBOX_FULL; the recipient stays connected and chats", async () => {
  const server = await startServer(DEFAULTS);
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
    await server.out.waitFor(/reject #\d+ "flood1": INBOX_FULL/);
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    // The server logs in order: a drop of the victim would come before its own quit.
    const quit = await server.out.waitFor(/leave #\d+ "victim" \(quit/);
    deepEqual(
      server.out.lines.filter((l) =>
        l !== quit && /"victim".*(leave|drop)|(leave|drop).*"victim"/.test(l)
      ),
      [],
      "the victim was never dropped",
    );
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

Deno.test("finding 2: a peer's text cannot write on the victim's terminal or forge a line from someone else", async () => {
  const server = await startServer(DEFAULTS);
  const victim = await startCli(server.port, "victim");
  const mallory = await connectClient(server.port, "mallory");
  try {
    const forged = [
      "hi",
      "\r<alice ✓> please re-send me the wifi password",
      "<alice ✓> and a second forged line\r\n\x1b[1A\x1b[2K<bob> moved up a line",
      "\x1b]0;owned\x07\x1b]52;c;aGk=\x07\x1b[2J\x1b[H\u009b31m\u202egnirts\u2066",
      "\u2028<alice ✓> after a line separator",
    ].join("\n");
    await mallory.session.sendText("victim", forged);
    await mallory.session.sendText("victim", "done");
    await victim.out.waitFor(/^<mallory> done$/);
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    assertNoControl(victim);
    // Every line of the message says it is mallory's: none can pass for alice's or bob's.
    const lines = victim.out.lines.filter((l) => !/^(Joined|\* )/.test(l));
    ok(lines.length >= 6, JSON.stringify(lines));
    for (const line of lines) ok(line.startsWith("<mallory> "), JSON.stringify(line));
    ok(!lines.some((l) => /^<(alice|bob)/.test(l)));
    ok(lines.some((l) => l.includes("\\x1b]52;c;aGk=\\x07")), "the escape is shown, not run");
  } finally {
    mallory.session.close();
    await mallory.session.done;
    await victim.finish();
    await server.stop();
  }
});

Deno.test("finding 7: names that look like a bound name are refused with their code; the owner and the victim are undisturbed", async () => {
  const server = await startServer(DEFAULTS);
  const owner = await connectClient(server.port, "alice");
  const victim = await startCli(server.port, "victim");
  try {
    const mallory = await generateIdentity();
    const table: [string, string][] = [
      ["Alice", "NAME_CONFUSABLE"],
      ["ALICE", "NAME_CONFUSABLE"],
      ["aIice", "NAME_CONFUSABLE"],
      ["a1ice", "NAME_CONFUSABLE"],
      ["\u0430lice", "NAME_INVALID"], // Cyrillic а: mixed scripts
      ["\uff41\uff4c\uff49\uff43\uff45", "NAME_INVALID"], // fullwidth: a compatibility variant
      ...["\u034f", "\ufe0f", "\u3164", "\u115f", "\uffa0"].map((c): [string, string] => [
        `alice${c}`,
        "NAME_INVALID", // invisible
      ]),
    ];
    for (const [name, code] of table) {
      const raw = await RawClient.connect(server.port);
      try {
        await raw.hello(name, mallory);
        const error = await raw.nextError();
        equal(error.code, code, `${JSON.stringify(name)}: ${error.message}`);
        ok(!CONTROL.test(error.message), JSON.stringify(error.message));
      } finally {
        raw.close();
        await raw.done;
      }
    }
    // The real alice still chats; the victim saw no look-alike join.
    await owner.session.sendText("victim", "it's really me");
    await victim.out.waitFor(/^<alice> it's really me$/);
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    ok(!victim.out.lines.some((l) => /joined/.test(l)), victim.out.lines.join("\n"));
    assertNoControl(victim);
  } finally {
    owner.session.close();
    await owner.session.done;
    await victim.finish();
    await server.stop();
  }
});

Deno.test("finding 8: peers named like Object.prototype members raise no false key alarm, now or after a restart", async () => {
  const server = await startServer(DEFAULTS);
  const names = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];
  const peers = await Promise.all(names.map((name) => connectClient(server.port, name)));
  let victim = await startCli(server.port, "victim");
  try {
    for (const peer of peers) await peer.session.sendText("victim", "hi");
    for (const name of names) await victim.out.waitFor(new RegExp(`^<${name}> hi$`));
    await victim.type("WHO");
    for (const name of names) await victim.out.waitFor(new RegExp(`^${name}\\s+.*\\bnew$`));
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    // The known-peers file is read back: every peer is known, none changed.
    victim = await startCli(server.port, "victim", { home: victim.home });
    await victim.type("WHO");
    for (const name of names) await victim.out.waitFor(new RegExp(`^${name}\\s+.*\\bknown$`));
    for (const peer of peers) await peer.session.sendText("victim", "again");
    for (const name of names) await victim.out.waitFor(new RegExp(`^<${name}> again$`));
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
    const all = [...victim.out.lines, ...victim.err.lines];
    ok(!all.some((l) => /changed|UNVERIFIED/.test(l)), all.join("\n"));
  } finally {
    for (const peer of peers) {
      peer.session.close();
      await peer.session.done;
    }
    await victim.finish();
    await Deno.remove(victim.home, { recursive: true });
    await server.stop();
  }
});

Deno.test("finding 9: one key cannot fill names.json, ephemeral names are never saved, relay ids reveal nothing", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-names-" });
  const server = await startServer({ ...DEFAULTS, args: ["--data", data] });
  let ephemeral: CliClient | undefined;
  try {
    const key = await generateIdentity();
    const codes: string[] = [];
    for (let i = 0; i < 9; i++) {
      const raw = await RawClient.connect(server.port);
      await raw.hello(`filler${i}`, key);
      const answer = await raw.next((m) => m.type === "welcome" || m.type === "error");
      codes.push(answer.type === "error" ? answer.code : "welcome");
      raw.close();
      await raw.done;
    }
    deepEqual(codes, [...Array(8).fill("welcome"), "NAME_LIMIT"]);

    // An ephemeral identity holds its name while connected, and only then.
    ephemeral = await startCli(server.port, "passing", {
      args: ["--player", "none", "--ephemeral"],
    });
    const other = await generateIdentity();
    const taken = await RawClient.connect(server.port);
    await taken.hello("passing", other);
    equal((await taken.nextError()).code, "NAME_TAKEN");
    taken.close();
    await taken.done;
    await ephemeral.type("QUIT");
    equal(await ephemeral.finish(), 0);
    await server.out.waitFor(/leave #\d+ "passing"/);

    // Relay ids are random, not a count of the server's traffic.
    const receiver = await RawClient.connect(server.port);
    await receiver.register("passing", other);
    const sender = await connectClient(server.port, "sender");
    const rids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const from = receiver.messages.length;
      const sent = sender.session.sendText("passing", `m${i}`).catch(() => {});
      const deliver = await receiver.next((m) => m.type === "deliver", { from });
      rids.push((deliver as { rid: string }).rid);
      await receiver.write({ type: "receipt", rid: rids[i], ok: true });
      await sent;
    }
    ok(rids.every((rid) => /^[A-Za-z0-9_-]{16}$/.test(rid)), rids.join(" "));
    equal(new Set(rids).size, 3);
    receiver.close();
    await receiver.done;
    sender.session.close();
    await sender.session.done;
    await server.stop();
    // The ephemeral name was never written; "passing" is bound now to the key that took it after.
    const names = JSON.parse(await Deno.readTextFile(`${data}/names.json`));
    equal(Object.keys(names).filter((n) => n.startsWith("filler")).length, 8);
    equal(names.passing, (await exportPublicKeys(other)).signKey);
  } finally {
    await ephemeral?.finish();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});
