import { equal, rejects, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { VideoLibrary } from "../../video/video_library.ts";
import { VideoShelf } from "./video_shelf.ts";

const library = { close: () => Promise.resolve() } as unknown as VideoLibrary;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof PeerstreamError ? error.code : String(error);
  }
}

Deno.test("VideoShelf.require() and notReady() say loading, failed with why, or open", () => {
  const cases: { name: string; make: () => VideoShelf; code?: string; reason?: string }[] = [
    {
      name: "loading",
      make: () => new VideoShelf(),
      code: "VIDEO_NOT_READY",
      reason: "the video library is still loading",
    },
    {
      name: "failed",
      make: () => {
        const shelf = new VideoShelf();
        shelf.fail("no such folder; pass --videos");
        return shelf;
      },
      code: "VIDEO_FAILED",
      reason: "the video library failed: no such folder; pass --videos",
    },
    { name: "open from the start", make: () => new VideoShelf(library) },
    {
      name: "opened later",
      make: () => {
        const shelf = new VideoShelf();
        shelf.open(library);
        return shelf;
      },
    },
  ];
  for (const c of cases) {
    const shelf = c.make();
    equal(codeOf(() => shelf.require()), c.code, c.name);
    equal(shelf.notReady(), c.reason, c.name);
  }
});

Deno.test("VideoShelf.require() says why the library failed, with its remedy", () => {
  const shelf = new VideoShelf();
  shelf.fail("no such folder; pass --videos");
  throws(() => shelf.require(), /This server has no videos: no such folder; pass --videos/);
});

Deno.test("VideoShelf.loaded() settles when the library opens, rejects when it fails", async () => {
  const opening = new VideoShelf();
  const waiting = opening.loaded();
  opening.open(library);
  equal(await waiting, library);
  const failing = new VideoShelf();
  const failed = failing.loaded();
  failing.fail("broken");
  await rejects(
    failed,
    (error: unknown) => error instanceof PeerstreamError && error.code === "VIDEO_FAILED",
  );
});

Deno.test("VideoShelf that fails with nobody waiting leaves no unhandled rejection", async () => {
  const shelf = new VideoShelf();
  shelf.fail("broken");
  // An unhandled rejection would fail this test at the next turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 0));
  equal(shelf.notReady(), "the video library failed: broken");
});
