/**
 * `serve --release`, `--rename` (in the data folder, or with `--redis` in the cluster): the
 * operator's changes to name bindings. On a folder a server is running on, each waits until that
 * server has read the change (it looks every second), so that a join right after the command sees
 * it.
 * @module
 */

import { delay } from "../_async.ts";
import { planRename, type RenamePlan } from "../community/name_admin.ts";
import type { NameStore } from "../community/name_store.ts";
import { nameKeys, normalizeName } from "../../protocol/names.ts";
import { escapeControls, escapeName } from "../../protocol/text.ts";

/** Where a command says what it did (stdout) or why it could not (stderr). */
export interface NameCommandIo {
  /** Writes a line to stdout. */
  out: (line: string) => void;
  /** Writes an error line to stderr. */
  err: (line: string) => void;
}

/** How long `serve --release` waits for a running server to apply the release, ms. */
const RELEASE_CONFIRM_MS = 5000;

/**
 * `serve --release NAME`: removes the binding from the file, then, when a server runs on the same
 * folder, waits until it has read the change (it looks every second), so that a join right after
 * the command finds the name free.
 *
 * @param names The bindings file.
 * @param raw The name as typed.
 * @param io Where to say what happened.
 * @returns The exit code.
 */
export async function release(names: NameStore, raw: string, io: NameCommandIo): Promise<number> {
  const name = raw.normalize("NFC");
  const shown = escapeControls(raw);
  const bindings = names.load();
  if (!bindings.delete(name)) {
    io.err(`error: Cannot release "${shown}": no key owns that name`);
    return 1;
  }
  await names.save(bindings);
  const applied = await awaitApplied(names);
  if (applied === "none") {
    io.out(
      `Released "${shown}": any key may register it now; no server runs on this folder, the next one started honours it`,
    );
    return 0;
  }
  if (typeof applied === "number") {
    // A save of the server's own at that very moment can write the name back.
    const state = names.load().has(name)
      ? "the server saved its bindings at the same moment and kept the name; run --release again"
      : "the file no longer binds the name, so the server applies it once it notices, or at its next start";
    io.err(
      `error: Cannot confirm the release of "${shown}": the server running on this folder (pid ${applied}) did not apply it within ${
        RELEASE_CONFIRM_MS / 1000
      } s; ${state}`,
    );
    return 1;
  }
  io.out(
    `Released "${shown}": the running server (pid ${applied.pid}) applied it; any key may register it now`,
  );
  return 0;
}

/**
 * After a change to the store: waits until the server running on this folder, if any, has read
 * it (it looks every second).
 *
 * @returns `none` when no server runs, `{ pid }` once it applied the change, or its pid when it
 * did not within {@linkcode RELEASE_CONFIRM_MS}.
 */
async function awaitApplied(names: NameStore): Promise<"none" | { pid: number } | number> {
  const version = names.version?.() ?? null;
  const running = runningServer(names);
  if (running === undefined) return "none";
  const deadline = Date.now() + RELEASE_CONFIRM_MS;
  while (names.acknowledged?.()?.version !== version) {
    if (Date.now() > deadline || runningServer(names) === undefined) return running;
    await delay(100);
  }
  return { pid: running };
}

/**
 * `serve --rename OLD NEW`: moves OLD's binding to NEW in the file, then, like `--release`, waits
 * for the server running on the same folder to apply it.
 *
 * @param names The bindings file.
 * @param request The old name and the new one, as typed.
 * @param io Where to say what happened.
 * @returns The exit code.
 */
export async function rename(
  names: NameStore,
  request: { from: string; to: string },
  io: NameCommandIo,
): Promise<number> {
  const bindings = names.load();
  let plan: RenamePlan;
  try {
    plan = planRename(bindings, request);
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
  bindings.delete(plan.from);
  bindings.set(plan.to, plan.key);
  await names.save(bindings);
  const what = `"${escapeName(plan.from)}" to "${plan.to}"`;
  const applied = await awaitApplied(names);
  if (typeof applied === "number") {
    const now = names.load();
    const state = now.get(plan.to) === plan.key && !now.has(plan.from)
      ? "the file holds the new binding, so the server applies it once it notices, or at its next start"
      : "the server saved its bindings at the same moment; run --list-grandfathered and --rename again";
    io.err(
      `error: Cannot confirm the rename of ${what}: the server running on this folder (pid ${applied}) did not apply it within ${
        RELEASE_CONFIRM_MS / 1000
      } s; ${state}`,
    );
    return 1;
  }
  const where = applied === "none"
    ? "no server runs on this folder, the next one started honours it"
    : `the running server (pid ${applied.pid}) applied it`;
  io.out(`Renamed ${what}: its key joins as "${plan.to}" now; ${where}`);
  return 0;
}

/**
 * `serve --rename OLD NEW --redis URL`: the same in the cluster's Redis, for every node.
 *
 * @param url The cluster's Redis.
 * @param request The old name and the new one, as typed.
 * @param io Where to say what happened.
 * @returns The exit code.
 */
export async function renameInCluster(
  url: string,
  request: { from: string; to: string },
  io: NameCommandIo,
): Promise<number> {
  const from = request.from.normalize("NFC");
  const what = `"${escapeName(from)}" to "${escapeName(request.to)}"`;
  let to: string;
  try {
    to = normalizeName(request.to);
  } catch (error) {
    io.err(
      `error: Cannot rename ${what}: the new name breaks today's rules (${
        (error as Error).message
      })`,
    );
    return 1;
  }
  const { renameClusterName } = await import("../community/cluster_admin.ts");
  const answer = await renameClusterName(url, { from, to, lookalikes: nameKeys(to) });
  const why: Record<string, string> = {
    NOOLD:
      "no key owns the old name in the cluster; --list-grandfathered lists the names to migrate",
    BOUND: "another key owns the new name; pick another, or --release it first",
    MINE: "the same key already owns the new name; release the old one with --release",
    TAKEN: "the new name is online with another key; pick another",
  };
  if (answer === "OK") {
    io.out(`Renamed ${what} in the cluster: its key joins as "${to}" now, on every node`);
    return 0;
  }
  const confusable = /^CONFUSABLE (.*)$/s.exec(answer);
  const reason = confusable !== null
    ? `it looks like "${
      escapeName(confusable[1])
    }", a name of another key; pick a name that looks different`
    : why[answer] ?? answer;
  io.err(`error: Cannot rename ${what}: ${reason}`);
  return 1;
}

/**
 * `serve --release NAME --redis URL`: frees the name in the cluster's Redis, for every node.
 *
 * @param url The cluster's Redis.
 * @param raw The name as typed.
 * @param io Where to say what happened.
 * @returns The exit code.
 */
export async function releaseInCluster(
  url: string,
  raw: string,
  io: NameCommandIo,
): Promise<number> {
  const shown = escapeControls(raw);
  const { releaseClusterName } = await import("../community/cluster_admin.ts");
  if (!(await releaseClusterName(url, raw.normalize("NFC")))) {
    io.err(`error: Cannot release "${shown}": no key owns that name in the cluster`);
    return 1;
  }
  io.out(`Released "${shown}" in the cluster: any key may register it now, on every node`);
  return 0;
}

/** The process id of the server running on this store (its heartbeat is recent), if any. */
function runningServer(names: NameStore): number | undefined {
  return names.acknowledged?.()?.pid;
}
