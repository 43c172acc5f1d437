/**
 * The people online: each peer's name with its marks, fingerprint and key trust (decided on first
 * use), the key's Verify dialog and Accept new key. Rendering only ever sets untrusted text as
 * text.
 * @module
 */

import { formatFingerprint } from "../../protocol/e2e.ts";
import type { LeaveReason } from "../../protocol/messages.ts";
import type { KeyTrust } from "../../client/known_peers.ts";
import type { ClientSession } from "../../client/session.ts";
import {
  followsNameRules,
  GRANDFATHERED_HINT,
  GRANDFATHERED_MARK,
  showName,
} from "../../protocol/shown_name.ts";
import { escapeName } from "../../protocol/text.ts";
import { byId, el, setText } from "./dom.ts";
import { unreadBadge, type UnreadCounts } from "./chat_view.ts";
import { consoleDetail, failureWords, keyChangedWords, verifyWords } from "./words.ts";

/** What the page knows of a peer. */
interface PeerView {
  fingerprint?: string;
  trust?: KeyTrust;
  lookalike?: string;
}

/** Options for {@linkcode PeersPanel}. */
export interface PeersPanelOptions {
  /** The session of the moment (none before the first join). */
  session: () => ClientSession | undefined;
  /** Adds a notice to the page. */
  notice: (text: string, kind?: "info" | "warn") => void;
  /** Messages not yet seen, per peer: each peer's badge. */
  unread: UnreadCounts;
}

/** The list of peers and the recipient choice, with their keys' fingerprints and trust. */
export class PeersPanel {
  readonly #options: PeersPanelOptions;
  #peers = new Map<string, PeerView>();

  /** @param options The session, notices and unread counts. */
  constructor(options: PeersPanelOptions) {
    this.#options = options;
  }

  /**
   * Shows presence as a new session has it: these peers and no others, each key looked up.
   *
   * @param names The peers online.
   */
  reset(names: Iterable<string>): void {
    this.#peers.clear();
    for (const name of names) this.joined(name, false);
    this.render();
  }

  /**
   * A peer joined: shown, and its key looked up.
   *
   * @param name The peer.
   * @param announce Whether to add a notice.
   */
  joined(name: string, announce = true): void {
    this.#peers.set(name, this.#peers.get(name) ?? {});
    if (announce) this.#options.notice(`${showName(name)} joined`);
    this.render();
    this.lookup(name);
  }

  /**
   * A peer left.
   *
   * @param name The peer.
   * @param reason Why.
   */
  left(name: string, reason: LeaveReason): void {
    this.#peers.delete(name);
    this.#options.notice(`${showName(name)} left (${reason})`);
    this.render();
  }

  /**
   * Gets a peer's key: its fingerprint is shown, and trust on first use is decided now.
   *
   * @param name The peer.
   */
  lookup(name: string): void {
    const { notice } = this.#options;
    this.#options.session()?.peerKeys(name).then(
      (keys) => {
        const view = this.#peers.get(name);
        if (view === undefined) return;
        const wasChanged = view.trust === "changed";
        view.fingerprint = keys.fingerprint;
        view.trust = keys.trust;
        if (keys.trust === "changed" && !wasChanged) notice(keyChangedWords(name), "warn");
        this.render();
      },
      (error) => {
        console.warn(consoleDetail(error));
        notice(
          failureWords(`Cannot get the key of ${showName(name)}`, error, { peer: name }),
          "warn",
        );
      },
    );
  }

  /** Renders the peers and the recipient choice, keeping the chosen recipient. */
  render(): void {
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
      ...unreadBadge(this.#options.unread.of(name)),
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
    if (this.#options.session()?.acceptKey(name)) {
      this.#options.notice(`Accepted the new key of ${showName(name)}`);
      this.lookup(name);
    }
  }

  /** Wires the Verify dialog's buttons, once for all the sessions of this page. */
  wireVerify(): void {
    const dialog = byId("verify-dialog", HTMLDialogElement);
    byId("verify-close", HTMLButtonElement).addEventListener("click", () => dialog.close());
    byId("verify-yes", HTMLButtonElement).addEventListener("click", () => {
      const name = dialog.dataset.peer ?? "";
      const fingerprint = this.#peers.get(name)?.fingerprint;
      if (fingerprint !== undefined && this.#options.session()?.verifyKey(name, fingerprint)) {
        this.#peers.get(name)!.trust = "verified";
        this.#options.notice(`Marked the key of ${showName(name)} verified ✓`);
        this.render();
      } else {
        this.#options.notice(
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
    this.#options.session()?.fingerprint().then((own) => {
      byId("verify-mine", HTMLElement).textContent = formatFingerprint(own);
    }, () => {});
    dialog.showModal();
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
