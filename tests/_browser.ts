/**
 * Real browsers for the page's tests and benchmark: Debian's `chromium` and `firefox-esr`, driven
 * by `puppeteer-core` (Chromium over the DevTools protocol, Firefox over WebDriver BiDi). Each
 * browser gets a fresh profile folder that is removed when it closes. A missing browser is an
 * error, never a skip: `./run test` installs both.
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** The browsers the tests run in. */
export type BrowserKind = "chromium" | "firefox";

/** Every browser kind, in the order tests use them. */
export const BROWSER_KINDS: readonly BrowserKind[] = ["chromium", "firefox"];

const EXECUTABLES: Record<BrowserKind, string> = {
  chromium: "/usr/bin/chromium",
  firefox: "/usr/bin/firefox-esr",
};

/**
 * Chromium flags: no sandbox (tests run as root), nothing that talks to the network on its own,
 * no QUIC, and video that may start without a click.
 */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
  "--autoplay-policy=no-user-gesture-required",
  "--mute-audio",
];

/** Firefox preferences with the same intent as {@linkcode CHROMIUM_ARGS}. */
const FIREFOX_PREFS: Record<string, unknown> = {
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "media.volume_scale": "0.0",
  "network.http.http3.enable": false,
  "app.update.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
};

/** A launched browser and its profile folder. */
export interface TestBrowser {
  /** Which browser. */
  kind: BrowserKind;
  /** The puppeteer handle. */
  browser: Browser;
  /** Opens a new tab. */
  newPage(): Promise<Page>;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Options for {@linkcode launchBrowser}. */
export interface LaunchOptions {
  /** Accept any TLS certificate, as a person who checked the fingerprint would. @default {false} */
  acceptInsecureCerts?: boolean;
  /** More Chromium command-line flags (e.g. `--host-resolver-rules`). @default {[]} */
  chromiumArgs?: string[];
  /**
   * The colour scheme the system asks pages for: Firefox gets it as a preference (its WebDriver
   * BiDi has no media emulation), each new Chromium tab by emulation. @default {the system's}
   */
  colorScheme?: "light" | "dark";
  /**
   * A network namespace to run the browser in (a shaped link, `tests/_netns.ts`): it is started
   * through `ip netns exec` and driven over a pipe, since its DevTools port would be on the
   * namespace's loopback. @default {undefined}
   */
  netns?: string;
}

/**
 * Launches a headless browser with a fresh profile.
 *
 * @param kind Chromium or Firefox.
 * @param options Certificate handling.
 * @returns The browser.
 * @throws {Error} When the browser is not installed, naming the package to install.
 */
export async function launchBrowser(
  kind: BrowserKind,
  options: LaunchOptions = {},
): Promise<TestBrowser> {
  let executablePath = EXECUTABLES[kind];
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `Cannot launch ${kind}: ${executablePath} is missing; install the Debian package "${
        kind === "chromium" ? "chromium" : "firefox-esr"
      }" (./run test does)`,
    );
  }
  const profile = await Deno.makeTempDir({ prefix: `peerstream-${kind}-` });
  if (options.netns !== undefined) {
    // The wrapper sits beside the profile folder and goes with it.
    const wrapper = `${profile}.netns.sh`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ip netns exec '${options.netns}' '${executablePath}' "$@"\n`,
      { mode: 0o755 },
    );
    executablePath = wrapper;
  }
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      pipe: options.netns !== undefined,
      browser: kind === "chromium" ? "chrome" : "firefox",
      executablePath,
      headless: true,
      userDataDir: profile,
      acceptInsecureCerts: options.acceptInsecureCerts ?? false,
      args: kind === "chromium" ? [...CHROMIUM_ARGS, ...(options.chromiumArgs ?? [])] : [],
      extraPrefsFirefox: options.colorScheme === undefined ? FIREFOX_PREFS : {
        ...FIREFOX_PREFS,
        // 0 dark, 1 light: what prefers-color-scheme says to pages.
        "layout.css.prefers-color-scheme.content-override": options.colorScheme === "dark" ? 0 : 1,
      },
      protocolTimeout: 60_000,
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    await Deno.remove(`${profile}.netns.sh`).catch(() => {});
    throw error;
  }
  return {
    kind,
    browser,
    async newPage() {
      const page = await browser.newPage();
      if (kind === "chromium" && options.colorScheme !== undefined) {
        await page.emulateMediaFeatures([
          { name: "prefers-color-scheme", value: options.colorScheme },
        ]);
      }
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      await Deno.remove(`${profile}.netns.sh`).catch(() => {});
    },
  };
}
