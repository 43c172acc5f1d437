/**
 * The keys `RoomBook` checks entries and seals messages with: this client's own (worked out once
 * per identity) and a peer's as this client knows it, refused when it changed.
 * @module
 */

import { exportPublicKeys } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { type KeyPins, keyPins } from "../../protocol/room_chain.ts";
import type { RoomRecipient } from "../../protocol/room_envelope.ts";
import { type RoomKeys, roomKeys } from "../../protocol/room_history.ts";
import type { InboxSelf } from "./inbox.ts";
import type { TrustedKeys } from "./keys.ts";

/** Who this client is, and a peer's keys (the key cache: trust on first use). */
export interface RoomKeySource {
  /** Who this client is; undefined before registration. */
  self(): InboxSelf | undefined;
  /** A peer's keys. */
  keys(name: string): Promise<TrustedKeys>;
}

/** Room keys for this client and its peers, with their pins cached. */
export class RoomKeyRing {
  readonly #source: RoomKeySource;
  readonly #pins = new Map<string, KeyPins>();
  #own?: { identity: InboxSelf["identity"]; keys: Promise<RoomKeys & RoomRecipient> };

  /** @param source Who this client is, and the key cache. */
  constructor(source: RoomKeySource) {
    this.#source = source;
  }

  /**
   * Who this client is.
   *
   * @throws {PeerstreamError} `NOT_REGISTERED` before registration.
   */
  self(): InboxSelf {
    const self = this.#source.self();
    if (self === undefined) {
      throw new PeerstreamError("NOT_REGISTERED", "Not registered yet; register a name first");
    }
    return self;
  }

  /** The keys to check entries with: this client's own, or a peer's as known (not changed). */
  async lookup(name: string): Promise<RoomKeys | undefined> {
    if (name === this.#source.self()?.name) return await this.own();
    return await this.trusted(name);
  }

  /**
   * A peer's keys to seal to and check with.
   *
   * @throws {PeerstreamError} `KEY_CHANGED` when their key changed since last talked.
   */
  async trusted(name: string): Promise<RoomKeys & RoomRecipient> {
    const keys = await this.#source.keys(name);
    if (keys.trust === "changed") {
      throw new PeerstreamError(
        "KEY_CHANGED",
        `Cannot use "${name}" in a room: their key changed since you last talked; run VERIFY ${name} and ACCEPT ${name} if you trust it`,
      );
    }
    return { ...await this.of(keys), enc: keys.enc };
  }

  /** The room keys (signing key and pins) of keys as the key cache gives them. */
  async of(keys: TrustedKeys): Promise<RoomKeys> {
    let pins = this.#pins.get(keys.fingerprint);
    if (pins === undefined) {
      const [enc, sign] = await Promise.all([
        crypto.subtle.exportKey("spki", keys.enc),
        crypto.subtle.exportKey("spki", keys.sign),
      ]);
      pins = await keyPins({
        encKey: new Uint8Array(enc).toBase64(),
        signKey: new Uint8Array(sign).toBase64(),
      });
      if (this.#pins.size > 1000) this.#pins.clear();
      this.#pins.set(keys.fingerprint, pins);
    }
    return { sign: keys.sign, pins };
  }

  /** This client's own keys and pins, worked out once per identity. */
  own(): Promise<RoomKeys & RoomRecipient> {
    const self = this.self();
    if (this.#own?.identity !== self.identity) {
      const keys = exportPublicKeys(self.identity).then(roomKeys).then((k) => ({
        ...k,
        enc: self.identity.enc.publicKey,
      }));
      this.#own = { identity: self.identity, keys };
    }
    return this.#own.keys;
  }
}
