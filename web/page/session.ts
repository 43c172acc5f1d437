/**
 * The page's connection to its server: handshake, presence, sealed messages with trust on first
 * use, and streams, over a {@linkcode ByteStream}. Everything cryptographic and every rule comes
 * from the shared `protocol/` code and `client/known_peers.ts`, the same as the terminal's.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import {
  exportPublicKeys,
  type Identity,
  importPeerKeys,
  open,
  type PeerKeys,
  ReplayGuard,
  seal,
  signChallenge,
} from "../../protocol/e2e.ts";
import { FrameDecoder } from "../../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  isServerMessage,
  type LeaveReason,
  type Message,
  PROTOCOL_VERSION,
  type Quality,
  type SegmentMessage,
  type ServerMessage,
  type StreamEndMessage,
  type StreamSeekMessage,
  type StreamStartMessage,
  type VideoSummary,
  type WelcomeMessage,
} from "../../protocol/messages.ts";
import { normalizeName } from "../../protocol/names.ts";
import { type KeyTrust, KnownPeers } from "../../client/known_peers.ts";
import { PeerList } from "../../client/peers.ts";
import type { ReplayStorage } from "../../protocol/replay.ts";
import type { ByteStream } from "./ws_stream.ts";

/**
 * Where a stream's media goes (the shape of `client/session.ts`'s sink): every call is made as
 * the data arrives and is never awaited.
 */
export interface MediaSink {
  /** Media bytes of the current epoch, in order. */
  write(data: Uint8Array): void;
  /** The stream ended; `finished` lets the sink play out what it has. */
  close(reason: StreamEndMessage["reason"], end?: StreamEndMessage): void;
  /** A segment begins: its `bytes` follow. */
  segment?(segment: SegmentMessage): void;
  /** The stream jumped to a new epoch, starting at `seek.position`. */
  seek?(seek: StreamSeekMessage): void;
}

/** A verified incoming message. */
export interface PageMessage {
  /** The sender, verified by signature. */
  from: string;
  /** The text (untrusted: shown as text only). */
  text: string;
  /** When it was sealed, ms. */
  sentAt: number;
  /** Trust in the sender's key. */
  trust: KeyTrust;
  /** A known peer's name that the sender's looks like, when the sender is new. */
  lookalike?: string;
}

/** What the server tells the page. */
export interface PageSessionEvents {
  /** A peer joined. */
  joined?(name: string): void;
  /** A peer left. */
  left?(name: string, reason: LeaveReason): void;
  /** A message arrived and was verified. */
  message?(message: PageMessage): void;
  /** A message was rejected (bad signature, replay, changed key). */
  warning?(text: string, code: ErrorCode): void;
  /** The current stream ended. */
  streamEnd?(end: StreamEndMessage): void;
  /** The server is shutting down. */
  shutdown?(message: string): void;
  /** An error that answers no request. */
  serverError?(code: ErrorCode, message: string): void;
  /** The connection closed. */
  closed?(info: { expected: boolean; message: string }): void;
}

interface Pending {
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
}

/** A peer's keys, how far they are trusted, and a known name it looks like. */
export type TrustedKeys = PeerKeys & { trust: KeyTrust; lookalike?: string };

/** The page's session with the server. */
export class PageSession {
  readonly #stream: ByteStream;
  readonly #events: PageSessionEvents;
  readonly #known: KnownPeers;
  readonly #replay: ReplayGuard;
  readonly peers = new PeerList();
  #challenge?: Uint8Array;
  #greeted: Promise<void>;
  #pending = new Map<number, Pending>();
  #registering?: Pending;
  #nextId = 1;
  #identity?: Identity;
  #name?: string;
  #keys = new Map<string, TrustedKeys>();
  #inbox: Promise<void> = Promise.resolve();
  #writes: Promise<void> = Promise.resolve();
  #streamId?: number;
  #sink?: MediaSink;
  #openSink?: (info: StreamStartMessage) => MediaSink;
  #epoch = 0;
  #segment?: SegmentMessage;
  #received = 0;
  #closing = false;

  /**
   * @param stream The connection; the session owns it.
   * @param options Callbacks and the known-peers table.
   */
  constructor(
    stream: ByteStream,
    options: { events: PageSessionEvents; known: KnownPeers; replay?: ReplayStorage },
  ) {
    this.#stream = stream;
    this.#replay = new ReplayGuard({ storage: options.replay });
    this.#events = options.events;
    this.#known = options.known;
    let greeted!: () => void;
    this.#greeted = new Promise((resolve) => greeted = resolve);
    this.#readLoop(greeted);
  }

  /** The registered name. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The known-peers table. */
  get known(): KnownPeers {
    return this.#known;
  }

  /**
   * Registers a name with the identity's keys.
   *
   * @param name The name.
   * @param identity The key pairs.
   * @returns The welcome.
   * @throws {PeerstreamError} With the server's code when refused.
   */
  async register(name: string, identity: Identity): Promise<WelcomeMessage> {
    let normalized: string;
    try {
      normalized = normalizeName(name);
    } catch (error) {
      throw new PeerstreamError("NAME_INVALID", (error as Error).message);
    }
    await this.#greeted;
    const challenge = this.#challenge;
    if (challenge === undefined) {
      throw new PeerstreamError("INTERNAL", "The server did not greet; reload the page");
    }
    const keys = await exportPublicKeys(identity);
    const proof = await signChallenge(identity, challenge, normalized);
    const answer = new Promise<ServerMessage>((resolve, reject) => {
      this.#registering = { resolve, reject };
    });
    this.#write({
      type: "hello",
      version: PROTOCOL_VERSION,
      name: normalized,
      encKey: keys.encKey,
      signKey: keys.signKey,
      proof: proof.toBase64(),
    });
    const welcome = expect(await answer, "welcome");
    this.#identity = identity;
    this.#name = welcome.name;
    this.peers.reset(welcome.name, welcome.peers);
    return welcome;
  }

  /** Lists the server's titles. */
  async list(): Promise<VideoSummary[]> {
    return expect(await this.#request({ type: "list", id: 0 }), "videos").videos;
  }

  /**
   * A peer's keys, checked against the known-peers table.
   *
   * @param name The peer.
   * @returns The keys and their trust.
   */
  async peerKeys(name: string): Promise<TrustedKeys> {
    const cached = this.#keys.get(name);
    if (cached !== undefined) return cached;
    const info = expect(await this.#request({ type: "key", id: 0, name }), "key-info");
    const keys = await importPeerKeys(info);
    const trust = this.#known.check(name, keys.fingerprint);
    const lookalike = this.#known.lookalike(name);
    const entry: TrustedKeys = lookalike === undefined
      ? { ...keys, trust }
      : { ...keys, trust, lookalike };
    if (trust === "new" && lookalike !== undefined) {
      this.#events.warning?.(
        `"${name}" is new to you and looks like "${lookalike}", a peer you know; compare fingerprints (Verify) before trusting it`,
        "NAME_CONFUSABLE",
      );
    }
    if (trust !== "changed") this.#keys.set(name, entry);
    return entry;
  }

  /**
   * Trusts a peer's changed key.
   *
   * @param name The peer.
   * @returns False when no changed key was pending.
   */
  acceptKey(name: string): boolean {
    this.#keys.delete(name);
    return this.#known.acceptChanged(name);
  }

  /**
   * Marks a peer's remembered key verified.
   *
   * @param name The peer.
   * @param fingerprint The fingerprint the person compared.
   * @returns False when another key, or none, is remembered.
   */
  verifyKey(name: string, fingerprint: string): boolean {
    this.#keys.delete(name);
    return this.#known.markVerified(name, fingerprint);
  }

  /**
   * Seals a text for a peer and waits for the peer's client to confirm it.
   *
   * @param to The recipient.
   * @param text The text.
   * @throws {PeerstreamError} `KEY_CHANGED`, `PEER_OFFLINE`, the recipient's rejection, etc.
   */
  async sendText(to: string, text: string): Promise<void> {
    const identity = this.#requireIdentity();
    const recipient = await this.peerKeys(to);
    if (recipient.trust === "changed") {
      throw new PeerstreamError(
        "KEY_CHANGED",
        `Cannot send to "${to}": their key changed since you last talked; verify it and accept it if you trust it`,
      );
    }
    const body = await seal(text, { from: this.#name!, to, identity, recipient });
    expect(await this.#request({ type: "send", id: 0, to, body }), "delivered");
  }

  /**
   * Starts a stream; its media goes to the sink until it ends.
   *
   * @param title The title.
   * @param options The quality, and the sink, opened when `stream-start` arrives so that no
   * media behind it is missed.
   * @returns The stream's metadata.
   */
  async play(
    title: string,
    options: { quality: Quality; sink: (info: StreamStartMessage) => MediaSink },
  ): Promise<StreamStartMessage> {
    this.#openSink = options.sink;
    try {
      return expect(
        await this.#request({ type: "play", id: 0, title, quality: options.quality }),
        "stream-start",
      );
    } finally {
      this.#openSink = undefined;
    }
  }

  /** Stops the stream: its sink closes now; resolves when no more media follows. */
  async stop(): Promise<void> {
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.close("stopped");
    try {
      await this.#request({ type: "stop", id: 0 });
    } catch (error) {
      if (!(error instanceof PeerstreamError && error.code === "NOT_PLAYING")) throw error;
    }
  }

  /**
   * Changes the quality from the next segment on.
   *
   * @param quality A height or auto.
   */
  async setQuality(quality: Quality): Promise<void> {
    await this.#request({ type: "quality", id: 0, quality });
  }

  /**
   * Asks the server to hold or go on with the stream.
   *
   * @param paused True to hold.
   */
  async setPaused(paused: boolean): Promise<void> {
    await this.#request({ type: paused ? "pause" : "resume", id: 0 });
  }

  /**
   * Asks the server to jump to a position.
   *
   * @param position Seconds from the start of the title.
   * @returns The jump: the new epoch and where it starts.
   */
  async seek(position: number): Promise<StreamSeekMessage> {
    return expect(await this.#request({ type: "seek", id: 0, position }), "stream-seek");
  }

  /** Says goodbye and closes. */
  async quit(): Promise<void> {
    this.#closing = true;
    this.#write({ type: "quit" });
    await this.#writes;
    this.#stream.close();
  }

  /** Closes without a goodbye. */
  close(): void {
    this.#closing = true;
    this.#stream.close();
  }

  #requireIdentity(): Identity {
    if (this.#identity === undefined) {
      throw new PeerstreamError("NOT_REGISTERED", "Join first");
    }
    return this.#identity;
  }

  #request(message: Message & { id: number }): Promise<ServerMessage> {
    const id = this.#nextId++;
    message.id = id;
    const answer = new Promise<ServerMessage>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#write(message);
    return answer;
  }

  #write(message: Message) {
    const bytes = encodeMessage(message);
    this.#writes = this.#writes.then(async () => {
      await this.#stream.write(bytes);
    }).catch(() => {
      // A failed write shows as a closed connection in the read loop.
    });
  }

  async #readLoop(greeted: () => void) {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let failure = "";
    try {
      while (true) {
        const n = await this.#stream.read(buffer);
        if (n === null) break;
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          const message = decodeMessage(frame);
          if (!isServerMessage(message)) {
            throw new Error(`the server sent "${message.type}", a client's message`);
          }
          if (message.type === "server-hello") {
            this.#greet(message.version, message.challenge);
            greeted();
          } else {
            this.#handle(message);
          }
        }
      }
    } catch (error) {
      failure = (error as Error).message;
    } finally {
      greeted();
      const message = failure || "the server closed the connection";
      const error = new PeerstreamError("INTERNAL", `Lost connection to the server: ${message}`);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      this.#registering?.reject(error);
      this.#registering = undefined;
      this.#sink?.close("error");
      this.#sink = undefined;
      this.#stream.close();
      this.#events.closed?.({ expected: this.#closing && failure === "", message });
    }
  }

  #greet(version: number, challenge: string) {
    if (version !== PROTOCOL_VERSION) {
      throw new Error(`the server speaks protocol ${version}, this page ${PROTOCOL_VERSION}`);
    }
    this.#challenge = Uint8Array.fromBase64(challenge);
  }

  #handle(message: ServerMessage) {
    switch (message.type) {
      case "media": {
        const segment = this.#segment;
        if (message.streamId !== this.#streamId || segment === undefined) return;
        this.#received += message.data.length;
        this.#sink?.write(message.data);
        if (this.#received >= segment.bytes) {
          // Acknowledged once all its bytes arrived, whatever the video element does with them:
          // the server's rate estimate measures the network.
          this.#write({
            type: "seg-ack",
            streamId: segment.streamId,
            epoch: segment.epoch,
            index: segment.index,
          });
          this.#segment = undefined;
        }
        return;
      }
      case "segment":
        if (message.streamId !== this.#streamId || message.epoch !== this.#epoch) return;
        this.#segment = message;
        this.#received = 0;
        this.#sink?.segment?.(message);
        return;
      case "stream-start":
        this.#started(message);
        return;
      case "stream-seek":
        if (message.streamId === this.#streamId) {
          this.#epoch = message.epoch;
          this.#segment = undefined;
          this.#sink?.seek?.(message);
        }
        this.#answer(message.re, message);
        return;
      case "stream-end":
        if (message.streamId === this.#streamId) {
          const sink = this.#sink;
          this.#streamId = undefined;
          this.#sink = undefined;
          sink?.close(message.reason, message);
          this.#events.streamEnd?.(message);
        }
        if (message.re !== undefined) this.#answer(message.re, message);
        return;
      case "welcome":
        this.#registering?.resolve(message);
        this.#registering = undefined;
        return;
      case "joined":
        if (this.peers.joined(message.name)) this.#events.joined?.(message.name);
        return;
      case "left":
        this.#keys.delete(message.name);
        if (this.peers.left(message.name)) this.#events.left?.(message.name, message.reason);
        return;
      case "deliver":
        this.#inbox = this.#inbox.then(() => this.#open(message.rid, message.from, message.body));
        return;
      case "error":
        this.#error(message.code, message.message, message.re);
        return;
      case "shutdown":
        this.#closing = true;
        this.#events.shutdown?.(message.message);
        return;
      case "ping":
        this.#write({ type: "pong", id: message.id });
        return;
      case "server-hello":
      case "pong":
      case "peer-state":
        return;
      default:
        this.#answer(message.re, message);
    }
  }

  #started(message: StreamStartMessage) {
    this.#streamId = message.streamId;
    this.#epoch = message.epoch;
    this.#segment = undefined;
    try {
      this.#sink = this.#openSink?.(message);
    } catch (error) {
      // The page cannot play it (e.g. MJPEG): stop at once and say why.
      this.#write({ type: "stop", id: this.#nextId++ });
      const pending = this.#pending.get(message.re);
      this.#pending.delete(message.re);
      pending?.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#answer(message.re, message);
  }

  #error(code: ErrorCode, text: string, re: number | undefined) {
    const pending = re === undefined ? undefined : this.#pending.get(re);
    if (pending !== undefined) {
      this.#pending.delete(re!);
      pending.reject(new PeerstreamError(code, text));
    } else if (this.#registering !== undefined) {
      this.#registering.reject(new PeerstreamError(code, text));
      this.#registering = undefined;
    } else {
      this.#events.serverError?.(code, text);
    }
  }

  #answer(re: number, message: ServerMessage) {
    const pending = this.#pending.get(re);
    if (pending === undefined) return;
    this.#pending.delete(re);
    pending.resolve(message);
  }

  async #open(rid: string, from: string, body: Uint8Array) {
    const identity = this.#identity;
    if (identity === undefined) return;
    try {
      const sender = await this.peerKeys(from);
      const opened = await open(body, {
        from,
        me: this.#name!,
        identity,
        sender,
        replay: this.#replay,
      });
      this.#write({ type: "receipt", rid, ok: true });
      this.#events.message?.({
        ...opened,
        trust: sender.trust,
        ...(sender.lookalike === undefined ? {} : { lookalike: sender.lookalike }),
      });
    } catch (error) {
      const code = error instanceof PeerstreamError ? error.code : "DECRYPT_FAILED";
      this.#write({ type: "receipt", rid, ok: false, code });
      this.#events.warning?.(error instanceof Error ? error.message : String(error), code);
    }
  }
}

/**
 * Checks an answer's type, so that a wrong answer from a hostile server is an error, not a crash.
 *
 * @param message The answer.
 * @param type The type the request expects.
 * @returns The answer, typed.
 * @throws {PeerstreamError} `BAD_MESSAGE` for another type.
 */
function expect<T extends ServerMessage["type"]>(
  message: ServerMessage,
  type: T,
): Extract<ServerMessage, { type: T }> {
  if (message.type !== type) {
    throw new PeerstreamError(
      "BAD_MESSAGE",
      `The server answered "${message.type}" where "${type}" was expected; reload the page`,
    );
  }
  return message as Extract<ServerMessage, { type: T }>;
}
