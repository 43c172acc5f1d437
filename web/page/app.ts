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
import { titleCard } from "./library_view.ts";
import { messageMeta, pageTitle, unreadBadge, UnreadCounts } from "./chat_view.ts";
import { WarningDigest } from "../../client/warning_digest.ts";
import type {
  ClientSession,
  ClosedInfo,
  IncomingMessage,
  SessionEvents,
} from "../../client/session.ts";
import type { HistoryEntry, HistoryStore } from "./history_store.ts";
import type { SessionMemory } from "./last_session.ts";
import {
  CONNECTION_WORDS,
  consoleDetail,
  errorCode,
  failureWords,
  keyChangedWords,
  offlineWords,
  reasonWords,
  verifyWords,
  warningWords,
} from "./words.ts";

/** Where the page's connection stands, as {@linkcode App.setConnection} shows it. */
export type ConnectionView = keyof typeof CONNECTION_WORDS;

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
  /** Called once the connection is gone for good (after leaving). */
  onClosed: () => void;
  /** Called when the connection is lost unexpectedly: reconnect. */
  onLost?: () => void;
  /** What a refresh picks up: the name and the title playing. */
  memory?: SessionMemory;
  /** This name's conversation, encrypted at rest. */
  history?: HistoryStore;
}

/** The page after joining. */
export class App {
  readonly #options: AppOptions;
  #session?: ClientSession;
  #peers = new Map<string, PeerView>();
  #player?: PagePlayer;
  /** Messages not yet seen, per peer (chat_view.ts). */
  readonly #unread = new UnreadCounts();
  /** The next library refresh, while it loads or a title is being prepared. */
  #libraryTimer?: ReturnType<typeof setTimeout>;
  /** The library as last listed, for resuming a title. */
  #videos: VideoSummary[] = [];
  /** A title that was playing is to play again once the library lists it ready. */
  #resumePending = false;
  #connection: ConnectionView = "connected";
  /**
   * This page is leaving (a closing tab, Forget, a move to another tab): the close that follows is
   * the end. Any other close, including the server's own shutdown, is a loss to reconnect from.
   */
  #leaving = false;
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
      warning: (text, code, from) => {
        console.warn(`${code}: ${text}`);
        this.#warning(text, code, from);
      },
      shutdown: (message) => {
        console.warn(`SHUTTING_DOWN: ${message}`);
        this.notice(`The server is going away: ${reasonWords("SHUTTING_DOWN")}`, "warn");
      },
      serverError: (code, message) => {
        console.warn(`${code}: ${message}`);
        this.notice(`The server reported a problem: ${reasonWords(code)}`, "warn");
      },
      closed: (info) => this.#closed(info),
      keyChanged: (name) => this.#lookup(name),
      queueNotice: (kind, to, qseq) => this.#queueNotice(kind, to, qseq),
    };
  }

  /**
   * Shows the joined page, the first time with the kept conversation; again after each reconnect,
   * with presence as the server has it now and the title that was playing resumed.
   *
   * @param session The registered session.
   */
  async start(session: ClientSession): Promise<void> {
    const first = this.#session === undefined;
    this.#session = session;
    this.#leaving = false;
    if (this.#player === undefined) {
      this.#player = new PagePlayer(session, {
        codec: this.#options.codec,
        notice: (text, kind) => this.notice(text, kind),
        onPlaying: (playing) => this.#options.memory?.savePlaying(playing),
      });
    } else {
      this.#player.attach(session);
    }
    const own = formatFingerprint(await session.fingerprint(), 4);
    setText(byId("me", HTMLElement), `${showName(session.name ?? "")} · your key ${own}`);
    byId("app", HTMLElement).hidden = false;
    document.body.dataset.joined = session.name ?? "";
    this.#peers.clear();
    for (const name of session.peers.names()) this.#joined(name, false);
    this.#renderPeers();
    this.setConnection("connected");
    if (first) {
      this.#wireOnce();
      await this.#showHistory();
      this.notice(`Joined as ${showName(session.name ?? "")}`);
    } else {
      this.notice("Reconnected: you are back online");
    }
    if (first && this.#options.codec !== "h264") {
      const note = byId("video-note", HTMLElement);
      setText(
        note,
        `This server streams ${this.#options.codec.toUpperCase()}: video in the page needs H.264 (the server's default). Chat works as usual.`,
      );
      note.hidden = false;
    }
    this.#resumePending = true;
    await this.refreshLibrary();
  }

  /** Leaves: says goodbye to the server (others see "quit"); the page stays as it is. */
  async leave(): Promise<void> {
    this.#leaving = true;
    await this.#session?.quit();
  }

  /** Wires the page's controls, once for all the sessions of this page. */
  #wireOnce() {
    this.#wireChat();
    this.#wireVerify();
    byId("refresh", HTMLButtonElement).addEventListener("click", () => this.refreshLibrary());
    // A tab that closes is a leave: say goodbye so others see "quit" rather than a drop.
    addEventListener("pagehide", () => void this.leave());
    // Back from the back-forward cache: that session ended at pagehide; start afresh.
    addEventListener("pageshow", (event) => {
      if (event.persisted) location.reload();
    });
  }

  /**
   * Plays again the title that was playing before the refresh or the loss, at its second: once
   * per join, when the library lists it ready (a restarted server may still be preparing it).
   */
  async #resume() {
    if (!this.#resumePending) return;
    const playing = this.#options.memory?.load()?.playing;
    const video = this.#videos.find((v) => v.title === playing?.title);
    if (video?.state === "preparing") return;
    this.#resumePending = false;
    if (playing === undefined || video?.state !== "ready") return;
    if (document.body.dataset.playing !== undefined) return;
    this.notice(`Resuming ${video.title} at ${clock(playing.position)}`);
    await this.#player?.play(video, { position: playing.position, quality: playing.quality });
  }

  /**
   * Shows where the connection stands: the status, and while not connected, why Send and Play
   * are off.
   *
   * @param state The connection's state.
   * @param waitMs The wait before the next try, while waiting.
   */
  setConnection(state: ConnectionView, waitMs?: number): void {
    this.#connection = state;
    const offline = state !== "connected";
    document.body.dataset.connection = state === "waiting" || state === "connecting"
      ? "reconnecting"
      : state;
    byId("status", HTMLElement).textContent = CONNECTION_WORDS[state];
    const banner = byId("offline", HTMLElement);
    banner.hidden = !offline;
    if (offline) setText(byId("offline-text", HTMLElement), offlineWords(state, waitMs));
    byId("reconnect-now", HTMLButtonElement).hidden = state !== "waiting" && state !== "stopped";
    byId("take-back", HTMLButtonElement).hidden = state !== "moved";
    byId("send", HTMLButtonElement).disabled = offline;
    byId("refresh", HTMLButtonElement).disabled = offline;
    for (const play of document.querySelectorAll<HTMLButtonElement>("#titles button[data-title]")) {
      play.disabled = offline || play.dataset.ready !== "true";
    }
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
    const list = byId("titles", HTMLUListElement);
    let videos: VideoSummary[];
    try {
      videos = await session.list();
    } catch (error) {
      if (error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY") {
        setText(byId("library-state", HTMLElement), "The server is still loading its videos…");
        this.#refreshLater();
      } else {
        console.warn(consoleDetail(error));
        this.notice(failureWords("Cannot list the videos", error), "warn");
      }
      return;
    }
    setText(byId("library-state", HTMLElement), "");
    this.#videos = videos;
    list.replaceChildren(...videos.map((video) =>
      titleCard(video, {
        canPlay: this.#options.codec === "h264",
        offline: this.#connection !== "connected",
        play: (chosen) => this.#player?.play(chosen),
      })
    ));
    if (videos.some((video) => video.state === "preparing")) this.#refreshLater();
    await this.#resume();
  }

  #refreshLater() {
    // One timer, however many refreshes were in flight (a click while one waits for LIST).
    clearTimeout(this.#libraryTimer);
    this.#libraryTimer = setTimeout(() => this.refreshLibrary(), LIBRARY_POLL_MS);
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
    // Choosing a peer, writing to them, or coming back to the tab reads their messages.
    to.addEventListener("change", () => this.#readSelected());
    input.addEventListener("focus", () => this.#readSelected());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.#readSelected();
    });
  }

  #readSelected() {
    const selected = byId("to", HTMLSelectElement).value;
    if (document.fullscreenElement === null && this.#unread.read(selected)) this.#showUnread();
  }

  #showUnread() {
    document.title = pageTitle(this.#unread.total);
    this.#renderPeers();
  }

  #send(to: string, text: string) {
    const at = Date.now();
    const item = this.#sentItem(to, text, "sending…", at);
    const state = item.querySelector(".state")!;
    appendItem(byId("messages", HTMLElement), item);
    this.#session!.sendText(to, text).then((sent) => {
      if (sent.queued) {
        // Kept on the server: "delivered" comes with a queue notice, maybe after a reload.
        setText(state, queuedWords(to));
        item.dataset.state = "queued";
        item.dataset.qseq = String(sent.qseq);
        return;
      }
      state.textContent = "delivered";
      item.dataset.state = "delivered";
      this.#options.history?.add({ dir: "out", peer: to, text, at, state: "delivered" });
    }, (error) => {
      console.warn(consoleDetail(error));
      setText(state, `not delivered: ${reasonWords(errorCode(error), { peer: to })}`);
      state.classList.add("warn");
      item.dataset.state = errorCode(error);
      this.#options.history?.add({ dir: "out", peer: to, text, at, state: errorCode(error) });
      if (errorCode(error) === "KEY_CHANGED") this.#lookup(to);
    });
  }

  /** A sent message's item, its state shown after the text, its time under it. */
  #sentItem(to: string, text: string, state: string, at: number): HTMLLIElement {
    return el("li", { attrs: { "data-to": to } }, [
      el("span", { className: "from", text: `to ${showName(to)}: ` }),
      el("span", { className: "text", text }),
      el("span", { className: "state", text: state }),
      messageMeta(new Date(at)),
    ]);
  }

  /** Shows the conversation kept from before this page was loaded. */
  async #showHistory() {
    const entries = await this.#options.history?.load().catch((error) => {
      console.warn(consoleDetail(error));
      return [] as HistoryEntry[];
    }) ?? [];
    const list = byId("messages", HTMLElement);
    for (const entry of entries) {
      let item: HTMLLIElement;
      if (entry.dir === "out") {
        const delivered = entry.state === "delivered";
        const state = delivered
          ? "delivered"
          : `not delivered: ${reasonWords(entry.state ?? "", { peer: entry.peer })}`;
        item = this.#sentItem(entry.peer, entry.text, state, entry.at);
        item.dataset.state = entry.state ?? "";
      } else {
        item = this.#receivedItem({
          from: entry.peer,
          text: entry.text,
          sentAt: entry.at,
          trust: entry.trust ?? "new",
          ...(entry.lookalike === undefined ? {} : { lookalike: entry.lookalike }),
        }, new Date(entry.at));
      }
      item.classList.add("earlier");
      appendItem(list, item);
    }
  }

  #received(message: IncomingMessage) {
    appendItem(byId("messages", HTMLElement), this.#receivedItem(message, new Date()));
    const counted = this.#unread.received(message.from, {
      selected: byId("to", HTMLSelectElement).value,
      hidden: document.hidden,
      fullscreen: document.fullscreenElement !== null,
    });
    if (counted) this.#showUnread();
    this.#options.history?.add({
      dir: "in",
      peer: message.from,
      text: message.text,
      at: message.sentAt,
      trust: message.trust,
      ...(message.lookalike === undefined ? {} : { lookalike: message.lookalike }),
    });
  }

  #receivedItem(message: IncomingMessage, at: Date): HTMLLIElement {
    const item = el(
      "li",
      { attrs: { "data-from": message.from, "data-trust": message.trust } },
      messageLines(message),
    );
    if (message.trust === "changed") item.classList.add("warn");
    // A queued message shows when it was sent, and says it waited.
    item.append(messageMeta(message.queued ? new Date(message.sentAt) : at, message.trust));
    if (message.queued) {
      item.dataset.queued = "true";
      item.append(el("div", { className: "meta-line", text: "sent earlier, while you were away" }));
    }
    return item;
  }

  /** A message queued for someone offline was opened by them, or expired unread. */
  #queueNotice(kind: "delivered" | "expired", to: string, qseq: number) {
    const item = byId("messages", HTMLElement).querySelector<HTMLElement>(
      `li[data-state="queued"][data-qseq="${qseq}"][data-to="${CSS.escape(to)}"]`,
    );
    const words = kind === "delivered"
      ? "delivered"
      : "not delivered: it waited longer than the server keeps messages";
    if (item === null) {
      this.notice(`A message you queued for ${showName(to)}: ${words}`);
      return;
    }
    setText(item.querySelector(".state")!, words);
    item.dataset.state = kind;
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
        if (keys.trust === "changed" && !wasChanged) this.notice(keyChangedWords(name), "warn");
        this.#renderPeers();
      },
      (error) => {
        console.warn(consoleDetail(error));
        this.notice(
          failureWords(`Cannot get the key of ${showName(name)}`, error, { peer: name }),
          "warn",
        );
      },
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
      ...unreadBadge(this.#unread.of(name)),
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
          `Cannot mark ${showName(name)} verified: their key changed; choose Accept new key first`,
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
    setText(byId("verify-text", HTMLElement), verifyWords(name));
    setText(
      byId("verify-theirs-label", HTMLElement),
      `${showName(name)}'s key, as this page got it`,
    );
    byId("verify-fingerprint", HTMLElement).textContent = formatFingerprint(view.fingerprint);
    this.#session?.fingerprint().then((own) => {
      byId("verify-mine", HTMLElement).textContent = formatFingerprint(own);
    }, () => {});
    dialog.showModal();
  }

  #warning(text: string, code: string, from?: string) {
    for (const line of this.#warnings.add({ text, code, from }, performance.now())) {
      // The warning itself in the page's words; a summary as the digest says it.
      this.notice(line === text ? warningWords(code) : line, "warn");
    }
  }

  #closed(info: ClosedInfo) {
    clearTimeout(this.#libraryTimer);
    this.#player?.disconnected();
    document.body.dataset.joined = "";
    if (info.broken !== undefined) console.warn(info.broken);
    if (this.#leaving) {
      clearInterval(this.#summaryTimer);
      byId("status", HTMLElement).textContent = "Left";
      this.#options.onClosed();
      return;
    }
    console.warn(`Lost the connection: ${info.message}`);
    if (info.broken !== undefined) {
      this.notice("The server sent something this page cannot read; reconnecting…", "warn");
    } else {
      this.notice("Lost the connection to the server; reconnecting…", "warn");
    }
    if (this.#options.onLost === undefined) {
      clearInterval(this.#summaryTimer);
      this.setConnection("stopped");
      this.#options.onClosed();
    } else {
      this.setConnection("waiting");
      this.#options.onLost();
    }
  }
}

/**
 * The mark shown after a peer's name: the terminal's marks, in words for the page.
 *
 * @param trust The trust in the peer's key.
 * @param lookalike A known peer's name this one looks like.
 * @returns ` ✓` for verified, ` ⚠ key changed` for a changed key, ` ⚠ looks like name` for a
 * look-alike, else nothing.
 */
export function trustMark(trust: KeyTrust | undefined, lookalike?: string): string {
  if (trust === "verified") return " ✓";
  if (trust === "changed") return " ⚠ key changed";
  if (lookalike !== undefined) return ` ⚠ looks like ${showName(lookalike)}`;
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

/**
 * What a sent message shows while it waits on the server for its offline recipient.
 *
 * @param to The recipient.
 * @returns The words.
 */
export function queuedWords(to: string): string {
  return `queued for ${showName(to)} (offline)`;
}
