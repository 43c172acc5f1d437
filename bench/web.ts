/**
 * Scenario 8, the page in real browsers (Chromium and Firefox through puppeteer-core): page
 * load → join form, join click → joined (key generation included), PLAY → first frame shown
 * (`requestVideoFrameCallback`) over repeated starts, the page's transmux cost per segment,
 * stalls at rendition switches, QUALITY → the new height on screen (issue 18: a title whose
 * renditions are separately encoded files, each frame's height read from
 * `requestVideoFrameCallback`), message send → shown in the other browser, and the session that
 * survives (issue 19): refresh during playback → rejoined and playing again, and a server
 * restarted under the page → the page rejoined. Skipped with `--quick` (browsers take seconds to
 * start; CI runs the page's tests instead).
 * @module
 */

import type { Page } from "puppeteer-core";
import { type BrowserKind, launchBrowser, type TestBrowser } from "../tests/_browser.ts";
import {
  joinAs,
  openPage,
  startWebServer,
  waitInPage,
  type WebServerProcess,
} from "../tests/_page.ts";
import {
  chooseQuality,
  FRAME_PROBE,
  NUMBERED,
  numberedVideos,
  waitForHeight,
} from "../tests/_page_video.ts";
import type { BenchContext, Metric, ScenarioResult } from "./_scenario.ts";

/** Where the page's video is, and which title it says plays. */
const PLAYING_NOW = `(() => {
  const v = document.getElementById("video");
  return { title: document.body.dataset.playing ?? "", time: v.currentTime, paused: v.paused };
})()`;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The session that survives, in one browser with a server of its own (it is restarted): refresh
 * during playback → rejoined, and → playing again (the resumed title advancing); the server
 * stopped → the page shows Reconnecting…; a new server listening on the same ports and data →
 * the page rejoined by itself (the page's backoff wait included, as a person waits it).
 */
async function sessionRows(kind: BrowserKind, ctx: BenchContext): Promise<Metric[]> {
  const data = await Deno.makeTempDir({ prefix: "peerstream-bench-web-data-" });
  const args = ["--data", data, "--port", String(freePort()), "--web", `127.0.0.1:${freePort()}`];
  let server = await startWebServer({ waitReady: true, args });
  const browser = await launchBrowser(kind);
  const rejoined: number[] = [];
  const playing: number[] = [];
  const noticed: number[] = [];
  const back: number[] = [];
  try {
    const { page } = await openPage(browser, server.url);
    const name = `s${kind[0]}${ctx.tag}`;
    await joinAs(page, name);
    for (let i = 0; i < Math.max(2, ctx.reps); i++) {
      const play = '#titles button[data-title="testcard"]:not([disabled])';
      await page.waitForSelector(play);
      await page.click(play);
      await waitInPage(page, `${PLAYING_NOW}.time > 3`, 30_000);
      const t0 = performance.now();
      await page.reload();
      await page.waitForSelector(`body[data-joined="${name}"]`, { timeout: 30_000 });
      rejoined.push(performance.now() - t0);
      const at = await waitInPage<{ time: number }>(
        page,
        `${PLAYING_NOW}.title === "testcard" && ${PLAYING_NOW}.time > 0 && ${PLAYING_NOW}`,
        30_000,
      );
      // Playing again: the picture moves on from where it resumed.
      await waitInPage(page, `${PLAYING_NOW}.time > ${at.time + 0.2}`, 30_000);
      playing.push(performance.now() - t0);
      await page.click("#stop");
      await page.waitForSelector("#player[hidden]");
    }
    for (let i = 0; i < Math.max(1, ctx.reps); i++) {
      const t0 = performance.now();
      await server.stop();
      await waitInPage(page, `document.body.dataset.connection === "reconnecting"`, 30_000);
      noticed.push(performance.now() - t0);
      server = await startWebServer({ args });
      const t1 = performance.now();
      await waitInPage(page, `document.body.dataset.connection === "connected"`, 60_000);
      back.push(performance.now() - t1);
    }
  } finally {
    await browser.close();
    await server.stop();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
  return [
    { name: `${kind}: refresh during playback → rejoined`, unit: "ms", values: rejoined },
    { name: `${kind}: refresh during playback → playing again`, unit: "ms", values: playing },
    { name: `${kind}: server stopped → page shows Reconnecting…`, unit: "ms", values: noticed },
    {
      name: `${kind}: server listening again → page rejoined`,
      unit: "ms",
      values: back,
      limit: "the page's backoff (0.5 s doubling to 10 s) decides most of it",
    },
  ];
}

/** Clicks PLAY on a title and resolves with ms until the first frame is presented. */
const PLAY_TO_FIRST_FRAME = `(title) => new Promise((resolve) => {
  const video = document.getElementById("video");
  const t0 = performance.now();
  video.requestVideoFrameCallback(() => resolve(performance.now() - t0));
  document.querySelector('#titles button[data-title="' + title + '"]').click();
})`;

async function playStarts(page: Page, reps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const ms = await page.evaluate(`(${PLAY_TO_FIRST_FRAME})("testcard")`) as number;
    out.push(ms);
    await page.click("#stop");
    await page.waitForSelector("#player[hidden]");
  }
  return out;
}

/** Plays testcard to the end at auto, forcing a switch, and counts `waiting` (stall) events. */
async function playThrough(page: Page): Promise<{ transmux: number[]; stalls: number }> {
  await page.evaluate(`(() => {
    const v = document.getElementById("video");
    window.__stalls = 0;
    v.addEventListener("waiting", () => { if (v.currentTime > 0.5) window.__stalls++; });
  })()`);
  await page.click('#titles button[data-title="testcard"]');
  await page.waitForFunction(`document.getElementById("video").currentTime > 0.3`);
  await page.select("#quality", "720");
  await page.waitForFunction(`document.getElementById("video").currentTime > 10`, {
    timeout: 30_000,
  });
  const transmux = String(
    await page.evaluate(`document.getElementById("video").dataset.transmuxMs ?? ""`),
  ).split(",").filter(Boolean).map(Number);
  const stalls = await page.evaluate("window.__stalls") as number;
  await page.click("#stop");
  return { transmux, stalls };
}

/** The most down-and-up pairs of switches that fit in the numbered title after its start. */
const MAX_SWITCH_PAIRS = 5;

/**
 * QUALITY → the new height on screen: plays the numbered title, goes to 720p, then chooses 240p
 * and 720p in turn, each timed from the choice to the first presented frame of that height.
 */
async function qualityToScreen(
  browser: TestBrowser,
  url: string,
  ctx: BenchContext,
): Promise<{ down: number[]; up: number[] }> {
  const { page } = await openPage(browser, url);
  await joinAs(page, `q${browser.kind[0]}${ctx.tag}`);
  const button = `#titles button[data-title="${NUMBERED.title}"]:not([disabled])`;
  await page.waitForSelector(button);
  await page.evaluate(FRAME_PROBE);
  await page.click(button);
  await waitInPage(page, `window.__frames.some((f) => f.mediaTime > 0.5)`);
  await chooseQuality(page, 720);
  await waitForHeight(page, 720, 0);
  const down: number[] = [];
  const up: number[] = [];
  for (let i = 0; i < Math.min(MAX_SWITCH_PAIRS, Math.max(2, ctx.reps * 2)); i++) {
    for (const [height, out] of [[240, down], [720, up]] as const) {
      const since = await chooseQuality(page, height);
      const shown = await waitForHeight(page, height, since);
      out.push(shown.at - since);
      // A second of the new rendition before the next choice.
      await waitInPage(page, `window.__frames.some((f) => f.at > ${shown.at + 1_000})`);
    }
  }
  await page.close();
  return { down, up };
}

/** ms from one browser's send to the other's showing it, on the machine's shared clock. */
async function messageLatency(from: Page, to: Page, toName: string, reps: number) {
  const out: number[] = [];
  await to.evaluate(`(() => {
    window.__shown = [];
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) {
        if (n.dataset && n.dataset.from) window.__shown.push(performance.timeOrigin + performance.now());
      }
    }).observe(document.getElementById("messages"), { childList: true });
  })()`);
  await from.select("#to", toName);
  for (let i = 0; i < reps; i++) {
    await from.$eval("#text", (input, n) => {
      (input as unknown as { value: string }).value = `latency probe ${n}`;
    }, i);
    const sent = await from.evaluate(`(() => {
      const t = performance.timeOrigin + performance.now();
      document.getElementById("send").click();
      return t;
    })()`) as number;
    await to.waitForFunction(`window.__shown.length > ${i}`);
    out.push(await to.evaluate(`window.__shown[${i}]`) as number - sent);
    await from.waitForFunction(
      `[...document.querySelectorAll("#messages li[data-to]")].pop().dataset.state === "delivered"`,
    );
  }
  return out;
}

async function perBrowser(
  kind: BrowserKind,
  servers: { samples: WebServerProcess; numbered: WebServerProcess },
  ctx: BenchContext,
): Promise<{ metrics: Metric[]; notes: string[]; browser: TestBrowser; page: Page }> {
  const server = servers.samples;
  const browser = await launchBrowser(kind);
  const loads: number[] = [];
  const joins: number[] = [];
  let page: Page | undefined;
  for (let i = 0; i < Math.max(2, ctx.reps); i++) {
    const t0 = performance.now();
    const opened = await openPage(browser, server.url);
    await opened.page.waitForSelector("#join-form:not([hidden])");
    loads.push(performance.now() - t0);
    // From the second page on, the form holds the name the first page joined with (that tab
    // keeps it): a new name replaces it.
    await opened.page.$eval("#name", (input) => {
      (input as unknown as { value: string }).value = "";
    });
    await opened.page.type("#name", `w${kind[0]}${ctx.tag}${i}`);
    const t1 = performance.now();
    await opened.page.click("#join");
    await opened.page.waitForSelector("body[data-joined]:not([data-joined=''])");
    joins.push(performance.now() - t1);
    if (page !== undefined) await page.close();
    page = opened.page;
  }
  await page!.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
  const starts = await playStarts(page!, ctx.reps * 5);
  const { transmux, stalls } = await playThrough(page!);
  const { down, up } = await qualityToScreen(browser, servers.numbered.url, ctx);
  ctx.log(`web: ${kind}: ${starts.length} starts, ${stalls} stalls, ${down.length} switch pairs`);
  return {
    browser,
    page: page!,
    metrics: [
      { name: `${kind}: page load → join form`, unit: "ms", values: loads },
      { name: `${kind}: join click → joined (new keys)`, unit: "ms", values: joins },
      {
        name: `${kind}: PLAY → first frame shown`,
        unit: "ms",
        values: starts,
        target: "p50 ≤ 300",
      },
      { name: `${kind}: transmux TS → fMP4 per 2 s segment`, unit: "ms", values: transmux },
      {
        name: `${kind}: QUALITY 720p → 240p: new height on screen`,
        unit: "ms",
        values: down,
        target: "≤ 1000",
        goal: { stat: "median", atMost: 1000 },
      },
      {
        name: `${kind}: QUALITY 240p → 720p: new height on screen`,
        unit: "ms",
        values: up,
        target: "≤ 1000",
        goal: { stat: "median", atMost: 1000 },
      },
    ],
    notes: [`${kind}: ${stalls} stall(s) ("waiting") over a play-through with a forced switch`],
  };
}

/**
 * Runs scenario 14.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function webScenario(ctx: BenchContext): Promise<ScenarioResult> {
  if (ctx.quick) {
    return {
      id: "web",
      title: "14. The page in Chromium and Firefox (skipped with --quick)",
      metrics: [],
      failures: [],
      notes: ["skipped with --quick: run `deno task bench --only web` for the browser rows"],
    };
  }
  const server = await startWebServer({ waitReady: true });
  const open: TestBrowser[] = [];
  let numbered: WebServerProcess | undefined;
  try {
    numbered = await startWebServer({
      waitReady: true,
      args: ["--videos", await numberedVideos()],
    });
    const servers = { samples: server, numbered };
    const chromium = await perBrowser("chromium", servers, ctx);
    open.push(chromium.browser);
    const firefox = await perBrowser("firefox", servers, ctx);
    open.push(firefox.browser);
    const toFirefox = await messageLatency(
      chromium.page,
      firefox.page,
      await joinedName(firefox.page),
      ctx.reps * 10,
    );
    const sessions = [
      ...await sessionRows("chromium", ctx),
      ...await sessionRows("firefox", ctx),
    ];
    return {
      id: "web",
      title: "14. The page in Chromium and Firefox",
      metrics: [
        ...chromium.metrics,
        ...firefox.metrics,
        { name: "message send (Chromium) → shown (Firefox)", unit: "ms", values: toFirefox },
        ...sessions,
      ],
      failures: [],
      notes: [...chromium.notes, ...firefox.notes],
    };
  } finally {
    for (const browser of open) await browser.close();
    await numbered?.stop();
    await server.stop();
  }
}

async function joinedName(page: Page): Promise<string> {
  return String(await page.evaluate("document.body.dataset.joined"));
}
