/**
 * The joined page: wires the session's events to its panels (the peers, the chat, the library and
 * the player), shows where the connection stands, and keeps the notices. Rendering only ever sets
 * untrusted text as text.
 * @module
 */

import { formatFingerprint } from "../../protocol/e2e.ts";
import { appendItem, byId, el, setText } from "./dom.ts";
import { showName } from "../../protocol/shown_name.ts";
import { PagePlayer } from "./page_player.ts";
import { UnreadCounts } from "./chat_view.ts";
import { ChatPanel } from "./chat_panel.ts";
import { LibraryPanel } from "./library_panel.ts";
import { PeersPanel } from "./peers_panel.ts";
import { RoomsPanel } from "./rooms_panel.ts";
import { RoomWatch } from "./room_watch.ts";
import { WarningDigest } from "../../client/warning_digest.ts";
import type { ClientSession, ClosedInfo, SessionEvents } from "../../client/session.ts";
import type { HistoryStore } from "./history_store.ts";
import type { SessionMemory } from "./last_session.ts";
import { CONNECTION_WORDS, offlineWords, reasonWords, warningWords } from "./words.ts";

/** Where the page's connection stands, as {@linkcode App.setConnection} shows it. */
export type ConnectionView = keyof typeof CONNECTION_WORDS;

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
  #player?: PagePlayer;
  /** Messages not yet seen, per peer (chat_view.ts). */
  readonly #unread = new UnreadCounts();
  readonly #peers: PeersPanel;
  readonly #chat: ChatPanel;
  readonly #library: LibraryPanel;
  readonly #rooms: RoomsPanel;
  readonly #watch: RoomWatch;
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
    const session = () => this.#session;
    const notice = (text: string, kind?: "info" | "warn") => this.notice(text, kind);
    this.#peers = new PeersPanel({ session, notice, unread: this.#unread });
    this.#chat = new ChatPanel({
      session,
      unread: this.#unread,
      renderPeers: () => this.#peers.render(),
      lookup: (name) => this.#peers.lookup(name),
      notice,
      history: options.history,
    });
    this.#watch = new RoomWatch({
      session,
      player: () => this.#player,
      videos: () => this.#library.videos,
      line: (room, text) => this.#rooms.line(room, text),
      notice,
    });
    this.#rooms = new RoomsPanel({
      session,
      unread: this.#unread,
      history: options.history,
      notice,
      watch: this.#watch,
    });
    this.#library = new LibraryPanel({
      codec: options.codec,
      session,
      player: () => this.#player,
      offline: () => this.#connection !== "connected",
      notice,
      memory: options.memory,
      following: () => this.#watch.following !== undefined,
      played: () => this.#watch.leave(),
      rejoinRoom: (room) => this.#watch.rejoin(room),
    });
    this.events = {
      joined: (name) => {
        this.#peers.joined(name);
        this.#rooms.render();
      },
      left: (name, reason) => {
        this.#peers.left(name, reason);
        this.#rooms.render();
      },
      message: (message) => this.#chat.received(message),
      warning: (text, code, from) => {
        console.warn(`${code}: ${text}`);
        this.#warning(text, code, from);
        // A room that stopped checking shows it (RoomBook marks it before it warns).
        this.#rooms.render();
      },
      roomChange: (room, _words, entry) => this.#rooms.changed(room, entry),
      roomMessage: (message) => this.#rooms.received(message),
      roomDelivered: (re, to) => this.#rooms.delivered(re, to),
      roomQueued: (re, to) => this.#rooms.queued(re, to),
      roomsListed: () => {
        this.#rooms.render();
        this.#session?.rooms.idle.then(() => this.#rooms.render());
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
      keyChanged: (name) => this.#peers.lookup(name),
      queueNotice: (kind, to, qseq) => this.#chat.queueNotice(kind, to, qseq),
      roomPlayback: (playback) => this.#watch.playback(playback),
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
        onPlaying: (playing) => {
          // A room's title is remembered with the room, for a refresh to follow it again.
          const room = this.#watch.following;
          this.#options.memory?.savePlaying(
            playing === undefined || room === undefined ? playing : { ...playing, room },
          );
        },
      });
    } else {
      this.#player.attach(session);
    }
    const own = formatFingerprint(await session.fingerprint(), 4);
    setText(byId("me", HTMLElement), `${showName(session.name ?? "")} · your key ${own}`);
    byId("app", HTMLElement).hidden = false;
    document.body.dataset.joined = session.name ?? "";
    this.#peers.reset(session.peers.names());
    this.#rooms.render();
    // The rooms listed after welcome may be checked already, or soon (roomsListed then renders).
    session.rooms.idle.then(() => this.#rooms.render());
    this.setConnection("connected");
    if (first) {
      this.#wireOnce();
      await this.#chat.showHistory();
      await this.#rooms.showHistory();
      this.notice(`Joined as ${showName(session.name ?? "")}`);
    } else {
      this.notice("Reconnected: you are back online");
      this.#watch.connected();
    }
    if (first && this.#options.codec !== "h264") {
      const note = byId("video-note", HTMLElement);
      setText(
        note,
        `This server streams ${this.#options.codec.toUpperCase()}: video in the page needs H.264 (the server's default). Chat works as usual.`,
      );
      note.hidden = false;
    }
    this.#library.resumeAfterJoin();
    await this.#library.refresh();
    // The room's "Watch together" lists the titles just listed.
    this.#rooms.render();
  }

  /** Leaves: says goodbye to the server (others see "quit"); the page stays as it is. */
  async leave(): Promise<void> {
    this.#leaving = true;
    await this.#session?.quit();
  }

  /** Wires the page's controls, once for all the sessions of this page. */
  #wireOnce() {
    this.#chat.wire();
    this.#rooms.wire();
    this.#watch.wire();
    this.#peers.wireVerify();
    byId("refresh", HTMLButtonElement).addEventListener("click", () => this.#library.refresh());
    // A tab that closes is a leave: say goodbye so others see "quit" rather than a drop.
    addEventListener("pagehide", () => void this.leave());
    // Back from the back-forward cache: that session ended at pagehide; start afresh.
    addEventListener("pageshow", (event) => {
      if (event.persisted) location.reload();
    });
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
    byId("room-send", HTMLButtonElement).disabled = offline;
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

  #warning(text: string, code: string, from?: string) {
    for (const line of this.#warnings.add({ text, code, from }, performance.now())) {
      // The warning itself in the page's words; a summary as the digest says it.
      this.notice(line === text ? warningWords(code) : line, "warn");
    }
  }

  #closed(info: ClosedInfo) {
    this.#library.stop();
    this.#player?.disconnected();
    this.#watch.disconnected();
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
