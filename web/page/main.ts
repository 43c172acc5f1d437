/**
 * The page's entry point: checks that the page can do its job here (a secure context for
 * WebCrypto), then joins with a name (by itself with the name this browser joined with last) and
 * hands over to {@linkcode App}; a lost connection is rejoined with backoff
 * (`reconnect.ts`). One tab of a browser holds a name at a time: a second tab says so and offers
 * "Use here", which moves the conversation to it; the first then says it moved, with the same
 * button to take it back.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { showName } from "../../protocol/shown_name.ts";
import { KnownPeers } from "../../client/known_peers.ts";
import { App } from "./app.ts";
import { byId, setText } from "./dom.ts";
import { PageStore } from "./storage.ts";
import { SessionMemory } from "./last_session.ts";
import { Reconnector } from "./reconnect.ts";
import { consoleDetail, failureWords, reasonWords } from "./words.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import type { Identity } from "../../protocol/e2e.ts";
import type { ReplayStorage } from "../../protocol/replay.ts";
import { ClientSession, type RoomStorage } from "../../client/session.ts";
import { openWebSocketStream, websocketUrl } from "./ws_stream.ts";

/** What the server says about itself at `/server.json`. */
interface ServerInfo {
  codec: string;
}

async function serverInfo(): Promise<ServerInfo> {
  try {
    const body: unknown = await (await fetch("/server.json")).json();
    if (typeof body === "object" && body !== null && "codec" in body) {
      return { codec: String(body.codec) };
    }
  } catch {
    // An older server: assume H.264.
  }
  return { codec: "h264" };
}

/** Failures that trying again cannot mend: reconnecting stops and says why. */
const FATAL: readonly ErrorCode[] = [
  "NAME_INVALID",
  "NAME_CONFUSABLE",
  "NAME_LIMIT",
  "KEY_INVALID",
  "VERSION_MISMATCH",
];

/** How long a tab taking a name over waits for the other tab to let it go, ms. */
const TAKE_OVER_MS = 10_000;

/** Tabs of this browser tell each other here when one takes a name over. */
const TABS = typeof BroadcastChannel === "function"
  ? new BroadcastChannel("peerstream-tabs")
  : undefined;

const memory = new SessionMemory(globalThis.localStorage);

/**
 * Holds a lock on the name for as long as this tab is joined, so that a second tab of this
 * browser with the same name is told at once, before it reaches the server.
 *
 * @param name The name.
 * @param waitMs Wait this long for the tab holding it to let go (0: do not wait).
 * @returns A release function, or null when another tab holds the name.
 */
function lockName(name: string, waitMs = 0): Promise<(() => void) | null> {
  if (navigator.locks === undefined) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    const options: LockOptions = waitMs === 0
      ? { ifAvailable: true }
      : { signal: AbortSignal.timeout(waitMs) };
    navigator.locks.request(`peerstream-name:${name}`, options, (lock) => {
      if (lock === null) {
        resolve(null);
        return;
      }
      return new Promise<void>((release) => resolve(release));
    }).catch(() => resolve(null));
  });
}

/** Another tab of this browser holds the name. */
class OtherTabError extends Error {
  /** @param name The name. */
  constructor(readonly takenName: string) {
    super(
      `${
        showName(takenName)
      } is open in another tab of this browser; use that tab, or choose Use here to move the conversation to this one`,
    );
  }
}

/** What a session needs besides the connection. */
interface Keys {
  identity: Identity;
  known: KnownPeers;
  replay: ReplayStorage;
  rooms: RoomStorage;
}

/** Connects and registers, trying again shortly if the server still holds this tab's last go. */
async function openSession(name: string, keys: Keys, app: App): Promise<ClientSession> {
  for (let attempt = 1;; attempt++) {
    const stream = await openWebSocketStream(websocketUrl(location));
    // The terminal's session, over the WebSocket: one implementation of the protocol.
    const candidate = await ClientSession.open(stream, {
      events: app.events,
      knownPeers: keys.known,
      replay: keys.replay,
      rooms: keys.rooms,
    });
    try {
      await candidate.register(name, keys.identity);
      return candidate;
    } catch (error) {
      candidate.close();
      // Right after a reload the server may not have seen this tab's old connection go yet:
      // try again shortly, on a new connection as the protocol asks.
      if (error instanceof PeerstreamError && error.code === "NAME_TAKEN" && attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        continue;
      }
      throw error;
    }
  }
}

/** Options for {@linkcode join}. */
interface JoinOptions {
  /** Take the name over from another tab of this browser. */
  take?: boolean;
}

async function join(name: string, info: ServerInfo, options: JoinOptions = {}): Promise<void> {
  if (options.take) TABS?.postMessage({ type: "take", name });
  const release = await lockName(name, options.take ? TAKE_OVER_MS : 0);
  if (release === null) throw new OtherTabError(name);
  try {
    const store = await PageStore.open();
    const [{ identity }, storage, replay, history, rooms] = await Promise.all([
      store.identity(name),
      store.knownPeers(name),
      store.replay(name),
      store.history(name),
      store.rooms(name),
    ]);
    const keys: Keys = { identity, known: new KnownPeers(storage), replay, rooms };
    const reconnector: Reconnector = new Reconnector({
      connect: async () => await app.start(await openSession(name, keys, app)),
      isFatal: (error) => error instanceof PeerstreamError && FATAL.includes(error.code),
      onState: (state) => {
        if (state.kind === "waiting") app.setConnection("waiting", state.delayMs);
        else if (state.kind === "connecting") app.setConnection("connecting");
        else if (state.kind === "stopped" && state.error !== undefined) {
          console.warn(consoleDetail(state.error));
          app.setConnection("stopped");
          app.notice(failureWords("Cannot rejoin", state.error), "warn");
        }
      },
    });
    const app: App = new App({
      codec: info.codec,
      onClosed: release,
      onLost: () => reconnector.lost(),
      memory,
      history,
    });
    await app.start(await openSession(name, keys, app));
    memory.saveName(name);
    wireSession(name, { app, reconnector, store });
  } catch (error) {
    release();
    throw error;
  }
}

/** The joined tab's controls that outlive a connection: reconnect now, forget, tabs. */
function wireSession(
  name: string,
  { app, reconnector, store }: { app: App; reconnector: Reconnector; store: PageStore },
) {
  addEventListener("online", () => reconnector.retryNow());
  byId("reconnect-now", HTMLButtonElement).addEventListener("click", () => {
    if (reconnector.state.kind === "stopped") reconnector.lost();
    else reconnector.retryNow();
  });
  // The conversation moved here from another tab, and can be taken back.
  byId("take-back", HTMLButtonElement).addEventListener("click", () => {
    location.replace(`${location.pathname}?take`);
  });
  TABS?.addEventListener("message", (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (typeof data !== "object" || data === null) return;
    if ((data as Record<string, unknown>).type !== "take") return;
    if ((data as Record<string, unknown>).name !== name) return;
    reconnector.stop();
    app.leave().finally(() => app.setConnection("moved"));
  });
  const forget = byId("forget", HTMLButtonElement);
  const dialog = byId("forget-dialog", HTMLDialogElement);
  forget.hidden = false;
  forget.addEventListener("click", () => dialog.showModal());
  byId("forget-no", HTMLButtonElement).addEventListener("click", () => dialog.close());
  byId("forget-yes", HTMLButtonElement).addEventListener("click", async () => {
    dialog.close();
    reconnector.stop();
    await app.leave();
    memory.forget();
    try {
      await store.forget();
    } catch (error) {
      console.warn(consoleDetail(error));
    }
    location.replace(location.pathname);
  });
}

async function boot(): Promise<void> {
  const status = byId("status", HTMLElement);
  if (!isSecureContext || crypto.subtle === undefined) {
    byId("https-url", HTMLElement).textContent = `https://${location.host}/`;
    byId("insecure", HTMLElement).hidden = false;
    status.textContent = "Needs https";
    return;
  }
  const info = await serverInfo();
  const form = byId("join-form", HTMLFormElement);
  const input = byId("name", HTMLInputElement);
  const error = byId("join-error", HTMLElement);
  const button = byId("join", HTMLButtonElement);
  const takeBack = byId("join-take-back", HTMLButtonElement);
  const start = (name: string, options: JoinOptions = {}) => {
    button.disabled = true;
    takeBack.hidden = true;
    error.textContent = "";
    status.textContent = "Joining…";
    join(name, info, options).then(() => {
      form.hidden = true;
    }, (failure) => {
      console.warn(consoleDetail(failure));
      setText(error, joinFailureWords(failure));
      takeBack.hidden = !(failure instanceof OtherTabError);
      status.textContent = "Not joined";
      form.hidden = false;
      input.focus();
    }).finally(() => button.disabled = false);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start(input.value.trim());
  });
  takeBack.addEventListener("click", () => start(input.value.trim(), { take: true }));
  const take = new URLSearchParams(location.search).has("take");
  if (take) history.replaceState(null, "", location.pathname);
  const last = memory.load();
  if (last !== undefined) {
    // This browser joined before: rejoin by itself, as the same name.
    input.value = last.name;
    start(last.name, { take });
    return;
  }
  form.hidden = false;
  status.textContent = "Not joined";
  input.focus();
}

/** Why joining failed, in page words. */
function joinFailureWords(failure: unknown): string {
  if (failure instanceof OtherTabError) return failure.message;
  if (failure instanceof PeerstreamError) return `Cannot join: ${reasonWords(failure.code)}`;
  return "Cannot join: the server cannot be reached; check that it runs, then choose Join";
}

boot().catch((error) => {
  console.warn(consoleDetail(error));
  setText(byId("status", HTMLElement), "Cannot start this page; reload it to try again");
});
