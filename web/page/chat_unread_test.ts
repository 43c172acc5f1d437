import { equal } from "node:assert/strict";
import { type Attention, pageTitle, UnreadCounts } from "./chat_unread.ts";

const reading = (selected: string, more: Partial<Attention> = {}): Attention => ({
  selected,
  hidden: false,
  fullscreen: false,
  ...more,
});

Deno.test("UnreadCounts counts a message unless its conversation is being read", () => {
  const cases: [string, string, Attention, boolean][] = [
    ["from the peer being talked to", "bob", reading("bob"), false],
    ["from another peer", "carol", reading("bob"), true],
    ["in a background tab", "bob", reading("bob", { hidden: true }), true],
    ["while the player fills the screen", "bob", reading("bob", { fullscreen: true }), true],
    ["no one chosen yet", "bob", reading(""), true],
  ];
  for (const [name, from, attention, counts] of cases) {
    const unread = new UnreadCounts();
    equal(unread.received(from, attention), counts, name);
    equal(unread.of(from), counts ? 1 : 0, name);
  }
});

Deno.test("UnreadCounts adds up per peer, and reading one peer clears only theirs", () => {
  const unread = new UnreadCounts();
  unread.received("carol", reading("bob"));
  unread.received("carol", reading("bob"));
  unread.received("dan", reading("bob"));
  equal(unread.of("carol"), 2);
  equal(unread.total, 3);
  equal(unread.read("carol"), true);
  equal(unread.read("carol"), false);
  equal(unread.of("carol"), 0);
  equal(unread.total, 1);
});

Deno.test("pageTitle() puts the unread count first, and nothing when none", () => {
  equal(pageTitle(0), "peerstream");
  equal(pageTitle(3), "(3) peerstream");
});
