import { deepEqual, equal } from "node:assert/strict";
import { MAX_POSTER_BYTES } from "../../video/poster.ts";
import { PosterFiles, posterTitle } from "./posters.ts";

Deno.test("posterTitle() reads the title from /posters/<title>.jpg, and nothing else", () => {
  const cases: [string, string | null][] = [
    ["/posters/testcard.jpg", "testcard"],
    ["/posters/my%20film.jpg", "my film"],
    ["/posters/%C3%A9t%C3%A9.jpg", "été"],
    ["/posters/a%2Fb.jpg", "a/b"],
    ["/posters/.jpg", null],
    ["/posters/a/b.jpg", null],
    ["/posters/testcard.png", null],
    ["/posters/%E0%A4%A.jpg", null],
    ["/testcard.jpg", null],
    ["/posters", null],
  ];
  for (const [path, title] of cases) equal(posterTitle(path), title, path);
});

Deno.test("PosterFiles reads a ready title's poster once and keeps it; none for others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-posters-" });
  try {
    const files: Record<string, string> = {
      card: `${dir}/card.jpg`,
      huge: `${dir}/huge.jpg`,
      gone: `${dir}/gone.jpg`,
    };
    await Deno.writeFile(files.card, new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]));
    await Deno.writeFile(files.huge, new Uint8Array(MAX_POSTER_BYTES + 1));
    const posters = new PosterFiles();
    equal(await posters.read("card"), null, "before the library opens");
    posters.setLibrary({ poster: (title) => files[title] ?? null });
    deepEqual([...(await posters.read("card"))!], [0xff, 0xd8, 0xff, 1, 2, 3]);
    // Read once: the bytes are kept, as segments are.
    await Deno.remove(files.card);
    deepEqual([...(await posters.read("card"))!], [0xff, 0xd8, 0xff, 1, 2, 3]);
    equal(await posters.read("huge"), null, "too large to be a poster");
    equal(await posters.read("gone"), null, "a file that is missing");
    equal(await posters.read("unknown"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
