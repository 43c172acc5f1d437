/**
 * Who this client is and who is online: registration (`hello` with a proof over the server's
 * challenge, answered by `welcome` or an error) and the peers the server announces, bounded.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import { exportPublicKeys, type Identity, signChallenge } from "../../protocol/e2e.ts";
import {
  type ClientMessage,
  type LeaveReason,
  type PeerReachability,
  PROTOCOL_VERSION,
  type WelcomeMessage,
} from "../../protocol/messages.ts";
import { normalizeName } from "../../protocol/names.ts";
import { PeerList } from "../peers.ts";

/** Options for {@linkcode Roster}. */
export interface RosterOptions {
  /** The server's challenge, from its greeting (base64). */
  challenge: string;
  /** Peers remembered from the server's announcements. */
  maxPeers: number;
  /** Sends `hello`. */
  send(message: ClientMessage): void;
  /**
   * Why the connection is gone (`""` when not known yet), or undefined while it is up: a `hello`
   * into a closed connection would wait for ever.
   */
  lost(): string | undefined;
  /** A peer came online (at welcome, or joined): check a remembered key. */
  online(name: string): void;
  /** A peer joined. */
  joined?(name: string): void;
  /** A peer left. */
  left?(name: string, reason: LeaveReason): void;
  /** Listed peers became unreachable, or reachable again. */
  peerState?(names: string[], state: PeerReachability): void;
  /** The server announced more peers than the bound. */
  warning?(text: string, code: ErrorCode): void;
}

interface Registering {
  name: string;
  identity: Identity;
  resolve: (m: WelcomeMessage) => void;
  reject: (e: Error) => void;
}

/** This client's registration and the peers online. */
export class Roster {
  readonly #options: RosterOptions;
  /** The peers online, as the server announced them. */
  readonly peers: PeerList = new PeerList();
  /** A `hello` waiting for its answer. */
  #registering?: Registering;
  #identity?: Identity;
  #name?: string;
  #fullWarned = false;

  /** @param options The challenge, the bound, and callbacks. */
  constructor(options: RosterOptions) {
    this.#options = options;
  }

  /** The registered name, once welcomed. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The key pairs, once welcomed. */
  get identity(): Identity | undefined {
    return this.#identity;
  }

  /**
   * Sends `hello` and waits for `welcome`.
   *
   * @param name The name to register.
   * @param identity The key pairs.
   * @param options `ephemeral`: the server holds the name only while this connection lasts.
   * @returns The welcome.
   * @throws {PeerstreamError} `NAME_INVALID`; `UNAVAILABLE` when the connection is gone; the
   * server's code; `BAD_MESSAGE` when another name
   * is welcomed.
   */
  async register(
    name: string,
    identity: Identity,
    options: { ephemeral?: boolean } = {},
  ): Promise<WelcomeMessage> {
    let normalized: string;
    try {
      normalized = normalizeName(name);
    } catch (error) {
      throw new PeerstreamError("NAME_INVALID", (error as Error).message);
    }
    const keys = await exportPublicKeys(identity);
    const challenge = Uint8Array.fromBase64(this.#options.challenge);
    const proof = await signChallenge(identity, challenge, normalized);
    // Checked after signing, which takes a while: the connection may have ended meanwhile.
    const lost = this.#options.lost();
    if (lost !== undefined) {
      const why = lost === "" ? "" : ` (${lost})`;
      throw new PeerstreamError(
        "UNAVAILABLE",
        `Cannot register: not connected to the server${why}; reconnect`,
      );
    }
    const answer = new Promise<WelcomeMessage>((resolve, reject) => {
      this.#registering = { name: normalized, identity, resolve, reject };
    });
    this.#options.send({
      type: "hello",
      version: PROTOCOL_VERSION,
      name: normalized,
      encKey: keys.encKey,
      signKey: keys.signKey,
      proof: proof.toBase64(),
      ...(options.ephemeral ? { ephemeral: true } : {}),
    });
    return await answer;
  }

  /**
   * Fails a registration that waits (a refusal, or the connection is gone).
   *
   * @param error What `register` rejects with.
   * @returns False when none waits.
   */
  fail(error: Error): boolean {
    const registering = this.#registering;
    this.#registering = undefined;
    registering?.reject(error);
    return registering !== undefined;
  }

  /**
   * Applies the answer to `hello` at once, in the read loop: whatever followed it in the same
   * read (a joiner, a message sent the moment this client joined) finds it registered.
   *
   * @param welcome The server's `welcome`; ignored when no registration waits.
   */
  welcomed(welcome: WelcomeMessage): void {
    const registering = this.#registering;
    if (registering === undefined) return;
    this.#registering = undefined;
    if (welcome.name !== registering.name) {
      registering.reject(
        new PeerstreamError(
          "BAD_MESSAGE",
          `The server welcomed ${
            JSON.stringify(welcome.name)
          } instead of "${registering.name}"; it may be misbehaving`,
        ),
      );
      return;
    }
    this.#identity = registering.identity;
    this.#name = welcome.name;
    // Peers on a server that cannot be reached now are online too: listed, and said so.
    const unreachable = welcome.unreachable ?? [];
    this.peers.reset(welcome.name, this.#bounded([...welcome.peers, ...unreachable]));
    for (const peer of this.peers.names()) this.#options.online(peer);
    const shown = unreachable.filter((n) => this.peers.has(n));
    if (shown.length > 0) this.#options.peerState?.(shown, "unreachable");
    registering.resolve(welcome);
  }

  /**
   * A peer joined.
   *
   * @param name The peer.
   */
  joined(name: string): void {
    if (this.peers.size >= this.#options.maxPeers) return this.#warnFull();
    if (this.peers.joined(name)) {
      this.#options.joined?.(name);
      this.#options.online(name);
    }
  }

  /**
   * A peer left.
   *
   * @param name The peer.
   * @param reason Why.
   */
  left(name: string, reason: LeaveReason): void {
    if (this.peers.left(name)) this.#options.left?.(name, reason);
  }

  /**
   * Peers became unreachable or reachable again; only those listed here are told of.
   *
   * @param names The peers.
   * @param state Their state.
   */
  peerState(names: readonly string[], state: PeerReachability): void {
    // Only peers this client lists: they stay online, reachable or not.
    const listed = names.filter((n) => this.peers.has(n));
    if (listed.length > 0) this.#options.peerState?.(listed, state);
  }

  #bounded(names: readonly string[]): readonly string[] {
    if (names.length <= this.#options.maxPeers) return names;
    this.#warnFull();
    return names.slice(0, this.#options.maxPeers);
  }

  #warnFull() {
    if (this.#fullWarned) return;
    this.#fullWarned = true;
    this.#options.warning?.(
      `The server announced more than ${this.#options.maxPeers} peers; ignoring the rest, it may be misbehaving`,
      "BAD_MESSAGE",
    );
  }
}
