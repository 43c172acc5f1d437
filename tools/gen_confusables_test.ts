import { deepEqual, equal, throws } from "node:assert/strict";
import data from "npm:unhomoglyph@1.0.6/data.json" with { type: "json" };
import { confusableEntries, renderConfusablesModule } from "./gen_confusables.ts";

Deno.test("renderConfusablesModule() output is the committed protocol/_confusables.ts", async () => {
  // Fails when someone edits the generated module by hand, or changes the generator or the
  // package without regenerating: run `deno run --allow-write=protocol tools/gen_confusables.ts`.
  const committed = await Deno.readTextFile(
    new URL("../protocol/_confusables.ts", import.meta.url),
  );
  equal(committed, renderConfusablesModule(data as Record<string, string>));
});

Deno.test("confusableEntries() sorts entries and leaves out sources that NFD decomposes", () => {
  const { entries, total } = confusableEntries({
    "m": "rn",
    "I": "l",
    "\u00e9": "e\u0301", // é decomposes: a skeleton never looks it up
    "\u{1d400}": "A",
  });
  equal(total, 4);
  deepEqual(entries, [[0x49, [0x6c]], [0x6d, [0x72, 0x6e]], [0x1d400, [0x41]]]);
});

Deno.test("confusableEntries() throws SyntaxError when an entry is not one code point", async (t) => {
  const table: { name: string; source: Record<string, string> }[] = [
    { name: "two code points", source: { "ab": "c" } },
    { name: "an empty key", source: { "": "c" } },
    { name: "an empty prototype", source: { "a": "" } },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => confusableEntries(row.source),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes("is not one code point"),
      );
    });
  }
});
