/**
 * Presence: who is online, announced to everyone. It joins a verified client to the directory,
 * tells the others, and tells them when it leaves. The cluster issue puts this behind an interface
 * shared by nodes; nothing else in the server reaches the directory's online table directly.
 * @module
 */

import { encodeMessage, type WelcomeMessage } from "../protocol/messages.ts";
import type { PublicKeysText } from "../protocol/e2e.ts";
import type { ServerClient } from "./client.ts";
import type { Directory } from "./directory.ts";
import type { VerifiedHello } from "./handshake.ts";

/** Options for {@linkcode Presence.join}. */
export interface JoinOptions {
  /** The largest sealed body the server takes, told in `welcome`. */
  maxSealedBytes: number;
  /** Asked before a new name binding is made; false refuses it with `NAME_LIMIT`. */
  canBind?: () => boolean;
}

/** Who is online, and the announcements. */
export class Presence {
  readonly #directory: Directory<ServerClient>;

  /** @param directory The names and bindings. */
  constructor(directory: Directory<ServerClient>) {
    this.#directory = directory;
  }

  /** Name to signing key bindings, to persist. */
  get bindings(): ReadonlyMap<string, string> {
    return this.#directory.bindings;
  }

  /**
   * Registers a verified client and tells everyone else `joined`.
   *
   * @param client The client, greeting.
   * @param hello Its verified name and keys.
   * @param options What `welcome` says and the check on new bindings.
   * @returns The `welcome` to send it, and whether a binding was made (to persist).
   * @throws {PeerstreamError} `NAME_TAKEN`, `NAME_LIMIT` (and, with the confusables policy,
   * `NAME_CONFUSABLE`).
   */
  join(
    client: ServerClient,
    hello: VerifiedHello,
    options: JoinOptions,
  ): { welcome: WelcomeMessage; newBinding: boolean } {
    const { others, newBinding } = this.#directory.register(hello.name, {
      keys: hello.keys,
      conn: client,
      ephemeral: hello.ephemeral,
      canBind: options.canBind,
    });
    client.name = hello.name;
    const joined = encodeMessage({ type: "joined", name: hello.name });
    for (const other of this.#directory.othersThan(hello.name)) other.conn.sendEncoded(joined);
    return {
      welcome: {
        type: "welcome",
        name: hello.name,
        peers: others,
        maxSealedBytes: options.maxSealedBytes,
      },
      newBinding,
    };
  }

  /**
   * Removes a client that left and tells everyone else `left`.
   *
   * @param client The client.
   * @returns Whether it was online under its name.
   */
  leave(client: ServerClient): boolean {
    const name = client.name;
    if (name === undefined || this.#directory.get(name)?.conn !== client) return false;
    const others = this.#directory.unregister(name);
    const left = encodeMessage({ type: "left", name, reason: client.leaveReason });
    for (const other of others) other.conn.sendEncoded(left);
    return true;
  }

  /**
   * The client online under a name.
   *
   * @param name The normalized name.
   * @returns The client, or undefined.
   */
  online(name: string): ServerClient | undefined {
    return this.#directory.get(name)?.conn;
  }

  /**
   * A name's public keys, online or recently left.
   *
   * @param name The name.
   * @returns The keys and whether the peer is online, or undefined.
   */
  lookup(name: string): { keys: PublicKeysText; online: boolean } | undefined {
    return this.#directory.lookup(name);
  }

  /**
   * Releases a name's binding (the operator's `serve --release`).
   *
   * @param name The name.
   * @returns Whether it was bound.
   */
  release(name: string): boolean {
    return this.#directory.release(name);
  }
}
