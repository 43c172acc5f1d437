import { deepEqual, equal, throws } from "node:assert/strict";
import { grandfatheredLines, grandfatheredNames, planRename } from "./name_admin.ts";

const ALICE = "\u0430lice"; // Cyrillic а
const CAROL = "ca\u200brol";

Deno.test("grandfatheredNames() lists the bound names today's rules refuse, with why", () => {
  const found = grandfatheredNames(["bob", CAROL, ALICE, "zoë"]);
  deepEqual(found.map((f) => f.name), [ALICE, CAROL].sort());
  equal(
    found.find((f) => f.name === ALICE)?.problem,
    'Invalid name "\u0430lice": it mixes the Cyrillic and Latin scripts; use one script (Latin may go with Han and Kana, Han and Bopomofo, or Hangul)',
  );
  deepEqual(grandfatheredNames([]), []);
});

Deno.test("grandfatheredLines() shows each name escaped, or says there is none", () => {
  const lines = grandfatheredLines([CAROL]);
  equal(lines.length, 1);
  equal(lines[0].startsWith('"ca\\u200brol": Invalid name'), true, lines[0]);
  equal(lines[0].includes("\u200b"), false);
  deepEqual(grandfatheredLines(["bob"]), [
    "No grandfathered names: every bound name follows today's rules",
  ]);
});

Deno.test("planRename() moves a binding to a new name that follows the rules and looks like no other key's", async (t) => {
  const bindings = new Map([[ALICE, "KA"], [CAROL, "KC"], ["alice", "KX"], ["bob", "KB"]]);
  await t.step("a valid rename", () => {
    deepEqual(planRename(bindings, { from: ALICE, to: "alice2" }), {
      from: ALICE,
      to: "alice2",
      key: "KA",
      lookalikes: ["alice2"],
    });
  });
  await t.step("the old name in another normalization form is found", () => {
    const nfd = new Map([["zoë", "KZ"]]);
    equal(planRename(nfd, { from: "zoe\u0308", to: "zoe2" }).from, "zoë");
  });
  const refused: [string, string, string, RegExp][] = [
    ["an unbound old name", "dave", "dave2", /no key owns the old name/],
    ["a new name that breaks the rules", CAROL, "ca\u200bro1", /breaks today's rules/],
    ["a new name bound to another key", CAROL, "bob", /another key owns the new name/],
    ["a new name like another key's", ALICE, "aIice", /looks like "alice", a name of another key/],
    ["an empty new name", CAROL, "", /breaks today's rules/],
  ];
  for (const [name, from, to, message] of refused) {
    await t.step(name, () => throws(() => planRename(bindings, { from, to }), message));
  }
  await t.step("a new name the same key owns already", () => {
    const mine = new Map([[CAROL, "KC"], ["carol", "KC"]]);
    throws(() => planRename(mine, { from: CAROL, to: "carol" }), /same key already owns/);
  });
  await t.step("a new name like the same key's other name is fine", () => {
    const mine = new Map([[CAROL, "KC"], ["carol", "KC"]]);
    equal(planRename(mine, { from: CAROL, to: "Carol" }).to, "Carol");
  });
  await t.step("the message escapes invisible characters", () => {
    throws(() => planRename(bindings, { from: "x\u200by", to: "z" }), /"x\\u200by"/);
  });
});
