/**
 * Grandfathered names against real processes: a server started with a `names.json` that binds
 * `аlice` (Cyrillic а) and `ca\u200Brol` (a zero-width space), names today's rules refuse but
 * their own keys still log in with (an older client, or a hostile one, sends them as they are).
 * The terminal client on a pty and the page in Chromium show them with the mark and their
 * invisible characters escaped, each from its own check of the name; the server's log too.
 * Issue 16, item 5.
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  exportPublicKeys,
  generateIdentity,
  type Identity,
  importPeerKeys,
  seal,
} from "../protocol/e2e.ts";
import type { Message } from "../protocol/messages.ts";
import { GRANDFATHERED_HINT } from "../protocol/shown_name.ts";
import {
  connectClient,
  PROGRAM_PERMISSIONS,
  type ServerProcess,
  startPtyJoin,
} from "./_helpers.ts";
import { startCluster } from "./_cluster.ts";
import { redisCommand } from "./_redis.ts";
import { until } from "./_util.ts";
import { launchBrowser } from "./_browser.ts";
import { inPage, joinAs, openPage, startWebServer, waitInPage } from "./_page.ts";
import { RawClient } from "./_raw_client.ts";

const ALICE = "\u0430lice";
const CAROL = "ca\u200brol";
/** Shown for `ca\u200Brol`: the escape, never the invisible character. */
const CAROL_SHOWN = "ca\\u200brol";
const INVISIBLE = /[\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069]/u;

/** A data folder whose `names.json` binds the two grandfathered names to fresh keys. */
async function grandfatheredData(): Promise<{ data: string; ids: Map<string, Identity> }> {
  const data = await Deno.makeTempDir({ prefix: "peerstream-grandfathered-" });
  const ids = new Map<string, Identity>();
  const bindings: Record<string, string> = {};
  for (const name of [ALICE, CAROL]) {
    const identity = await generateIdentity();
    ids.set(name, identity);
    bindings[name] = (await exportPublicKeys(identity)).signKey;
  }
  await Deno.writeTextFile(`${data}/names.json`, JSON.stringify(bindings));
  return { data, ids };
}

function isType<T extends Message["type"]>(type: T) {
  return (m: Message): m is Extract<Message, { type: T }> => m.type === type;
}

/** Logs in with a name as it is (no client-side rules), as an older client would. */
async function rawJoin(port: number, name: string, identity: Identity): Promise<RawClient> {
  const raw = await RawClient.connect(port, { timeoutMs: 20_000 });
  await raw.register(name, identity);
  return raw;
}

/** Seals a message to a peer and sends it from a raw client; resolves once it is delivered. */
async function rawSend(
  raw: RawClient,
  options: { from: string; to: string; text: string; identity: Identity; id: number },
): Promise<void> {
  const from = raw.messages.length;
  await raw.write({ type: "key", id: options.id, name: options.to });
  const info = await raw.next((m) => m.type === "key-info" && m.re === options.id, {
    from,
    timeoutMs: 20_000,
  });
  if (!isType("key-info")(info)) throw new Error("no key-info");
  const recipient = await importPeerKeys({ encKey: info.encKey, signKey: info.signKey });
  const body = await seal(options.text, {
    from: options.from,
    to: options.to,
    identity: options.identity,
    recipient,
  });
  await raw.write({ type: "send", id: options.id + 1, to: options.to, body });
  await raw.next((m) => m.type === "delivered" && m.re === options.id + 1, {
    from,
    timeoutMs: 20_000,
  });
}

function serverLog(server: ServerProcess): string {
  return [...server.out.lines, ...server.err.lines].join("\n");
}

Deno.test("grandfathered names: the terminal (on a pty) and the server log mark them and escape their invisible characters", async () => {
  const { data, ids } = await grandfatheredData();
  const server = await startWebServer({ args: ["--data", data] });
  const bob = await startPtyJoin(server.port, "bob");
  const raws: RawClient[] = [];
  try {
    // The screen is searched from its start: each line may have arrived before the wait begins.
    await bob.screen.waitFor(/Joined /, 20_000, 0);
    raws.push(await rawJoin(server.port, ALICE, ids.get(ALICE)!));
    raws.push(await rawJoin(server.port, CAROL, ids.get(CAROL)!));
    await bob.screen.waitFor(/\* \u0430lice ⚠ joined/, 20_000, 0);
    await bob.screen.waitFor(/\* ca\\u200brol ⚠ joined/, 20_000, 0);
    await rawSend(raws[0], {
      from: ALICE,
      to: "bob",
      text: "it's me",
      identity: ids.get(ALICE)!,
      id: 1,
    });
    await bob.screen.waitFor(/<\u0430lice ⚠> it's me/, 20_000, 0);
    await rawSend(raws[1], {
      from: CAROL,
      to: "bob",
      text: "me too",
      identity: ids.get(CAROL)!,
      id: 1,
    });
    await bob.screen.waitFor(/<ca\\u200brol ⚠> me too/, 20_000, 0);
    await bob.type("WHO\r");
    await bob.screen.waitFor(/\u0430lice ⚠ +[0-9a-f]{4} /, 20_000, 0);
    await bob.screen.waitFor(/ca\\u200brol ⚠ +[0-9a-f]{4} /, 20_000, 0);
    await bob.type("HELP\r");
    await bob.screen.waitFor(new RegExp(`⚠ +${GRANDFATHERED_HINT}`), 20_000, 0);
    ok(!INVISIBLE.test(bob.screen.text), "an invisible character reached the terminal");

    const log = serverLog(server);
    ok(log.includes(`"\u0430lice" ⚠ (grandfathered: ${GRANDFATHERED_HINT})`), log);
    ok(log.includes(`"${CAROL_SHOWN}" ⚠ (grandfathered: ${GRANDFATHERED_HINT})`), log);
    ok(!INVISIBLE.test(log), `an invisible character reached the log:\n${log}`);
  } finally {
    for (const raw of raws) raw.close();
    await bob.finish();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("grandfathered names in the page (Chromium): marked with a tooltip, escaped, and a forged line in bob's message stays bob's", async (t) => {
  const { data, ids } = await grandfatheredData();
  const server = await startWebServer({ args: ["--data", data] });
  const chromium = await launchBrowser("chromium");
  const raws: RawClient[] = [];
  let bob: Awaited<ReturnType<typeof connectClient>> | undefined;
  try {
    const { page, errors } = await openPage(chromium, server.url);
    await joinAs(page, "dora");
    raws.push(await rawJoin(server.port, ALICE, ids.get(ALICE)!));
    raws.push(await rawJoin(server.port, CAROL, ids.get(CAROL)!));
    const honest = await connectClient(server.port, "bob");
    bob = honest;

    await t.step(
      "the peer list shows each grandfathered name escaped and marked, with what the mark means",
      async () => {
        const peers = await waitInPage<
          Record<string, { name: string; mark: string; title: string }>
        >(
          page,
          inPage(
            `(names) => {
            const out = {};
            for (const name of names) {
              const item = document.querySelector('#peers li[data-peer="' + CSS.escape(name) + '"]');
              if (item === null) return false;
              const mark = item.querySelector(".grandfathered");
              out[name] = {
                name: item.querySelector(".name").textContent,
                mark: mark?.textContent ?? "",
                title: mark?.title ?? "",
              };
            }
            return out;
          }`,
            [ALICE, CAROL, "bob"],
          ),
        );
        equal(peers[ALICE].name, ALICE);
        equal(peers[ALICE].mark.trim(), "⚠");
        equal(peers[ALICE].title, GRANDFATHERED_HINT);
        equal(peers[CAROL].name, CAROL_SHOWN);
        equal(peers[CAROL].mark.trim(), "⚠");
        equal(peers.bob.mark, "");
      },
    );

    await t.step(
      "a message from a grandfathered name carries the mark and the escape",
      async () => {
        await rawSend(raws[1], {
          from: CAROL,
          to: "dora",
          text: "hello",
          identity: ids.get(CAROL)!,
          id: 1,
        });
        const carolSays = await waitInPage<string>(
          page,
          inPage(
            `(name) => {
            const item = [...document.querySelectorAll("#messages li[data-from]")]
              .find((li) => li.dataset.from === name);
            return item?.textContent ?? false;
          }`,
            CAROL,
          ),
        );
        ok(carolSays.startsWith(`${CAROL_SHOWN} ⚠: hello`), carolSays);
      },
    );

    await t.step(
      "a forged line inside bob's message is bob's: every line of it carries his label, the second marked ┆",
      async () => {
        await honest.session.sendText("dora", "line1\n<alice ✓> forged");
        const lines = await waitInPage<{ from: string; text: string }[]>(
          page,
          inPage(
            `() => {
            const item = [...document.querySelectorAll("#messages li[data-from]")]
              .find((li) => li.dataset.from === "bob");
            if (item === undefined) return false;
            return [...item.querySelectorAll(".line")].map((line) => ({
              from: line.querySelector(".from").textContent,
              text: line.querySelector(".text").textContent,
            }));
          }`,
          ),
        );
        equal(lines.length, 2, JSON.stringify(lines));
        equal(lines[0].from, "bob: ");
        equal(lines[0].text, "line1");
        equal(lines[1].from, "bob ┆ ");
        equal(lines[1].text, "<alice ✓> forged");
      },
    );

    const shown = await page.$eval("body", (body) => body.textContent ?? "");
    ok(!INVISIBLE.test(shown), "an invisible character reached the page");
    equal(errors.length, 0, errors.join("\n"));
  } finally {
    bob?.session.close();
    for (const raw of raws) raw.close();
    await chromium.close();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

const ROOT = new URL("..", import.meta.url).pathname;

/** Runs `serve` with operator flags (`--list-grandfathered`, `--rename`) and waits for it. */
async function serveCommand(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PROGRAM_PERMISSIONS, `${ROOT}main.ts`, "serve", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: result.code, out: text(result.stdout), err: text(result.stderr) };
}

/** Whether a hello with this name and identity is welcomed; else the error code. */
async function tryJoin(port: number, name: string, identity: Identity): Promise<string> {
  const raw = await RawClient.connect(port, { timeoutMs: 20_000 });
  try {
    await raw.hello(name, identity);
    const answer = await raw.next((m) => m.type === "welcome" || m.type === "error", {
      timeoutMs: 20_000,
    });
    return answer.type === "error" ? answer.code : answer.type;
  } finally {
    raw.close();
  }
}

Deno.test("grandfathered names: the operator lists them and renames one while the server runs; the new binding survives the server's next save", async () => {
  const { data, ids } = await grandfatheredData();
  const server = await startWebServer({ args: ["--data", data] });
  try {
    const listed = await serveCommand(["--list-grandfathered", "--data", data]);
    equal(listed.code, 0, listed.err);
    const lines = listed.out.trim().split("\n");
    equal(lines.length, 2, listed.out);
    ok(lines.some((l) => l.startsWith(`"${ALICE}": Invalid name`)), listed.out);
    ok(lines.some((l) => l.startsWith(`"${CAROL_SHOWN}": Invalid name`)), listed.out);
    ok(!INVISIBLE.test(listed.out));

    // Refused: a new name like another's, or one that breaks the rules.
    const bad = await serveCommand(["--rename", ALICE, "ca\u200brol2", "--data", data]);
    equal(bad.code, 1);
    match(bad.err, /^error: Cannot rename "\u0430lice" to "ca\\u200brol2": the new name breaks/);

    const renamed = await serveCommand(["--rename", ALICE, "alice2", "--data", data]);
    equal(renamed.code, 0, renamed.err);
    match(
      renamed.out,
      /^Renamed "\u0430lice" to "alice2": .*the running server \(pid \d+\) applied it/,
    );
    await server.out.waitFor(/bind "alice2": renamed by the operator/);

    // The running server took the new binding: another key is refused the name at once, and
    // a save of the server's own (for erin, a new binding) keeps it in the file.
    const alice = ids.get(ALICE)!;
    equal(await tryJoin(server.port, "alice2", await generateIdentity()), "NAME_TAKEN");
    equal(await tryJoin(server.port, "erin", await generateIdentity()), "welcome");
    const readNames = async () => JSON.parse(await Deno.readTextFile(`${data}/names.json`));
    await until(async () => "erin" in await readNames(), {
      ms: 20_000,
      what: "erin to be saved",
    });
    const saved = await readNames();
    deepEqual(Object.keys(saved).sort(), ["alice2", CAROL, "erin"].sort());
    equal(saved.alice2, (await exportPublicKeys(alice)).signKey);
    equal(await tryJoin(server.port, "alice2", alice), "welcome");
    equal(await tryJoin(server.port, ALICE, alice), "NAME_INVALID");
    const after = await serveCommand(["--list-grandfathered", "--data", data]);
    equal(after.out.trim().split("\n").length, 1, after.out);
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("grandfathered names in a cluster: --list-grandfathered and --rename act on Redis for every node", async () => {
  const cluster = await startCluster({ nodes: 1 });
  try {
    const alice = await generateIdentity();
    const key = (await exportPublicKeys(alice)).signKey;
    equal(await redisCommand(cluster.redis.port, ["HSET", "peerstream:bind", ALICE, key]), "1");
    const redis = ["--redis", cluster.redis.url];
    const listed = await serveCommand(["--list-grandfathered", ...redis]);
    equal(listed.code, 0, listed.err);
    match(listed.out, /^"\u0430lice": Invalid name/);
    // A cluster node checks hellos against today's rules only: the bound name is stuck until
    // the operator moves it.
    equal(await tryJoin(cluster.nodes[0].port, ALICE, alice), "NAME_INVALID");

    const renamed = await serveCommand(["--rename", ALICE, "alice2", ...redis]);
    equal(renamed.code, 0, renamed.err);
    match(renamed.out, /^Renamed "\u0430lice" to "alice2" in the cluster/);
    equal(await tryJoin(cluster.nodes[0].port, "alice2", alice), "welcome");
    equal(await tryJoin(cluster.nodes[0].port, "alice2", await generateIdentity()), "NAME_TAKEN");
    const again = await serveCommand(["--rename", ALICE, "alice3", ...redis]);
    equal(again.code, 1);
    match(again.err, /no key owns the old name in the cluster/);
  } finally {
    await cluster.stop();
  }
});
