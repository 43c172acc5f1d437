/**
 * How the page looks and whether everyone can use it: screenshots at a desktop and a phone size,
 * saved under the test cache and checked not to be blank nor to scroll sideways, and an audit by
 * axe-core (npm `axe-core`, injected into the page; the page's strict CSP is bypassed for the
 * tab, as FIELD_NOTES says) that must report no serious or critical violation.
 * @module
 */

import { ok } from "node:assert/strict";
import axe from "axe-core";
import type { Page } from "puppeteer-core";
import { TEST_CACHE } from "./_helpers.ts";

/** The sizes every state is looked at: a laptop and a phone. */
export const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;

/** Where the screenshots go. */
export const SCREENSHOT_DIR = `${TEST_CACHE}/screenshots/look`;

/** What the page says of its own geometry. */
interface Geometry {
  scrollWidth: number;
  innerWidth: number;
  /** The player's box, when it is shown. */
  player: { top: number; bottom: number; height: number } | null;
  innerHeight: number;
  /**
   * Shown elements reaching past the window's right edge (the body hides sideways overflow, so
   * `scrollWidth` alone would not see content cut off at the edge).
   */
  cut: string[];
}

const GEOMETRY = `(() => {
  const player = document.getElementById("player");
  const box = player.hidden ? null : player.querySelector("video").getBoundingClientRect();
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth,
    innerHeight,
    player: box && { top: box.top, bottom: box.bottom, height: box.height },
    cut: [...document.body.querySelectorAll("*")]
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && r.right > innerWidth + 1 &&
          e.closest(".visually-hidden") === null;
      })
      .slice(0, 3)
      .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
        (typeof e.className === "string" && e.className ? "." + e.className.split(" ")[0] : "")),
  };
})()`;

/**
 * Checks the page at one size: no sideways scroll and nothing cut off at the right edge, and while
 * something plays, the video fully in view without scrolling.
 *
 * @param page The tab, already at that size.
 * @param label For messages.
 */
export async function checkGeometry(page: Page, label: string): Promise<void> {
  const g = await page.evaluate(GEOMETRY) as Geometry;
  ok(
    g.scrollWidth <= g.innerWidth,
    `${label}: scrolls sideways (${g.scrollWidth} > ${g.innerWidth})`,
  );
  ok(g.cut.length === 0, `${label}: cut off at the right edge: ${g.cut.join(", ")}`);
  if (g.player !== null) {
    ok(g.player.height > 100, `${label}: the video is ${g.player.height}px high`);
    ok(
      g.player.top >= 0 && g.player.bottom <= g.innerHeight,
      `${label}: the video is not in view (${g.player.top}–${g.player.bottom} of ${g.innerHeight})`,
    );
  }
}

/**
 * Takes a screenshot and checks it is not blank: a flat page compresses to a few KiB.
 *
 * @param page The tab.
 * @param name The file's name, without `.png`.
 * @returns The file's path.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}/${name}.png`;
  await page.screenshot({ path: path as `${string}.png` });
  const size = (await Deno.stat(path)).size;
  ok(size > 12_000, `${path} is ${size} bytes: the page looks blank`);
  return path;
}

/** One violation axe reports. */
interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page as it is and fails on any serious or critical violation.
 *
 * @param page The tab (opened after `setBypassCSP(true)`).
 * @param label For messages.
 */
export async function auditPage(page: Page, label: string): Promise<void> {
  const loaded = await page.evaluate("typeof window.axe === 'object'");
  if (!loaded) await page.evaluate((axe as unknown as { source: string }).source);
  const violations = await page.evaluate(`axe.run(document, {
    resultTypes: ["violations"],
  }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  })))`) as Violation[];
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  ok(
    bad.length === 0,
    `${label}: ${
      bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`).join("; ")
    }`,
  );
}

/**
 * Looks at one state at every size: screenshot, geometry and audit.
 *
 * @param page The tab.
 * @param name For files and messages, e.g. `chromium-chat`.
 */
export async function lookAt(page: Page, name: string): Promise<void> {
  for (const size of VIEWPORTS) {
    await page.setViewport({ width: size.width, height: size.height });
    // The layout settles on the next frames.
    await page.evaluate(
      "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))",
    );
    const label = `${name} at ${size.width}×${size.height}`;
    await saveScreenshot(page, `${name}-${size.name}`);
    await checkGeometry(page, label);
    await auditPage(page, label);
  }
}

/** The page's background in the dark theme (its `--bg`, #0f1116). */
export const DARK_BACKGROUND = "rgb(15, 17, 22)";

/**
 * Checks the page took the dark theme (the browser launched with `colorScheme: "dark"`).
 *
 * @param page The tab.
 * @param label For messages.
 */
export async function checkDark(page: Page, label: string): Promise<void> {
  const background = await page.evaluate(
    `getComputedStyle(document.documentElement).backgroundColor`,
  );
  ok(background === DARK_BACKGROUND, `${label}: the page is not dark (${background})`);
}
