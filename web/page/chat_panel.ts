/**
 * The conversation: sending (its state shown after the text: sending, delivered, or why not),
 * received messages with their sender's marks, the conversation kept from before, and reading a
 * peer's unread messages. Rendering only ever sets untrusted text as text.
 * @module
 */

import type { ClientSession, IncomingMessage } from "../../client/session.ts";
import { showName } from "../../protocol/shown_name.ts";
import { CONTINUATION, escapeName } from "../../protocol/text.ts";
import { appendItem, byId, el, setText } from "./dom.ts";
import { messageMeta, pageTitle, type UnreadCounts } from "./chat_view.ts";
import type { HistoryEntry, HistoryStore } from "./history_store.ts";
import { grandfatheredMark, trustMark } from "./peers_panel.ts";
import { consoleDetail, errorCode, reasonWords } from "./words.ts";

/** Options for {@linkcode ChatPanel}. */
export interface ChatPanelOptions {
  /** The session of the moment (none before the first join). */
  session: () => ClientSession | undefined;
  /** This name's conversation, encrypted at rest. */
  history?: HistoryStore;
  /** Messages not yet seen, per peer. */
  unread: UnreadCounts;
  /** Renders the peers again (their unread badges changed). */
  renderPeers: () => void;
  /** Looks a peer's key up again (a message was refused for a changed key). */
  lookup: (name: string) => void;
  /** Shows a notice in the page's notice area. */
  notice: (text: string) => void;
}

/** The messages list and the send form. */
export class ChatPanel {
  readonly #options: ChatPanelOptions;

  /** @param options The session, the kept conversation, unread counts and the peers' panel. */
  constructor(options: ChatPanelOptions) {
    this.#options = options;
  }

  /** Wires the send form and reading, once for all the sessions of this page. */
  wire(): void {
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
    if (document.fullscreenElement === null && this.#options.unread.read(selected)) {
      this.#showUnread();
    }
  }

  #showUnread() {
    document.title = pageTitle(this.#options.unread.total);
    this.#options.renderPeers();
  }

  #send(to: string, text: string) {
    const { history } = this.#options;
    const at = Date.now();
    const item = sentItem(to, text, "sending…", at);
    const state = item.querySelector(".state")!;
    appendItem(byId("messages", HTMLElement), item);
    this.#options.session()!.sendText(to, text).then((sent) => {
      if (sent.queued) {
        // Kept on the server: "delivered" comes with a queue notice, maybe after a reload.
        setText(state, queuedWords(to));
        item.dataset.state = "queued";
        item.dataset.qseq = String(sent.qseq);
        return;
      }
      state.textContent = "delivered";
      item.dataset.state = "delivered";
      history?.add({ dir: "out", peer: to, text, at, state: "delivered" });
    }, (error) => {
      console.warn(consoleDetail(error));
      setText(state, `not delivered: ${reasonWords(errorCode(error), { peer: to })}`);
      state.classList.add("warn");
      item.dataset.state = errorCode(error);
      history?.add({ dir: "out", peer: to, text, at, state: errorCode(error) });
      if (errorCode(error) === "KEY_CHANGED") this.#options.lookup(to);
    });
  }

  /**
   * A message queued for someone offline was opened by them, or expired unread.
   *
   * @param kind What became of it.
   * @param to Its recipient.
   * @param qseq Its place in the recipient's queue.
   */
  queueNotice(kind: "delivered" | "expired", to: string, qseq: number): void {
    const item = byId("messages", HTMLElement).querySelector<HTMLElement>(
      `li[data-state="queued"][data-qseq="${qseq}"][data-to="${CSS.escape(to)}"]`,
    );
    const words = kind === "delivered"
      ? "delivered"
      : "not delivered: it waited longer than the server keeps messages";
    if (item === null) {
      this.#options.notice(`A message you queued for ${showName(to)}: ${words}`);
      return;
    }
    setText(item.querySelector(".state")!, words);
    item.dataset.state = kind;
  }

  /** Shows the conversation kept from before this page was loaded. */
  async showHistory(): Promise<void> {
    const entries = await this.#options.history?.load().catch((error) => {
      console.warn(consoleDetail(error));
      return [] as HistoryEntry[];
    }) ?? [];
    const list = byId("messages", HTMLElement);
    for (const entry of entries) {
      // A room's lines are the rooms panel's (rooms_panel.ts).
      if (entry.room !== undefined || entry.dir === "change") continue;
      let item: HTMLLIElement;
      if (entry.dir === "out") {
        const delivered = entry.state === "delivered";
        const state = delivered
          ? "delivered"
          : `not delivered: ${reasonWords(entry.state ?? "", { peer: entry.peer })}`;
        item = sentItem(entry.peer, entry.text, state, entry.at);
        item.dataset.state = entry.state ?? "";
      } else {
        item = receivedItem({
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

  /**
   * Shows a received message, counts it unread unless its conversation is in view, and keeps it.
   *
   * @param message The message, opened and verified.
   */
  received(message: IncomingMessage): void {
    appendItem(byId("messages", HTMLElement), receivedItem(message, new Date()));
    const counted = this.#options.unread.received(message.from, {
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
}

/** A sent message's item, its state shown after the text, its time under it. */
function sentItem(to: string, text: string, state: string, at: number): HTMLLIElement {
  return el("li", { attrs: { "data-to": to } }, [
    el("span", { className: "from", text: `to ${showName(to)}: ` }),
    el("span", { className: "text", text }),
    el("span", { className: "state", text: state }),
    messageMeta(new Date(at)),
  ]);
}

/** A received message's item: its lines, then its time and the sender's key state. */
function receivedItem(message: IncomingMessage, at: Date): HTMLLIElement {
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

/**
 * What a sent message shows while it waits on the server for its offline recipient.
 *
 * @param to The recipient.
 * @returns The words.
 */
export function queuedWords(to: string): string {
  return `queued for ${showName(to)} (offline)`;
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
