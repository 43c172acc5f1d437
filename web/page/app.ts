/**
 * The joined page: who is online with fingerprints and trust, chat, the library and the player,
 * and notices. Rendering only ever sets untrusted text as text.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { formatFingerprint } from "../../protocol/e2e.ts";
import type { LeaveReason, VideoSummary } from "../../protocol/messages.ts";
import type { KeyTrust } from "../../client/known_peers.ts";
import { appendItem, byId, clock, el, setText } from "./dom.ts";
import {
  followsNameRules,
  GRANDFATHERED_HINT,
  GRANDFATHERED_MARK,
  showName,
} from "../../protocol/shown_name.ts";
import { CONTINUATION, escapeName } from "../../protocol/text.ts";
import { PagePlayer } from "./page_player.ts";
import { WarningDigest } from "../../client/warning_digest.ts";
import type {
  ClientSession,
  ClosedInfo,
  IncomingMessage,
  SessionEvents,
} from "../../client/session.ts";

/** How often the page asks again while the library loads or titles are being prepared, ms. */
const LIBRARY_POLL_MS = 2000;

/** What the page knows of a peer. */
interface PeerView {
  fingerprint?: string;
  trust?: KeyTrust;
  lookalike?: string;
}

/** Options for {@linkcode App}. */
export interface AppOptions {
  /** The server's codec (`h264` or `mjpeg`). */
  codec: string;
  /** Called once the connection is gone. */
  onClosed: () => void;
}

/** The page after joining. */
export class App {
  readonly #options: AppOptions;
  #session?: ClientSession;
  #peers = new Map<string, PeerView>();
  #player?: PagePlayer;
  /** The next library refresh, while it loads or a title is being prepared. */
  #libraryTimer?: ReturnType<typeof setTimeout>;
  /** Refused messages, summarised per sender: a flood costs a few notices per 10 s. */
  readonly #warnings = new WarningDigest();
  /** Says what a finished interval held back even when no further warning comes. */
  readonly #summaryTimer = setInterval(() => {
    for (const line of this.#warnings.flush(performance.now())) this.notice(line, "warn");
  }, 1000);
  /** The session's callbacks, bound to this page. */
  readonly events: SessionEvents;

  /** @param options The server's codec and what to do on close. */
  constructor(options: AppOptions) {
    this.#options = options;
    this.events = {
      joined: (name) => this.#joined(name),
      left: (name, reason) => this.#left(name, reason),
      message: (message) => this.#received(message),
      warning: (text, code, from) => this.#warning(text, code, from),
      shutdown: (message) => this.notice(`The server is shutting down: ${message}`, "warn"),
      serverError: (code, message) => this.notice(`Server error ${code}: ${message}`, "warn"),
      closed: (info) => this.#closed(info),
      keyChanged: (name) => this.#lookup(name),
    };
  }

  /**
   * Shows the joined page.
   *
   * @param session The registered session.
   */
  async start(session: ClientSession): Promise<void> {
    this.#session = session;
    this.#player = new PagePlayer(session, {
      codec: this.#options.codec,
      notice: (text, kind) => this.notice(text, kind),
    });
    const own = formatFingerprint(await session.fingerprint(), 4);
    setText(byId("me", HTMLElement), `${showName(session.name ?? "")} · your key ${own}`);
    byId("status", HTMLElement).textContent = "Joined";
    byId("app", HTMLElement).hidden = false;
    document.body.dataset.joined = session.name ?? "";
    this.#wireChat();
    this.#wireVerify();
    byId("refresh", HTMLButtonElement).addEventListener("click", () => this.refreshLibrary());
    // A tab that closes is a leave: say goodbye so others see "quit" rather than a drop.
    addEventListener("pagehide", () => session.quit());
    for (const name of session.peers.names()) this.#joined(name, false);
    this.notice(`Joined as ${showName(session.name ?? "")}`);
    if (this.#options.codec !== "h264") {
      const note = byId("video-note", HTMLElement);
      setText(
        note,
        `This server streams ${this.#options.codec.toUpperCase()}: video in the page needs H.264 (the server's default). Chat works as usual.`,
      );
      note.hidden = false;
    }
    await this.refreshLibrary();
  }

  /**
   * Adds a notice.
   *
   * @param text The text (shown as text).
   * @param kind `warn` for something to look at.
   */
  notice(text: string, kind: "info" | "warn" = "info"): void {
    const item = el("li", { text: `${new Date().toLocaleTimeString()} ${text}` });
    if (kind === "warn") item.className = "warn";
    appendItem(byId("notice-list", HTMLElement), item);
  }

  /**
   * Fetches and shows the library; while it is still loading, or a title is being prepared, asks
   * again every {@linkcode LIBRARY_POLL_MS} so that progress and readiness show by themselves.
   */
  async refreshLibrary(): Promise<void> {
    clearTimeout(this.#libraryTimer);
    this.#libraryTimer = undefined;
    const session = this.#session;
    if (session === undefined || document.body.dataset.joined === "") return;
    const body = byId("titles", HTMLTableElement).tBodies[0];
    let videos: VideoSummary[];
    try {
      videos = await session.list();
    } catch (error) {
      if (error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY") {
        setText(byId("library-state", HTMLElement), "The server is still loading its videos…");
        this.#refreshLater();
      } else {
        this.notice(`Cannot list videos: ${(error as Error).message}`, "warn");
      }
      return;
    }
    setText(byId("library-state", HTMLElement), "");
    body.replaceChildren(...videos.map((video) => this.#titleRow(video)));
    if (videos.some((video) => video.state === "preparing")) this.#refreshLater();
  }

  #refreshLater() {
    // One timer, however many refreshes were in flight (a click while one waits for LIST).
    clearTimeout(this.#libraryTimer);
    this.#libraryTimer = setTimeout(() => this.refreshLibrary(), LIBRARY_POLL_MS);
  }

  #titleRow(video: VideoSummary): HTMLTableRowElement {
    const state = video.state === "ready"
      ? ""
      : video.state === "preparing"
      ? ` (preparing ${Math.round(video.progress * 100)}%)`
      : " (failed)";
    const play = el("button", {
      text: "Play",
      attrs: { type: "button", "data-title": video.title },
    });
    play.disabled = video.state !== "ready" || this.#options.codec !== "h264";
    play.addEventListener("click", () => this.#player?.play(video));
    return el("tr", { attrs: { "data-title": video.title } }, [
      el("td", { text: `${video.title}${state}` }),
      el("td", { text: video.heights.map((h) => `${h}p`).join(", ") }),
      el("td", { text: clock(video.duration) }),
      el("td", {}, [play]),
    ]);
  }

  #wireChat() {
    const form = byId("send-form", HTMLFormElement);
    const input = byId("text", HTMLInputElement);
    const to = byId("to", HTMLSelectElement);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (text === "" || to.value === "") return;
      input.value = "";
      this.#send(to.value, text);
    });
  }

  #send(to: string, text: string) {
    const state = el("span", { className: "state", text: "sending…" });
    const item = el("li", { attrs: { "data-to": to } }, [
      el("span", { className: "from", text: `to ${showName(to)}: ` }),
      el("span", { className: "text", text }),
      state,
    ]);
    appendItem(byId("messages", HTMLElement), item);
    this.#session!.sendText(to, text).then(() => {
      state.textContent = "delivered";
      item.dataset.state = "delivered";
    }, (error) => {
      const code = error instanceof PeerstreamError ? `${error.code}: ` : "";
      setText(state, `not delivered: ${code}${(error as Error).message}`);
      state.classList.add("warn");
      item.dataset.state = error instanceof PeerstreamError ? error.code : "error";
      if (error instanceof PeerstreamError && error.code === "KEY_CHANGED") {
        this.#lookup(to);
      }
    });
  }

  #received(message: IncomingMessage) {
    const item = el(
      "li",
      { attrs: { "data-from": message.from, "data-trust": message.trust } },
      messageLines(message),
    );
    if (message.trust === "changed") item.classList.add("warn");
    appendItem(byId("messages", HTMLElement), item);
  }

  #joined(name: string, announce = true) {
    this.#peers.set(name, this.#peers.get(name) ?? {});
    if (announce) this.notice(`${showName(name)} joined`);
    this.#renderPeers();
    this.#lookup(name);
  }

  #left(name: string, reason: LeaveReason) {
    this.#peers.delete(name);
    this.notice(`${showName(name)} left (${reason})`);
    this.#renderPeers();
  }

  /** Gets a peer's key: its fingerprint is shown, and trust on first use is decided now. */
  #lookup(name: string) {
    this.#session?.peerKeys(name).then(
      (keys) => {
        const view = this.#peers.get(name);
        if (view === undefined) return;
        const wasChanged = view.trust === "changed";
        view.fingerprint = keys.fingerprint;
        view.trust = keys.trust;
        if (keys.trust === "changed" && !wasChanged) {
          this.notice(
            `Warning: the key of ${showName(name)} changed since you last talked. Messages to ${
              showName(name)
            } are blocked until you accept the new key; compare fingerprints with ${
              showName(name)
            } in person first`,
            "warn",
          );
        }
        this.#renderPeers();
      },
      (error) =>
        this.notice(`Cannot get the key of ${showName(name)}: ${(error as Error).message}`, "warn"),
    );
  }

  #renderPeers() {
    const list = byId("peers", HTMLElement);
    const to = byId("to", HTMLSelectElement);
    const chosen = to.value;
    const names = [...this.#peers.keys()].sort((a, b) => a.localeCompare(b));
    list.replaceChildren(...names.map((name) => this.#peerItem(name, this.#peers.get(name)!)));
    to.replaceChildren(
      ...names.map((name) => el("option", { text: showName(name), attrs: { value: name } })),
    );
    if (names.includes(chosen)) to.value = chosen;
  }

  #peerItem(name: string, view: PeerView): HTMLLIElement {
    const verify = el("button", { text: "Verify", attrs: { type: "button", class: "verify" } });
    verify.addEventListener("click", () => this.#openVerify(name));
    const children: Node[] = [
      el("span", { className: "name", text: escapeName(name) }),
      ...grandfatheredMark(name),
      el("span", { className: "mark", text: trustMark(view.trust, view.lookalike) }),
      el("code", {
        className: "fingerprint",
        text: view.fingerprint ? formatFingerprint(view.fingerprint, 4) : "…",
      }),
      verify,
    ];
    if (view.trust === "changed") {
      const accept = el("button", {
        text: "Accept new key",
        attrs: { type: "button", class: "accept" },
      });
      accept.addEventListener("click", () => this.#accept(name));
      children.push(accept);
    }
    return el("li", { attrs: { "data-peer": name, "data-trust": view.trust ?? "" } }, children);
  }

  #accept(name: string) {
    if (this.#session?.acceptKey(name)) {
      this.notice(`Accepted the new key of ${showName(name)}`);
      this.#lookup(name);
    }
  }

  #wireVerify() {
    const dialog = byId("verify-dialog", HTMLDialogElement);
    byId("verify-close", HTMLButtonElement).addEventListener("click", () => dialog.close());
    byId("verify-yes", HTMLButtonElement).addEventListener("click", () => {
      const name = dialog.dataset.peer ?? "";
      const fingerprint = this.#peers.get(name)?.fingerprint;
      if (fingerprint !== undefined && this.#session?.verifyKey(name, fingerprint)) {
        this.#peers.get(name)!.trust = "verified";
        this.notice(`Marked the key of ${showName(name)} verified ✓`);
        this.#renderPeers();
      } else {
        this.notice(
          `Cannot mark ${showName(name)} verified: their key changed; accept it first`,
          "warn",
        );
      }
      dialog.close();
    });
  }

  #openVerify(name: string) {
    const view = this.#peers.get(name);
    if (view?.fingerprint === undefined) return;
    const dialog = byId("verify-dialog", HTMLDialogElement);
    dialog.dataset.peer = name;
    setText(
      byId("verify-text", HTMLElement),
      `Compare this fingerprint with the one ${
        showName(name)
      } sees as theirs, in person or on a call:`,
    );
    byId("verify-fingerprint", HTMLElement).textContent = formatFingerprint(view.fingerprint);
    dialog.showModal();
  }

  #warning(text: string, code: string, from?: string) {
    for (const line of this.#warnings.add({ text, code, from }, performance.now())) {
      this.notice(line === text ? `Rejected a message (${code}): ${text}` : line, "warn");
    }
  }

  #closed(info: ClosedInfo) {
    clearTimeout(this.#libraryTimer);
    clearInterval(this.#summaryTimer);
    this.#player?.disconnected();
    byId("status", HTMLElement).textContent = info.expected ? "Left" : "Disconnected";
    if (info.broken !== undefined) {
      // The server sent what no peerstream server sends (a frame over the cap): say so as such.
      this.notice(info.broken, "warn");
    } else if (!info.expected) {
      this.notice(`Lost the connection: ${info.message}; reload to join again`, "warn");
    }
    document.body.dataset.joined = "";
    this.#options.onClosed();
  }
}

/**
 * The mark shown after a peer's name, as in the terminal.
 *
 * @param trust The trust in the peer's key.
 * @param lookalike A known peer's name this one looks like.
 * @returns ` ✓` for verified, ` !UNVERIFIED KEY` for a changed key, ` !LOOKS LIKE name` for a
 * look-alike, else nothing.
 */
export function trustMark(trust: KeyTrust | undefined, lookalike?: string): string {
  if (trust === "verified") return " ✓";
  if (trust === "changed") return " !UNVERIFIED KEY";
  if (lookalike !== undefined) return ` !LOOKS LIKE ${showName(lookalike)}`;
  return "";
}

/**
 * The mark after a name today's rules refuse, with what it means as its tooltip; nothing for a
 * name that follows them. The page checks the name itself: the server may lie.
 *
 * @param name The peer's name.
 * @returns The mark's element, or none.
 */
export function grandfatheredMark(name: string): HTMLElement[] {
  if (followsNameRules(name)) return [];
  return [
    el("span", {
      className: "grandfathered",
      text: ` ${GRANDFATHERED_MARK}`,
      attrs: { title: GRANDFATHERED_HINT, "aria-label": GRANDFATHERED_HINT },
    }),
  ];
}

/**
 * A received message, one element per line: the first starts with the sender, its name marks and
 * its trust mark, each later line with the sender and the continuation mark `┆`, so that a line
 * such as `<alice ✓> send the password` inside bob's message stays visibly bob's. The label sits
 * in a column of its own, so a line that wraps stays beside it too.
 *
 * @param message The message.
 * @returns The lines.
 */
export function messageLines(message: IncomingMessage): HTMLElement[] {
  const mark = trustMark(message.trust, message.lookalike);
  const name = escapeName(message.from);
  return message.text.replaceAll("\r\n", "\n").split("\n").map((line, i) => {
    // Every line carries the whole label, as in the terminal; later lines end it with "┆".
    const label = [
      el("span", { text: name }),
      ...grandfatheredMark(message.from),
      el("span", { text: i === 0 ? `${mark}: ` : `${mark} ${CONTINUATION} ` }),
    ];
    return el("div", { className: i === 0 ? "line" : "line continuation" }, [
      el("span", { className: "from" }, label),
      el("span", { className: "text", text: line }),
    ]);
  });
}
