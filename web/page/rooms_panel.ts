/**
 * Rooms in the page (issue 20): the rooms beside the people, each with its unread count and, for
 * an invitation, who invited; a name field to create one; and the open room's view: its members
 * (the owner may remove one or hand the room over), Invite, Accept and Decline, Leave, and its
 * chat, where each checked membership change is a line and a message goes sealed to the members
 * of the checked chain (the client's `RoomBook`, the terminal's own). A room whose chain does not
 * check is shown read-only with a warning. The room's lines are kept across refreshes with the
 * conversation (`history_store.ts`). Rendering only ever sets untrusted text as text.
 * @module
 */

import type {
  ClientSession,
  IncomingRoomMessage,
  RoomSendOutcome,
  RoomView,
} from "../../client/session.ts";
import { formatFingerprint } from "../../protocol/e2e.ts";
import type { RoomEntry } from "../../protocol/room_chain.ts";
import { showName } from "../../protocol/shown_name.ts";
import { escapeName } from "../../protocol/text.ts";
import { appendItem, byId, el, setText } from "./dom.ts";
import { messageLines } from "./chat_panel.ts";
import { messageMeta, pageTitle, unreadBadge, type UnreadCounts } from "./chat_view.ts";
import type { HistoryEntry, HistoryStore } from "./history_store.ts";
import {
  invitationWords,
  roomBrokenWords,
  roomChangeWords,
  roomCheckWords,
  roomRole,
  roomSentWords,
} from "./room_words.ts";
import { consoleDetail, failureWords } from "./words.ts";

/** Options for {@linkcode RoomsPanel}. */
export interface RoomsPanelOptions {
  /** The session of the moment (none before the first join). */
  session: () => ClientSession | undefined;
  /** Unread counts, shared with 1:1 (a room's key is `#` and its id: no name starts with `#`). */
  unread: UnreadCounts;
  /** This name's conversation, encrypted at rest; rooms' lines carry the room's id. */
  history?: HistoryStore;
  /** Adds a notice to the page. */
  notice: (text: string, kind?: "info" | "warn") => void;
  /** Watching together: renders the open room's playback and its controls (room_watch.ts). */
  watch?: { render(room: RoomView | undefined): void };
}

/** The actions a room's view offers, by the op they sign. */
type Change = Exclude<RoomEntry["op"], "create" | "settings">;

/** The rooms list, the create form and the open room. */
export class RoomsPanel {
  readonly #options: RoomsPanelOptions;
  /** Each room's lines so far, by room id, oldest first. */
  readonly #lines = new Map<string, HTMLLIElement[]>();
  /** The open room's id. */
  #open?: string;
  /** Messages sent in this page's session whose receipts may still come, by request id. */
  readonly #sent = new Map<number, SentLine>();

  /** @param options The session, unread counts, the kept conversation and notices. */
  constructor(options: RoomsPanelOptions) {
    this.#options = options;
  }

  /** Wires the forms and buttons, once for all the sessions of this page. */
  wire(): void {
    byId("room-create-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      const input = byId("room-name", HTMLInputElement);
      const name = input.value.trim().replace(/^#/, "");
      if (name !== "") this.#create(name, input);
    });
    byId("room-invite-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      const who = byId("room-invite-who", HTMLSelectElement).value;
      if (who !== "") this.#change("invite", who);
    });
    byId("room-send-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      const input = byId("room-text", HTMLInputElement);
      if (input.value.trim() === "") return;
      this.#send(input.value);
      input.value = "";
    });
    byId("room-accept", HTMLButtonElement).addEventListener("click", () => this.#change("accept"));
    byId("room-decline", HTMLButtonElement).addEventListener(
      "click",
      () => this.#change("decline"),
    );
    byId("room-leave", HTMLButtonElement).addEventListener("click", () => this.#change("leave"));
    byId("room-close", HTMLButtonElement).addEventListener("click", () => this.#close());
    byId("room-check", HTMLButtonElement).addEventListener("click", () => this.#check());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.#open !== undefined) this.#read(this.#open);
    });
  }

  /** Shows the rooms' lines kept from before this page was loaded. */
  async showHistory(): Promise<void> {
    const entries = await this.#options.history?.load().catch((error) => {
      console.warn(consoleDetail(error));
      return [] as HistoryEntry[];
    }) ?? [];
    for (const entry of entries) {
      if (entry.room === undefined) continue;
      const item = keptItem(entry);
      item.classList.add("earlier");
      this.#add(entry.room, item, false);
    }
  }

  /**
   * A checked change: a line in its room, kept.
   *
   * @param room The room after it.
   * @param entry The change; none for the line that sums up a long history's earlier changes.
   */
  changed(room: RoomView, entry: RoomEntry | undefined): void {
    if (entry === undefined) return this.#earlier(room);
    const text = roomChangeWords(entry, this.#me());
    // Messages count unread, and an invitation to this person; other changes are only lines.
    const forMe = entry.op === "invite" && entry.subject === this.#me();
    this.#add(room.id, changeItem(text, entry.time), forMe);
    this.#options.history?.add({ dir: "change", peer: "", text, at: entry.time, room: room.id });
    if (entry.op === "invite" && entry.subject === this.#me()) {
      this.#options.notice(invitationWords(room, this.#me()));
    }
    this.render();
  }

  /** A long history met for the first time: its earlier changes summed up in one line. */
  #earlier(room: RoomView) {
    const text = EARLIER_CHANGES;
    const at = Date.now();
    this.#add(room.id, changeItem(text, at), false);
    this.#options.history?.add({ dir: "change", peer: "", text, at, room: room.id });
  }

  /**
   * A verified room message: shown in its room, counted unread unless the room is in view, kept.
   *
   * @param message The message.
   */
  received(message: IncomingRoomMessage): void {
    const item = el(
      "li",
      { attrs: { "data-from": message.from, "data-trust": message.trust } },
      messageLines(message),
    );
    item.append(messageMeta(new Date(message.sentAt), message.trust));
    this.#add(message.room, item, true);
    this.#options.history?.add({
      dir: "in",
      peer: message.from,
      text: message.text,
      at: message.sentAt,
      trust: message.trust,
      room: message.room,
    });
    this.render();
  }

  /** Renders the rooms list and the open room as the session's `RoomBook` has them. */
  render(): void {
    const book = this.#options.session()?.rooms;
    const rooms = (book?.list() ?? []).filter((room) => room.name !== "")
      .sort((a, b) => a.name.localeCompare(b.name));
    byId("rooms", HTMLElement).replaceChildren(...rooms.map((room) => this.#roomItem(room)));
    byId("rooms-empty", HTMLElement).hidden = rooms.length > 0;
    const open = rooms.find((room) => room.id === this.#open);
    if (open !== undefined) this.#renderOpen(open);
    this.#options.watch?.render(open);
  }

  /**
   * A line in a room's chat that is not a message: watching together's "alice paused".
   *
   * @param room The room's id.
   * @param text The line (set as text).
   */
  line(room: string, text: string): void {
    this.#add(room, changeItem(text, Date.now()), false);
  }

  #me(): string {
    return this.#options.session()?.name ?? "";
  }

  #roomItem(room: RoomView): HTMLLIElement {
    const role = roomRole(room, this.#me());
    const button = el("button", {
      className: "room-open",
      text: `#${room.name}`,
      attrs: {
        type: "button",
        "aria-current": String(room.id === this.#open),
        "aria-label": `Open #${room.name}`,
      },
    });
    button.addEventListener("click", () => this.#show(room.id));
    const words = room.broken !== undefined
      ? "⚠ read-only"
      : role === "invited"
      ? invitationWords(room, this.#me()).replace(/ to #.*$/, "")
      : role === "out"
      ? "not a member"
      : `${room.members.length} member${room.members.length === 1 ? "" : "s"}${
        role === "owner" ? " · yours" : ""
      }`;
    return el("li", {
      attrs: { "data-room": room.name, "data-role": role, ...brokenAttr(room) },
    }, [
      button,
      ...unreadBadge(this.#options.unread.of(`#${room.id}`)),
      el("span", { className: "room-role", text: words }),
    ]);
  }

  #show(id: string) {
    this.#open = id;
    byId("room-checked", HTMLElement).hidden = true;
    byId("room", HTMLElement).hidden = false;
    byId("room-messages", HTMLElement).replaceChildren(...this.#lines.get(id) ?? []);
    this.#read(id);
    this.render();
    byId("room-heading", HTMLElement).focus();
  }

  #close() {
    const id = this.#open;
    this.#open = undefined;
    byId("room", HTMLElement).hidden = true;
    this.render();
    // The focus goes back to the room's entry in the list, not to the top of the page.
    const name = this.#options.session()?.rooms.list().find((room) => room.id === id)?.name;
    if (name !== undefined) {
      document.querySelector<HTMLElement>(
        `#rooms li[data-room="${CSS.escape(name)}"] button.room-open`,
      )?.focus();
    }
  }

  #read(id: string) {
    if (this.#options.unread.read(`#${id}`)) {
      document.title = pageTitle(this.#options.unread.total);
      this.render();
    }
  }

  /** Adds a line to a room's chat (and to the view, if it is open); counts it unless read. */
  #add(room: string, item: HTMLLIElement, count: boolean) {
    const lines = this.#lines.get(room) ?? [];
    lines.push(item);
    if (lines.length > 500) lines.shift();
    this.#lines.set(room, lines);
    if (room === this.#open) appendItem(byId("room-messages", HTMLElement), item);
    const reading = room === this.#open && !document.hidden;
    if (count && !reading) {
      this.#options.unread.received(`#${room}`, { selected: "", hidden: false, fullscreen: false });
      document.title = pageTitle(this.#options.unread.total);
    }
  }

  #renderOpen(room: RoomView) {
    const me = this.#me();
    const role = roomRole(room, me);
    setText(byId("room-heading", HTMLElement), `#${room.name}`);
    const fingerprint = byId("room-fingerprint", HTMLElement);
    fingerprint.textContent = room.head === ""
      ? ""
      : `Room fingerprint at change ${room.seq}: ${formatFingerprint(toHex(room.head), 4)}`;
    const broken = byId("room-broken", HTMLElement);
    broken.hidden = room.broken === undefined;
    if (room.broken !== undefined) setText(broken, roomBrokenWords(room.broken));
    byId("room-check", HTMLButtonElement).hidden = room.broken === undefined;
    const usable = room.broken === undefined;
    const invitation = byId("room-invitation", HTMLElement);
    invitation.hidden = !(usable && role === "invited");
    setText(byId("room-invitation-text", HTMLElement), invitationWords(room, me));
    byId("room-members", HTMLElement).replaceChildren(
      ...room.members.map((name) => this.#memberItem(room, name, usable && role === "owner")),
      ...room.invitees.map((name) =>
        el("li", { attrs: { "data-member": name, "data-invited": "true" } }, [
          el("span", { className: "name", text: escapeName(name) }),
          el("span", { className: "room-role", text: "invited" }),
        ])
      ),
    );
    const member = usable && (role === "owner" || role === "member");
    byId("room-invite-form", HTMLFormElement).hidden = !member;
    this.#renderInviteChoice(room);
    byId("room-leave", HTMLButtonElement).hidden = !member;
    byId("room-send-form", HTMLFormElement).hidden = !member;
    const out = byId("room-out", HTMLElement);
    out.hidden = !(usable && role === "out");
  }

  #memberItem(room: RoomView, name: string, owner: boolean): HTMLLIElement {
    const children: Node[] = [
      el("span", { className: "name", text: escapeName(name) }),
      el("span", {
        className: "room-role",
        text: name === room.owner ? "owner" : name === this.#me() ? "you" : "member",
      }),
    ];
    if (owner && name !== this.#me()) {
      const shown = showName(name);
      const remove = el("button", {
        text: "Remove",
        attrs: { type: "button", class: "remove", "aria-label": `Remove ${shown}` },
      });
      remove.addEventListener("click", () => this.#change("remove", name));
      const hand = el("button", {
        text: "Make owner",
        attrs: { type: "button", class: "handover", "aria-label": `Make ${shown} the owner` },
      });
      hand.addEventListener("click", () => this.#change("handover", name));
      children.push(remove, hand);
    }
    return el("li", { attrs: { "data-member": name } }, children);
  }

  /** The people online who are neither members nor invited. */
  #renderInviteChoice(room: RoomView) {
    const select = byId("room-invite-who", HTMLSelectElement);
    const chosen = select.value;
    const online = [...this.#options.session()?.peers.names() ?? []]
      .filter((name) => !room.members.includes(name) && !room.invitees.includes(name))
      .sort((a, b) => a.localeCompare(b));
    select.replaceChildren(
      ...online.map((name) => el("option", { text: showName(name), attrs: { value: name } })),
    );
    if (online.includes(chosen)) select.value = chosen;
    byId("room-invite", HTMLButtonElement).disabled = online.length === 0;
  }

  #create(name: string, input: HTMLInputElement) {
    const book = this.#options.session()?.rooms;
    if (book === undefined) return;
    book.create(name).then((room) => {
      input.value = "";
      this.#show(room.id);
    }, (error) => this.#failed(`Cannot create #${name}`, error));
  }

  #change(op: Change, subject?: string) {
    const book = this.#options.session()?.rooms;
    const room = book?.list().find((r) => r.id === this.#open);
    if (book === undefined || room === undefined) return;
    book.change(room.name, { op, ...(subject === undefined ? {} : { subject }) }).then(
      () => this.render(),
      (error) => this.#failed(`Cannot ${ACTION_WORDS[op]} in #${room.name}`, error),
    );
  }

  /** "Check again": fetches the open room's history from the start and says what it found. */
  #check() {
    const book = this.#options.session()?.rooms;
    const room = book?.list().find((r) => r.id === this.#open);
    if (book === undefined || room === undefined) return;
    const button = byId("room-check", HTMLButtonElement);
    button.disabled = true;
    book.check(room.name).then((checked) => {
      const said = byId("room-checked", HTMLElement);
      setText(said, roomCheckWords(checked.still));
      said.hidden = false;
    }, (error) => this.#failed(`Cannot check #${room.name} again`, error)).finally(() => {
      button.disabled = false;
      this.render();
    });
  }

  #send(text: string) {
    const book = this.#options.session()?.rooms;
    const room = book?.list().find((r) => r.id === this.#open);
    if (book === undefined || room === undefined) return;
    const at = Date.now();
    const item = sentItem(text, "sending…", at);
    const state = item.querySelector(".state")!;
    this.#add(room.id, item, false);
    book.sendText(room.name, text).then((sent) => {
      setText(state, roomSentWords(sent));
      // "delivered" once every member it went to or waits for confirmed; none is done at once.
      const awaited = sent.relayed.length + sent.queued.length;
      item.dataset.state = sent.relayed.length > 0
        ? "sent"
        : sent.queued.length > 0
        ? "queued"
        : "delivered";
      for (const refused of sent.refused) console.warn(refused.message);
      const line: SentLine = { item, outcome: sent, delivered: [] };
      if (sent.re !== undefined && awaited > 0) this.#remember(sent.re, line);
      const words = roomSentWords(sent);
      this.#options.history?.add({ dir: "out", peer: "", text, at, state: words, room: room.id });
    }, (error) => {
      console.warn(consoleDetail(error));
      setText(state, failureWords("not sent", error));
      state.classList.add("warn");
      item.dataset.state = "failed";
    });
  }

  /**
   * A member's receipt for a message this page sent: its line says so.
   *
   * @param re The `room-send` request's id.
   * @param to The member whose client opened it.
   */
  delivered(re: number, to: string): void {
    const line = this.#sent.get(re);
    if (line === undefined || line.delivered.includes(to)) return;
    const { relayed, queued } = line.outcome;
    if (!relayed.includes(to) && !queued.includes(to)) return;
    line.delivered.push(to);
    setText(line.item.querySelector(".state")!, roomSentWords({ ...line.outcome, ...line }));
    if (line.delivered.length >= relayed.length + queued.length) {
      line.item.dataset.state = "delivered";
      this.#sent.delete(re);
    }
  }

  /**
   * A member this page's message was handed to through the cluster was offline (issue 20): its
   * line says it is queued for them until their receipt comes.
   *
   * @param re The `room-send` request's id.
   * @param to The member.
   */
  queued(re: number, to: string): void {
    const line = this.#sent.get(re);
    if (line === undefined || line.delivered.includes(to)) return;
    const { relayed, queued } = line.outcome;
    if (!relayed.includes(to)) return;
    line.outcome = {
      ...line.outcome,
      relayed: relayed.filter((name) => name !== to),
      queued: [...queued, to],
    };
    setText(line.item.querySelector(".state")!, roomSentWords({ ...line.outcome, ...line }));
    const waiting = line.outcome.relayed.filter((name) => !line.delivered.includes(name));
    if (waiting.length === 0) line.item.dataset.state = "queued";
  }

  #remember(re: number, line: SentLine) {
    this.#sent.set(re, line);
    // Receipts that never come (a member gone) must not hold lines for ever.
    if (this.#sent.size > 200) this.#sent.delete(this.#sent.keys().next().value!);
  }

  #failed(action: string, error: unknown) {
    console.warn(consoleDetail(error));
    this.#options.notice(failureWords(action, error), "warn");
    this.render();
  }
}

/** The line that stands for a long history's earlier changes (the client shows the last few). */
export const EARLIER_CHANGES =
  "Earlier changes are not shown one by one: the members are listed above";

/** A message this page sent to a room, awaiting its members' receipts. */
interface SentLine {
  item: HTMLLIElement;
  outcome: RoomSendOutcome;
  delivered: string[];
}

/** What each action is called in a failure's sentence. */
const ACTION_WORDS: Record<Change, string> = {
  invite: "invite",
  accept: "accept the invitation",
  decline: "decline the invitation",
  leave: "leave",
  remove: "remove a member",
  handover: "hand the room over",
};

function brokenAttr(room: RoomView): Record<string, string> {
  return room.broken === undefined ? {} : { "data-broken": "true" };
}

/** A membership change's line. */
function changeItem(text: string, at: number): HTMLLIElement {
  return el("li", { className: "change", attrs: { "data-change": "" } }, [
    el("span", { className: "text", text }),
    messageMeta(new Date(at)),
  ]);
}

/** A sent message's line, its state after the text. */
function sentItem(text: string, state: string, at: number): HTMLLIElement {
  return el("li", { attrs: { "data-to": "room" } }, [
    el("span", { className: "from", text: "You: " }),
    el("span", { className: "text", text }),
    el("span", { className: "state", text: state }),
    messageMeta(new Date(at)),
  ]);
}

/** A kept line, as it was shown. */
function keptItem(entry: HistoryEntry): HTMLLIElement {
  if (entry.dir === "change") return changeItem(entry.text, entry.at);
  if (entry.dir === "out") return sentItem(entry.text, entry.state ?? "", entry.at);
  const trust = entry.trust ?? "new";
  const item = el(
    "li",
    { attrs: { "data-from": entry.peer, "data-trust": trust } },
    messageLines({ from: entry.peer, text: entry.text, sentAt: entry.at, trust }),
  );
  item.append(messageMeta(new Date(entry.at), trust));
  return item;
}

function toHex(base64: string): string {
  try {
    return Uint8Array.fromBase64(base64).toHex();
  } catch {
    return "";
  }
}
