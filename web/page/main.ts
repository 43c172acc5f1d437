/**
 * The page's entry point: checks that the page can do its job here (a secure context for
 * WebCrypto), then joins with a name and hands over to {@linkcode App}.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { KnownPeers } from "../../client/known_peers.ts";
import { App } from "./app.ts";
import { byId, setText } from "./dom.ts";
import { PageStore } from "./storage.ts";
import { ClientSession } from "../../client/session.ts";
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

/**
 * Holds a lock on the name for as long as this tab is joined, so that a second tab of this
 * browser with the same name is told at once, before it reaches the server.
 *
 * @returns A release function, or null when another tab holds the name.
 */
function lockName(name: string): Promise<(() => void) | null> {
  if (navigator.locks === undefined) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    navigator.locks.request(`peerstream-name:${name}`, { ifAvailable: true }, (lock) => {
      if (lock === null) {
        resolve(null);
        return;
      }
      return new Promise<void>((release) => resolve(release));
    });
  });
}

function nameTakenMessage(name: string, error: PeerstreamError): string {
  if (error.code === "NAME_TAKEN") {
    return `"${name}" is already online, or belongs to someone else's key: if it is you in another browser or device, leave there first; otherwise pick another name`;
  }
  return error.message;
}

async function join(name: string, info: ServerInfo): Promise<void> {
  const release = await lockName(name);
  if (release === null) {
    throw new Error(
      `"${name}" is already joined in another tab of this browser; use that tab, or close it first`,
    );
  }
  try {
    const store = await PageStore.open();
    const [{ identity }, storage, replay] = await Promise.all([
      store.identity(name),
      store.knownPeers(name),
      store.replay(name),
    ]);
    const app = new App({ codec: info.codec, onClosed: release });
    const known = new KnownPeers(storage);
    let session: ClientSession | undefined;
    for (let attempt = 1; session === undefined; attempt++) {
      const stream = await openWebSocketStream(websocketUrl(location));
      // The terminal's session, over the WebSocket: one implementation of the protocol.
      const candidate = await ClientSession.open(stream, {
        events: app.events,
        knownPeers: known,
        replay,
      });
      try {
        await candidate.register(name, identity);
        session = candidate;
      } catch (error) {
        candidate.close();
        if (!(error instanceof PeerstreamError)) throw error;
        // Right after a reload the server may not have seen this tab's old connection go yet:
        // try again shortly, on a new connection as the protocol asks.
        if (error.code === "NAME_TAKEN" && attempt < 3) {
          await new Promise((resolve) => setTimeout(resolve, 700));
          continue;
        }
        throw new Error(nameTakenMessage(name, error));
      }
    }
    await app.start(session);
  } catch (error) {
    release();
    throw error;
  }
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
  form.hidden = false;
  status.textContent = "Not joined";
  input.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = byId("join", HTMLButtonElement);
    button.disabled = true;
    error.textContent = "";
    status.textContent = "Joining…";
    join(input.value.trim(), info).then(() => {
      form.hidden = true;
    }, (failure) => {
      setText(error, failure instanceof Error ? failure.message : String(failure));
      status.textContent = "Not joined";
    }).finally(() => button.disabled = false);
  });
}

boot().catch((error) => {
  setText(byId("status", HTMLElement), `Cannot start: ${(error as Error).message}`);
});
