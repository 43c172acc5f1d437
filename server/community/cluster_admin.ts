/**
 * The operator's changes to a cluster's name bindings, on a short-lived link to its Redis, for
 * every node at once: `serve --release NAME --redis URL`, `--list-grandfathered`, `--rename`.
 * Loaded (with the Redis client) only for those commands.
 * @module
 */

import { errorText } from "./community.ts";
import { describeCorrupt } from "./cluster_corrupt.ts";
import { BOUND_NAMES, RELEASE, RENAME } from "./cluster_scripts.ts";
import { RedisLink } from "./redis_link.ts";
import { redactUrl } from "./redis_url.ts";

/**
 * Frees a name from its key in a cluster's Redis (`serve --release NAME --redis URL`).
 *
 * @param url The Redis URL.
 * @param name The normalized name.
 * @param prefix The key prefix. @default {"peerstream:"}
 * @returns Whether a binding existed.
 */
export function releaseClusterName(
  url: string,
  name: string,
  prefix = "peerstream:",
): Promise<boolean> {
  return withLink(url, `release "${name}"`, async (link) => {
    return Number(await link.run(RELEASE, [prefix, name])) === 1;
  });
}

/**
 * The names bound in a cluster's Redis (`serve --list-grandfathered --redis URL`).
 *
 * @param url The Redis URL.
 * @param prefix The key prefix. @default {"peerstream:"}
 * @returns The bound names.
 */
export function clusterBoundNames(url: string, prefix = "peerstream:"): Promise<string[]> {
  return withLink(url, "list the bound names", async (link) => {
    return asList(await link.run(BOUND_NAMES, [prefix])).map(String);
  });
}

/**
 * Moves a binding to a new name for the same key, in a cluster's Redis, for every node at once
 * (`serve --rename OLD NEW --redis URL`).
 *
 * @param url The Redis URL.
 * @param names The bound name, the new one (normalized) and its look-alike keys (`nameKeys`).
 * @param prefix The key prefix. @default {"peerstream:"}
 * @returns `OK`, or why not: `NOOLD`, `BOUND`, `MINE`, `TAKEN`, `CONFUSABLE NAME`, or a
 * corrupt value's description.
 */
export function renameClusterName(
  url: string,
  names: { from: string; to: string; lookalikes: string[] },
  prefix = "peerstream:",
): Promise<string> {
  return withLink(url, `rename "${names.from}"`, async (link) => {
    const reply = asList(
      await link.run(RENAME, [prefix, names.from, names.to, JSON.stringify(names.lookalikes)]),
    );
    if (reply[0] === "CONFUSABLE") return `CONFUSABLE ${String(reply[1])}`;
    return describeCorrupt(reply) ?? String(reply[0]);
  });
}

/** Runs `use` on a short-lived link to Redis; a Redis that cannot be reached says so. */
async function withLink<T>(
  url: string,
  what: string,
  use: (link: RedisLink) => Promise<T>,
): Promise<T> {
  let link: RedisLink;
  try {
    link = await RedisLink.open({
      url,
      onMessage: () => {},
      onDown: () => {},
      onReady: () => {},
      connectTimeoutMs: 5000,
    }, []);
  } catch (error) {
    throw new Error(
      `Cannot ${what} in the cluster at ${redactUrl(url)}: ${
        errorText(error)
      }; check that Redis is running`,
      { cause: error },
    );
  }
  try {
    return await use(link);
  } finally {
    await link.close();
  }
}

/** A Redis array reply, or an error when the reply is not one. */
function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError("Unexpected reply from Redis: expected a list");
  return reply;
}
