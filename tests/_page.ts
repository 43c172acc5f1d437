/**
 * Driving the peerstream page in a real browser: start a server with `--web`, open the page, join,
 * chat, play, and read what the page shows. Every wait has a deadline.
 * @module
 */

import type { Page } from "puppeteer-core";
import { type ServerProcess, startServer, type StartServerOptions } from "./_helpers.ts";
import type { TestBrowser } from "./_browser.ts";

/** A server with the web page, and the page's URL. */
export interface WebServerProcess extends ServerProcess {
  /** The page's URL, e.g. `http://127.0.0.1:PORT/`. */
  url: string;
}

/**
 * Starts `serve --web 127.0.0.1:0` and reads the page's URL from its log.
 *
 * @param options As for `startServer`.
 * @returns The server and the page's URL.
 */
export async function startWebServer(options: StartServerOptions = {}): Promise<WebServerProcess> {
  const server = await startServer({
    ...options,
    args: ["--web", "127.0.0.1:0", ...(options.args ?? [])],
  });
  try {
    const line = await server.out.waitFor(/^Web page at /, { timeoutMs: 10_000 });
    return { ...server, url: line.slice("Web page at ".length).trim() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** A page and what went wrong in it. */
export interface TestPage {
  page: Page;
  /** Uncaught errors and console errors in the page. */
  errors: string[];
}

/**
 * Opens the page in a new tab.
 *
 * @param browser The browser.
 * @param url The page's URL.
 * @returns The tab.
 */
export async function openPage(browser: TestBrowser, url: string): Promise<TestPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.setDefaultTimeout(20_000);
  await page.setViewport({ width: 1280, height: 960 });
  await page.goto(url);
  return { page, errors };
}

/**
 * Joins with a name and waits until the page says it joined (at once, if it rejoined by itself).
 *
 * @param page The tab.
 * @param name The name.
 */
export async function joinAs(page: Page, name: string): Promise<void> {
  // A reloaded page rejoins by itself with the name it had.
  await page.waitForSelector(`#join-form:not([hidden]), body[data-joined="${name}"]`);
  if (await page.$(`body[data-joined="${name}"]`) !== null) return;
  // A reloaded page may have the last name filled in already.
  await page.$eval("#name", (input) => {
    (input as unknown as { value: string }).value = "";
  });
  await page.type("#name", name);
  await page.click("#join");
  await page.waitForSelector(`body[data-joined="${name}"]`);
}

/**
 * Waits until a peer is listed, optionally with a trust state.
 *
 * @param page The tab.
 * @param name The peer.
 * @param trust `new`, `known`, `verified` or `changed`.
 */
export async function waitForPeer(page: Page, name: string, trust?: string): Promise<void> {
  const selector = trust === undefined
    ? `#peers li[data-peer="${name}"]`
    : `#peers li[data-peer="${name}"][data-trust="${trust}"]`;
  await page.waitForSelector(selector);
}

/**
 * A page-side expression: a function's source applied to JSON arguments. Test files are checked
 * without the DOM library, so code that runs in the page travels as text.
 *
 * @param source The function, as source text.
 * @param args Its arguments.
 * @returns The expression.
 */
export function inPage(source: string, ...args: unknown[]): string {
  return `(${source})(${args.map((arg) => JSON.stringify(arg)).join(", ")})`;
}

/**
 * Waits until a page-side expression is truthy, and returns its value.
 *
 * @param page The tab.
 * @param expression From {@linkcode inPage}.
 * @param timeoutMs The deadline.
 * @returns The value, through JSON.
 */
export async function waitInPage<T>(
  page: Page,
  expression: string,
  timeoutMs = 20_000,
): Promise<T> {
  const handle = await page.waitForFunction(expression, { timeout: timeoutMs });
  return await handle.jsonValue() as T;
}

/**
 * Sends a message from the page and waits for `delivered` or an error.
 *
 * @param page The tab.
 * @param to The recipient.
 * @param text The text.
 * @returns `delivered` or the error code the page shows.
 */
export async function sendFromPage(page: Page, to: string, text: string): Promise<string> {
  const before = await page.$$eval("#messages li[data-to]", (items) => items.length);
  await page.select("#to", to);
  await page.$eval("#text", (input, value) => {
    (input as unknown as { value: string }).value = value;
  }, text);
  await page.click("#send");
  return await waitInPage<string>(
    page,
    inPage(
      `(index) => document.querySelectorAll("#messages li[data-to]")[index]?.dataset.state ?? false`,
      before,
    ),
  );
}

/**
 * Waits for a message from a peer, and returns the text the page shows and the trust mark.
 *
 * @param page The tab.
 * @param from The sender.
 * @param includes A piece of the shown text to wait for.
 * @returns The shown text and the trust.
 */
export function waitForMessage(
  page: Page,
  from: string,
  includes: string,
): Promise<{ text: string; trust: string }> {
  return waitInPage(
    page,
    inPage(
      `(sender, piece) => {
        for (const item of document.querySelectorAll("#messages li[data-from]")) {
          // One ".text" per line of the message (each line carries the sender's label).
          const text = [...item.querySelectorAll(".text")].map((e) => e.textContent).join("\\n");
          if (item.dataset.from === sender && text.includes(piece)) {
            return { text, trust: item.dataset.trust ?? "" };
          }
        }
        return false;
      }`,
      from,
      includes,
    ),
  );
}

/**
 * Waits for a notice containing a piece of text.
 *
 * @param page The tab.
 * @param piece What the notice says.
 */
export async function waitForNotice(page: Page, piece: string): Promise<void> {
  await waitInPage(
    page,
    inPage(
      `(text) => [...document.querySelectorAll("#notice-list li")]
        .some((li) => li.textContent.includes(text))`,
      piece,
    ),
  );
}

/**
 * Waits until the open room's chat on the page shows a line that contains `text`.
 *
 * @param page The page.
 * @param text Part of the line.
 * @param timeoutMs How long to wait. @default {60000}
 */
export async function waitForRoomLine(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  await waitInPage(
    page,
    inPage(
      `(wanted) => [...document.querySelectorAll("#room-messages li")]
        .some((li) => li.textContent.includes(wanted))`,
      text,
    ),
    timeoutMs,
  );
}
