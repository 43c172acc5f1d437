/**
 * Chat's details: each message's time and the sender's key state, and the unread badge of a peer
 * (counted in `chat_unread.ts`). Elements are made with the DOM helpers, untrusted text only ever
 * as text.
 * @module
 */

import type { KeyTrust } from "../../client/known_peers.ts";
import { el } from "./dom.ts";

export { type Attention, pageTitle, UnreadCounts } from "./chat_unread.ts";

/** What people read for each key state. */
export const TRUST_WORDS: Record<KeyTrust, string> = {
  new: "new key",
  known: "known key",
  verified: "verified ✓",
  changed: "key changed!",
};

/**
 * The time and, for a received message, the sender's key state, on one line under a message.
 *
 * @param at When it was sent or received.
 * @param trust The sender's key state (received messages).
 * @returns The line.
 */
export function messageMeta(at: Date, trust?: KeyTrust): HTMLElement {
  const time = el("time", {
    text: at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    attrs: { datetime: at.toISOString() },
  });
  const children: Node[] = [time];
  if (trust !== undefined) {
    children.push(el("span", { className: `badge ${trust}`, text: TRUST_WORDS[trust] }));
  }
  return el("div", { className: "meta-line" }, children);
}

/**
 * A peer's unread badge, or none.
 *
 * @param count Unread messages.
 * @returns The badge's element in a list (empty when none).
 */
export function unreadBadge(count: number): HTMLElement[] {
  if (count === 0) return [];
  const words = `${count} unread message${count === 1 ? "" : "s"}`;
  return [el("span", { className: "unread", text: String(count), attrs: { title: words } }, [
    el("span", { className: "visually-hidden", text: ` ${words}` }),
  ])];
}
