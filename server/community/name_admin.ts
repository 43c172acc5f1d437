/**
 * The operator's tools for grandfathered names (`serve --list-grandfathered`, `serve --rename OLD
 * NEW`): which bound names today's rules refuse, and whether a binding may move to a new name.
 * Pure: the caller reads and writes the bindings (a `names.json`, or Redis).
 * @module
 */

import { nameKeys, normalizeName } from "../../protocol/names.ts";
import { nameRuleProblem } from "../../protocol/shown_name.ts";
import { escapeName } from "../../protocol/text.ts";

/** A bound name that today's rules refuse, and why. */
export interface GrandfatheredName {
  /** The name as bound. */
  name: string;
  /** The rule it breaks, e.g. `Invalid name "аlice": it mixes the Cyrillic and Latin scripts; …`. */
  problem: string;
}

/**
 * The bound names that today's rules refuse ("grandfathered": their keys keep them), sorted.
 *
 * @param names The bound names.
 * @returns Each with the rule it breaks.
 */
export function grandfatheredNames(names: Iterable<string>): GrandfatheredName[] {
  const out: GrandfatheredName[] = [];
  for (const name of names) {
    const problem = nameRuleProblem(name);
    if (problem !== undefined) out.push({ name, problem });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * One line per grandfathered name for `serve --list-grandfathered`, or a line saying there is none.
 *
 * @param names The bound names.
 * @returns The lines: the name shown escaped, then the rule it breaks.
 */
export function grandfatheredLines(names: Iterable<string>): string[] {
  const found = grandfatheredNames(names);
  if (found.length === 0) return ["No grandfathered names: every bound name follows today's rules"];
  return found.map(({ name, problem }) => `"${escapeName(name)}": ${problem}`);
}

/** A rename the bindings allow: the names (the new one normalized) and the key that moves. */
export interface RenamePlan {
  /** The bound name, as bound. */
  from: string;
  /** The new name, normalized. */
  to: string;
  /** The signing key that owns `from`, and will own `to`. */
  key: string;
  /** The new name's look-alike keys, for an index (`nameKeys`). */
  lookalikes: string[];
}

/**
 * Checks that a binding may move from `from` to `to`: `from` is bound, `to` follows today's rules,
 * is not bound, and looks like no name bound to another key.
 *
 * @example
 * ```ts
 * planRename(new Map([["\u0430lice", "K"]]), "\u0430lice", "alice2");
 * // { from: "аlice", to: "alice2", key: "K", lookalikes: ["alice2"] }
 * ```
 *
 * @param bindings Name to signing key.
 * @param names The bound name (NFC-normalized here) and the new one.
 * @returns The plan.
 * @throws {RangeError | SyntaxError | Error} `Cannot rename "OLD" to "NEW": why; remedy`.
 */
export function planRename(
  bindings: ReadonlyMap<string, string>,
  names: { from: string; to: string },
): RenamePlan {
  const from = names.from.normalize("NFC");
  const fail = (why: string) =>
    new Error(`Cannot rename "${escapeName(from)}" to "${escapeName(names.to)}": ${why}`);
  const key = bindings.get(from);
  if (key === undefined) {
    throw fail("no key owns the old name; --list-grandfathered lists the names to migrate");
  }
  let to: string;
  try {
    to = normalizeName(names.to);
  } catch (error) {
    throw fail(`the new name breaks today's rules (${(error as Error).message})`);
  }
  if (bindings.has(to)) {
    throw fail(
      bindings.get(to) === key
        ? "the same key already owns the new name; release the old one with --release"
        : "another key owns the new name; pick another, or --release it first",
    );
  }
  const lookalikes = nameKeys(to);
  for (const [other, owner] of bindings) {
    if (owner === key || other === from) continue;
    if (nameKeys(other).some((k) => lookalikes.includes(k))) {
      throw fail(
        `it looks like "${
          escapeName(other)
        }", a name of another key; pick a name that looks different`,
      );
    }
  }
  return { from, to, key, lookalikes };
}
