/**
 * Playback behind a real shaped link (issue 22): the viewer runs inside a network namespace whose
 * only way to the server is a veth limited to 0.6 Mbit/s by a token bucket (`tests/_netns.ts`).
 * The numbered title's renditions are 0.30 (240p), 0.84 (480p) and 2.66 Mbit/s (720p, audio
 * included): only 240p fits. The terminal client with a real-time player, and the page in
 * Chromium (itself started inside the namespace), must each settle on 240p and then play to the
 * end without a stall (no new frame for more than 1 s). Behaviour, never speed: the deadlines are
 * generous and the title's end closes the window in which a stall would count.
 * @module
 */

import { deepEqual, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { launchBrowser } from "./_browser.ts";
import { FrameLog, loggingPlayer } from "./_frame_log.ts";
import { startCli, startServer, waitForReady } from "./_helpers.ts";
import { withShapedLink } from "./_netns.ts";
import { joinAs, openPage, startWebServer, waitInPage } from "./_page.ts";
import { FRAME_PROBE, framesSince, NUMBERED, numberedVideos } from "./_page_video.ts";
import { findStalls, settledAt, type ShownFrame } from "./_playback_stats.ts";

/** The link: 0.6 Mbit/s, which only the 240p rendition fits. */
const RATE = 600_000;
/** The rendition the link sustains. */
const SUSTAINED = 240;
/** Settled playback must be seen for at least this long, ms (the title is 40 s). */
const SETTLED_FOR_MS = 15_000;

/** Checks a timeline: settled on 240p for long enough, and no stall from then on. */
function checkSettled(label: string, frames: readonly ShownFrame[]): string {
  ok(frames.length > 0, `${label}: no frame reached the screen`);
  const settled = settledAt(frames, SUSTAINED);
  const heights = [...new Set(frames.map((f) => f.height))];
  ok(
    settled !== null,
    `${label}: playback ended at ${frames.at(-1)!.height}p, not ${SUSTAINED}p (heights ${heights})`,
  );
  const after = frames.filter((f) => f.at >= settled);
  const span = after.at(-1)!.at - settled;
  ok(span >= SETTLED_FOR_MS, `${label}: settled only ${span.toFixed(0)} ms before the end`);
  deepEqual(
    findStalls(after).map((s) =>
      `${(s.to - s.from).toFixed(0)} ms at +${(s.from - settled).toFixed(0)}`
    ),
    [],
    `${label}: stalls after settling on ${SUSTAINED}p`,
  );
  const before = findStalls(frames.filter((f) => f.at <= settled));
  return `${label}: first frame +${frames[0].at.toFixed(0)} ms, settled on ${SUSTAINED}p ` +
    `+${settled.toFixed(0)} ms, ${before.length} stall(s) before, then ${
      (span / 1000).toFixed(1)
    } s without one (heights ${heights.join(", ")})`;
}

/**
 * Waits for a page-side expression longer than one DevTools call may last (`protocolTimeout`,
 * 60 s), in 20 s waits.
 */
async function waitLong(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (true) {
    const left = end - performance.now();
    if (left <= 0) {
      throw new Error(`Cannot see "${expression}" in the page: ${timeoutMs} ms passed`);
    }
    try {
      await waitInPage(page, expression, Math.min(left, 20_000));
      return;
    } catch (error) {
      if (!(error instanceof Error && /Waiting failed|timeout/i.test(error.message))) throw error;
    }
  }
}

Deno.test("a terminal viewer behind a 0.6 Mbit/s link settles on 240p and does not stall after", async () => {
  const videos = await numberedVideos();
  await withShapedLink({ rateBitsPerSecond: RATE }, async (link) => {
    const server = await startServer({ args: ["--host", link.hostAddress, "--videos", videos] });
    const dir = await Deno.makeTempDir({ prefix: "peerstream-shaped-players-" });
    const log = new FrameLog(dir);
    let cli: Awaited<ReturnType<typeof startCli>> | undefined;
    try {
      await waitForReady(server.port, 120_000, link.hostAddress);
      cli = await startCli(server.port, "viewer", {
        host: link.hostAddress,
        wrap: link.exec,
        args: ["--ephemeral", "--player", loggingPlayer(dir)],
      });
      const t0 = performance.now();
      await cli.type(`PLAY ${NUMBERED.title}`);
      // The title's end closes the window: the client says so once its player has exited.
      await cli.out.waitFor(new RegExp(`^\\* finished "${NUMBERED.title}"`), {
        timeoutMs: 150_000,
      });
      const frames = log.frames.map((f) => ({ at: f.at - t0, height: f.height }));
      console.log(`[figures] ${checkSettled("terminal", frames)}`);
      await cli.type("QUIT");
      await cli.finish();
    } finally {
      if (cli !== undefined) {
        try {
          cli.child.kill("SIGKILL");
        } catch {
          // Exited.
        }
        await cli.finish().catch(() => {});
        await Deno.remove(cli.home, { recursive: true }).catch(() => {});
      }
      await log.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await server.stop();
    }
  });
});

Deno.test("the page in Chromium behind a 0.6 Mbit/s link settles on 240p and does not stall after", async () => {
  const videos = await numberedVideos();
  await withShapedLink({ rateBitsPerSecond: RATE }, async (link) => {
    const server = await startWebServer({
      args: ["--host", link.hostAddress, "--web", `${link.hostAddress}:0`, "--videos", videos],
    });
    // Chromium runs inside the namespace; the page is on the host side's address, which is not a
    // secure context by itself (WebCrypto needs one): this flag makes that one origin count as one.
    const origin = new URL(server.url).origin;
    const browser = await launchBrowser("chromium", {
      netns: link.ns,
      chromiumArgs: [`--unsafely-treat-insecure-origin-as-secure=${origin}`],
    });
    try {
      await waitForReady(server.port, 120_000, link.hostAddress);
      const { page, errors } = await openPage(browser, server.url);
      await joinAs(page, "viewer");
      const button = `#titles button[data-title="${NUMBERED.title}"]:not([disabled])`;
      await page.waitForSelector(button);
      await page.evaluate(FRAME_PROBE);
      // The page detaches the video once it has ended: remember that it did.
      await page.evaluate(
        `document.getElementById("video").addEventListener("ended", () => { window.__ended = true; })`,
      );
      const t0 = await page.evaluate("performance.now()") as number;
      await page.click(button);
      // The title's end closes the window: the video element says it ended.
      const ended = await waitLong(page, "window.__ended === true", 150_000)
        .then(() => "", (error: Error) => error.message);
      const frames = (await framesSince(page, t0)).map((f) => ({
        at: f.at - t0,
        height: f.height,
        number: f.number,
      }));
      ok(
        ended === "",
        `${ended}; ${frames.length} frames, the last ${JSON.stringify(frames.at(-1))}, stalls ${
          JSON.stringify(findStalls(frames))
        }`,
      );
      console.log(`[figures] ${checkSettled("page", frames)}`);
      deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
