/**
 * Support of the `tests/web_rooms_*_test.ts` suites: waiting for a terminal's line, and reading and
 * driving the page's open room (its lines, opening a room from the sidebar, sending to it).
 * @module
 */

import type { Page } from "puppeteer-core";
import { type CliClient } from "./_helpers.ts";
import { inPage, waitInPage } from "./_page.ts";

/** Waits up to 60 s for a terminal client's output line matching `re`, from line `from` on. */
export function waitOut(client: CliClient, re: RegExp, from = 0): Promise<string> {
  return client.out.waitFor(re, { timeoutMs: 60_000, from });
}

/** The open room's lines as the page shows them: changes, and `from: text` for messages. */
export function roomLines(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll("#room-messages li")].map((li) =>
    li.dataset.change !== undefined
      ? li.querySelector(".text").textContent
      : (li.dataset.from ?? "me") + ": " +
        [...li.querySelectorAll(".text")].map((e) => e.textContent).join("\\n")
  )`) as Promise<string[]>;
}

/** Waits until the open room shows a line. */
export async function waitForLine(page: Page, line: string): Promise<void> {
  await waitInPage(
    page,
    inPage(
      `(wanted) => [...document.querySelectorAll("#room-messages li")].some((li) =>
        (li.dataset.change !== undefined
          ? li.querySelector(".text").textContent
          : (li.dataset.from ?? "me") + ": " + li.querySelector(".text").textContent) === wanted)`,
      line,
    ),
    60_000,
  );
}

/** Opens a room from the sidebar and waits for its view. */
export async function openRoom(page: Page, name: string): Promise<void> {
  const button = `#rooms li[data-room="${name}"] button.room-open`;
  // The list is drawn anew on every room event: a button found may be replaced before the mouse
  // reaches it ("Node is detached from document", or "not clickable" once it is gone from the
  // layout); then click the new one.
  for (let attempt = 1;; attempt++) {
    await page.waitForSelector(button);
    try {
      await page.click(button);
      break;
    } catch (error) {
      if (attempt === 5 || !/detached|not clickable/.test(String(error))) throw error;
    }
  }
  await waitInPage(
    page,
    inPage(
      `(heading) => !document.getElementById("room").hidden &&
        document.getElementById("room-heading").textContent === heading`,
      `#${name}`,
    ),
  );
}

/**
 * Sends to the open room from the page and waits for what became of it: every receipt of the
 * members it went to, or a failure.
 */
export async function sendToRoom(page: Page, text: string): Promise<string> {
  const before = await page.$$eval("#room-messages li[data-to]", (items) => items.length);
  await page.$eval("#room-text", (input, value) => {
    (input as unknown as { value: string }).value = value;
  }, text);
  await page.click("#room-send");
  return await waitInPage<string>(
    page,
    inPage(
      `(index) => {
        const item = document.querySelectorAll("#room-messages li[data-to]")[index];
        const done = item && ["delivered", "failed"].includes(item.dataset.state);
        return done ? item.querySelector(".state").textContent : false;
      }`,
      before,
    ),
    60_000,
  );
}
