/**
 * How a peer's name is shown, wherever it is shown (terminal, page, server log): every invisible
 * character as a visible escape, and a mark after a name that today's name rules refuse. Such a
 * name was bound to its key before the rules tightened ("grandfathered": `server/door/handshake.ts`
 * lets its own key keep it); it may imitate another (`аlice` in Cyrillic beside `alice`). The mark
 * comes from this side's own check of the name, never from the server, which may lie. Pure.
 * @module
 */

import { normalizeName } from "./names.ts";
import { escapeName } from "./text.ts";

/** The mark after a grandfathered name. */
export const GRANDFATHERED_MARK = "⚠";

/** What the mark means, for HELP, the page's tooltip and the server's log. */
export const GRANDFATHERED_HINT = "this name does not follow today's rules: it may imitate another";

/**
 * Whether a name follows today's rules as it is: {@linkcode normalizeName} accepts it and leaves
 * it unchanged.
 *
 * @example
 * ```ts
 * followsNameRules("alice"); // true
 * followsNameRules("\u0430lice"); // false: Cyrillic and Latin mixed
 * followsNameRules("ca\u200brol"); // false: an invisible character
 * ```
 *
 * @param name The name as received.
 * @returns False for a name the rules refuse (a grandfathered one).
 */
export function followsNameRules(name: string): boolean {
  try {
    return normalizeName(name) === name;
  } catch {
    return false;
  }
}

/**
 * Why a name does not follow today's rules, or undefined when it does.
 *
 * @param name The name.
 * @returns The rule's message (escaped), e.g. `Invalid name "аlice": it mixes the Cyrillic and
 * Latin scripts; …`.
 */
export function nameRuleProblem(name: string): string | undefined {
  try {
    const normal = normalizeName(name);
    return normal === name
      ? undefined
      : `Invalid name: it is not in NFC form; use ${escapeName(normal)}`;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A name ready to show: invisible characters escaped ({@linkcode escapeName}), then ` ⚠` when
 * the name does not follow today's rules.
 *
 * @example
 * ```ts
 * showName("alice"); // "alice"
 * showName("\u0430lice"); // "аlice ⚠"
 * showName("ca\u200brol"); // "ca\\u200brol ⚠"
 * ```
 *
 * @param name The untrusted name.
 * @returns The text to show.
 */
export function showName(name: string): string {
  const shown = escapeName(name);
  return followsNameRules(name) ? shown : `${shown} ${GRANDFATHERED_MARK}`;
}
