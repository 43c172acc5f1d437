/**
 * The inbox: delivered messages opened (verified, replays refused by the replay guard), each
 * answered with a receipt. One sender's messages are opened in order, one by one; different
 * senders' do not wait for each other, so that a sender whose keys must first be looked up (a
 * round trip to the server, seconds on a loaded one, once per new sender of a flood) holds no
 * one else's receipt, nor the server's window of messages in flight to this client (issue 16).
 * What it holds unopened is bounded: past the bound, or for a body larger than any sealed message,
 * a message is refused at once (the sender learns why).
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import { type Identity, open } from "../../protocol/e2e.ts";
import { type ClientMessage, MAX_SEALED_BYTES } from "../../protocol/messages.ts";
import type { ReplayGuard } from "../../protocol/replay.ts";
import type { KeyTrust } from "../known_peers.ts";
import type { TrustedKeys } from "./keys.ts";

/** A verified incoming message. */
export interface IncomingMessage {
  /** The sender, verified by signature. */
  from: string;
  /** The text. */
  text: string;
  /** When it was sealed. */
  sentAt: number;
  /** Trust in the sender's key. */
  trust: KeyTrust;
  /** A known peer whose name the sender's looks like (flag it unless verified). */
  lookalike?: string;
  /** It waited on the server while this client was offline (sent earlier, at `sentAt`). */
  queued?: boolean;
}

/** Who this client is, once registered. */
export interface InboxSelf {
  /** The registered name. */
  name: string;
  /** Its key pairs. */
  identity: Identity;
}

/** Options for {@linkcode Inbox}. */
export interface InboxOptions {
  /** Messages held unopened. */
  maxInbox: number;
  /** Bytes of messages held unopened. */
  maxInboxBytes: number;
  /** Refuses replays. */
  replay: ReplayGuard;
  /** Who this client is; undefined before registration (messages are ignored then). */
  self(): InboxSelf | undefined;
  /** A sender's keys. */
  keys(name: string): Promise<TrustedKeys>;
  /** Sends a receipt. */
  send(message: ClientMessage): void;
  /** A message was opened and verified. */
  message?(message: IncomingMessage): void;
  /** A message was refused; `from` names the sender when it is about one. */
  warning?(text: string, code: ErrorCode, from?: string): void;
  /**
   * `message` or `warning` threw: the inbox goes on (the receipt is sent already, the sender's
   * next message is opened), and the error is handed here. @default {console.error}
   */
  failed?(error: unknown): void;
}

/** Delivered messages, each sender's opened in order. */
export class Inbox {
  readonly #options: InboxOptions;
  /** Per sender with messages held, the end of its chain of openings. */
  readonly #chains = new Map<string, Promise<void>>();
  #count = 0;
  #bytes = 0;
  #fullWarned = false;

  /** @param options Bounds, the replay guard and callbacks. */
  constructor(options: InboxOptions) {
    this.#options = options;
  }

  /** Messages held unopened. */
  get count(): number {
    return this.#count;
  }

  /** Resolves once every message taken so far is opened (or refused). */
  get idle(): Promise<void> {
    return Promise.all(this.#chains.values()).then(() => {});
  }

  /**
   * Takes a delivered message; it is opened after those of the same sender before it.
   *
   * @param rid The relay id its receipt names.
   * @param from The sender, as the server gave it.
   * @param body The sealed message.
   */
  deliver(rid: string, from: string, body: Uint8Array, queued = false): void {
    const { maxInbox, maxInboxBytes } = this.#options;
    if (this.#options.self() === undefined) return;
    if (body.length > MAX_SEALED_BYTES) {
      this.#options.send({ type: "receipt", rid, ok: false, code: "BAD_MESSAGE" });
      this.#tell(() =>
        this.#options.warning?.(
          `Rejected a message from "${from}": ${body.length} bytes exceeds the ${MAX_SEALED_BYTES}-byte limit of a sealed message; the server should not have relayed it`,
          "BAD_MESSAGE",
          from,
        )
      );
      return;
    }
    if (this.#count >= maxInbox || this.#bytes + body.length > maxInboxBytes) {
      this.#options.send({ type: "receipt", rid, ok: false, code: "INBOX_FULL" });
      if (!this.#fullWarned) {
        this.#fullWarned = true;
        this.#tell(() =>
          this.#options.warning?.(
            `Refusing messages: this client holds ${this.#count} unopened messages (${this.#bytes} bytes), its limit (INBOX_FULL); the server may be flooding it`,
            "INBOX_FULL",
          )
        );
      }
      return;
    }
    this.#count++;
    this.#bytes += body.length;
    const chain = (this.#chains.get(from) ?? Promise.resolve())
      .then(() => this.#open(rid, from, body, queued))
      .finally(() => {
        this.#count--;
        this.#bytes -= body.length;
        if (this.#count < maxInbox / 2) this.#fullWarned = false;
        if (this.#chains.get(from) === chain) this.#chains.delete(from);
      });
    this.#chains.set(from, chain);
  }

  async #open(rid: string, from: string, body: Uint8Array, queued: boolean) {
    const self = this.#options.self();
    if (self === undefined) return;
    try {
      const sender = await this.#options.keys(from);
      const opened = await open(body, {
        from,
        me: self.name,
        identity: self.identity,
        sender,
        replay: this.#options.replay,
      });
      this.#options.send({ type: "receipt", rid, ok: true });
      this.#tell(() =>
        this.#options.message?.({
          ...opened,
          ...(queued ? { queued } : {}),
          trust: sender.trust,
          ...(sender.lookalike === undefined ? {} : { lookalike: sender.lookalike }),
        })
      );
    } catch (error) {
      const code = error instanceof PeerstreamError ? error.code : "DECRYPT_FAILED";
      if (queued && code === "REPLAYED") {
        // A queued message sent again (its receipt was lost, say in a crash): shown already,
        // so confirmed without showing it twice (docs/PROTOCOL.md, sealed offline delivery).
        this.#options.send({ type: "receipt", rid, ok: true });
        return;
      }
      const text = error instanceof Error ? error.message : String(error);
      this.#options.send({ type: "receipt", rid, ok: false, code });
      this.#tell(() => this.#options.warning?.(text, code, from));
    }
  }

  /** Runs a callback; what it throws is not the message's fault, nor the next one's. */
  #tell(callback: () => void) {
    try {
      callback();
    } catch (error) {
      (this.#options.failed ?? console.error)(error);
    }
  }
}
