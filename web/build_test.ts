import { equal } from "node:assert/strict";
import { ASSETS_MODULE, buildAssetsModule } from "./build.ts";

Deno.test("buildAssetsModule() gives the committed page assets: the bundle matches its sources", async () => {
  const committed = await Deno.readTextFile(new URL(`../${ASSETS_MODULE}`, import.meta.url));
  const built = await buildAssetsModule();
  // Not deepEqual on 200 KB: say what to do instead of printing a diff.
  equal(
    built === committed,
    true,
    `${ASSETS_MODULE} is out of date with web/page/; run "deno task build:web" and commit it`,
  );
});
