/**
 * A client's connection to a server: handshake, requests and answers, sealed messages and
 * streams. The terminal and the tests both drive it.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import {
  exportPublicKeys,
  type Identity,
  importPeerKeys,
  open,
  type PeerKeys,
  seal,
  signChallenge,
} from "../protocol/e2e.ts";
import { ReplayGuard, type ReplayStorage } from "../protocol/replay.ts";
import { type Frame, FrameDecoder } from "../protocol/frame.ts";
import {
  type ClientMessage,
  decodeMessage,
  encodeMessage,
  isServerMessage,
  type LeaveReason,
  MAX_SEALED_BYTES,
  type Message,
  PROTOCOL_VERSION,
  type Quality,
  type SegmentMessage,
  type ServerHelloMessage,
  type ServerMessage,
  type StreamEndMessage,
  type StreamStartMessage,
  type VideoSummary,
  type WelcomeMessage,
} from "../protocol/messages.ts";
import { normalizeName } from "../protocol/names.ts";
import { type KeyTrust, KnownPeers } from "./known_peers.ts";
import { PeerList } from "./peers.ts";
import { nextPlaybackState, type PlaybackState } from "./playback.ts";

/** Where a stream's media goes: a player, a validator, a test. */
export interface MediaSink {
  /** Takes media bytes in order; a returned promise applies backpressure. */
  write(data: Uint8Array): void | Promise<void>;
  /** The stream ended; `finished` lets the sink play out what it has. */
  close(reason: "finished" | "stopped" | "error"): void | Promise<void>;
}

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
}

/** A peer's keys with how far they are trusted. */
export type TrustedKeys = PeerKeys & {
  /** Trust in the key (trust on first use, by the exact name). */
  trust: KeyTrust;
  /** A known peer whose name this one looks like, if any. */
  lookalike?: string;
};

/** Callbacks for what the server tells the client. */
export interface SessionEvents {
  /** A peer joined. */
  joined?(name: string): void;
  /** A peer left. */
  left?(name: string, reason: LeaveReason): void;
  /** A message arrived and was verified. */
  message?(message: IncomingMessage): void;
  /** Something arrived that must not be shown as genuine (bad signature, replay, changed key). */
  warning?(text: string, code: ErrorCode): void;
  /** A segment of the current stream began. */
  segment?(segment: SegmentMessage): void;
  /** The current stream ended. */
  streamEnd?(end: StreamEndMessage): void;
  /** The server is shutting down. */
  shutdown?(message: string): void;
  /** An error the server sent that answers no request. */
  serverError?(code: ErrorCode, message: string): void;
  /** The connection closed; `expected` after QUIT. */
  closed?(info: { expected: boolean; message: string }): void;
}

/** Options for {@linkcode ClientSession.connect}. */
export interface ConnectOptions {
  /** Server host. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Use TLS; `caCerts` adds trusted certificates (PEM). */
  tls?: { caCerts?: string[] };
  /** How long to wait for the server's greeting, ms. @default {5000} */
  timeoutMs?: number;
  /** Callbacks. */
  events?: SessionEvents;
  /** Trust-on-first-use store; in memory when absent. */
  knownPeers?: KnownPeers;
  /** Where the replay guard's state persists, so replays are caught after a restart. */
  replay?: ReplayStorage;
  /** Bounds on what the server can make this client hold; see {@linkcode CLIENT_LIMITS}. */
  limits?: Partial<ClientLimits>;
}

/** What a server, honest or not, can make the client hold. */
export interface ClientLimits {
  /** Peers remembered from the server's announcements. */
  maxPeers: number;
  /** Messages held unopened (waiting for a sender's key, or behind other messages). */
  maxInbox: number;
  /** Bytes of messages held unopened. */
  maxInboxBytes: number;
  /** Peers' keys cached. */
  maxKeys: number;
  /** Longest wait for an answer, ms. */
  requestTimeoutMs: number;
  /** Bytes waiting to be written; more means the server does not read, and the client leaves. */
  maxQueuedBytes: number;
}

/**
 * The defaults: 100,000 peers (what `welcome` may list), 1,024 unopened messages or 8 MiB (what
 * an honest server's relay budgets let through: 1,024 or 4 MiB), 1,024 cached keys, 60 s per
 * answer, 8 MiB of unwritten data.
 */
export const CLIENT_LIMITS: Readonly<ClientLimits> = {
  maxPeers: 100_000,
  maxInbox: 1024,
  maxInboxBytes: 8 * 1024 * 1024,
  maxKeys: 1024,
  requestTimeoutMs: 60_000,
  maxQueuedBytes: 8 * 1024 * 1024,
};

/** Which answers each request takes (an `error` answers any). */
const ANSWERS = {
  list: ["videos"],
  key: ["key-info"],
  send: ["delivered"],
  play: ["stream-start"],
  stop: ["stream-end"],
  quality: ["ok"],
} as const satisfies Partial<Record<ClientMessage["type"], readonly ServerMessage["type"][]>>;

type Requested = keyof typeof ANSWERS;
type AnswerTo<R extends Requested> = Extract<ServerMessage, { type: typeof ANSWERS[R][number] }>;

interface Pending {
  type: Requested;
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Stream {
  info: StreamStartMessage;
  sink: MediaSink;
  segment?: SegmentMessage;
  received: number;
  /** STOP was asked: the sink is closing and late media is dropped. */
  stopping?: Promise<void>;
}

/** A connected client. */
export class ClientSession {
  #conn: Deno.Conn;
  readonly #options: ConnectOptions;
  readonly #events: SessionEvents;
  readonly #known: KnownPeers;
  readonly #limits: ClientLimits;
  #greeting: ServerHelloMessage;
  readonly peers = new PeerList();
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #registering?: { resolve: (m: WelcomeMessage) => void; reject: (e: Error) => void };
  /** A hello was refused on this connection: the next attempt reconnects. */
  #refused = false;
  /** Connections given up after a refused hello: their end is not a lost connection. */
  #retired = new WeakSet<Deno.Conn>();
  #identity?: Identity;
  #name?: string;
  #keys = new Map<string, TrustedKeys>();
  #keyLookups = new Map<string, Promise<TrustedKeys>>();
  #replay: ReplayGuard;
  #inbox: Promise<void> = Promise.resolve();
  #inboxCount = 0;
  #inboxBytes = 0;
  #inboxFullWarned = false;
  #peersFullWarned = false;
  #playback: PlaybackState = "idle";
  #stream?: Stream;
  #openSink?: (info: StreamStartMessage) => MediaSink;
  #closing = false;
  #closed = false;
  /** Why the client itself gave up on the connection, if it did. */
  #failure = "";
  #reading: Promise<void>;
  #writeChain: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  /** Bytes received from the server. */
  bytesRead = 0;

  private constructor(opened: Opened, options: ConnectOptions) {
    this.#conn = opened.conn;
    this.#greeting = opened.greeting;
    this.#options = options;
    this.#events = options.events ?? {};
    this.#known = options.knownPeers ?? new KnownPeers();
    this.#limits = { ...CLIENT_LIMITS, ...options.limits };
    this.#replay = new ReplayGuard({ storage: options.replay });
    this.#reading = this.#readLoop(opened);
  }

  /**
   * Connects and waits for the server's greeting.
   *
   * @param options Address, TLS and callbacks.
   * @returns The session, not yet registered.
   * @throws {PeerstreamError} When the server cannot be reached, does not greet in time, or
   * speaks another protocol version.
   */
  static async connect(options: ConnectOptions): Promise<ClientSession> {
    return new ClientSession(await openConnection(options), options);
  }

  /** The server software, from its greeting. */
  get server(): string {
    return this.#greeting.server;
  }

  /** The registered name, once registered. */
  get name(): string | undefined {
    return this.#name;
  }

  /** Where playback stands. */
  get playback(): PlaybackState {
    return this.#playback;
  }

  /** Resolves when the connection has closed and the read loop ended. */
  get done(): Promise<void> {
    return this.#reading;
  }

  /**
   * Registers a name. After a refusal (`NAME_TAKEN`, `NAME_CONFUSABLE`, …) call again with another
   * name: the attempt goes over a fresh connection, since the server allows a few attempts per
   * connection within its handshake deadline.
   *
   * @param name The name to register.
   * @param identity The key pairs; the server checks a signature of its challenge.
   * @param options `ephemeral`: the keys live in memory only, so the server holds the name only
   * while connected.
   * @returns The welcome, with the peers online.
   * @throws {PeerstreamError} With the server's code when refused; `BAD_MESSAGE` when the server
   * welcomes another name.
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
    if (this.#refused) await this.#reconnect();
    const keys = await exportPublicKeys(identity);
    const proof = await signChallenge(
      identity,
      Uint8Array.fromBase64(this.#greeting.challenge),
      normalized,
    );
    const answer = new Promise<WelcomeMessage>((resolve, reject) => {
      this.#registering = { resolve, reject };
    });
    this.#write({
      type: "hello",
      version: PROTOCOL_VERSION,
      name: normalized,
      encKey: keys.encKey,
      signKey: keys.signKey,
      proof: proof.toBase64(),
      ...(options.ephemeral ? { ephemeral: true } : {}),
    });
    const welcome = await answer;
    if (welcome.name !== normalized) {
      throw new PeerstreamError(
        "BAD_MESSAGE",
        `The server welcomed ${
          JSON.stringify(welcome.name)
        } instead of "${normalized}"; it may be misbehaving`,
      );
    }
    this.#identity = identity;
    this.#name = welcome.name;
    this.peers.reset(welcome.name, this.#boundedPeers(welcome.peers));
    return welcome;
  }

  /** Replaces a connection whose hello was refused by a fresh one, for the next attempt. */
  async #reconnect() {
    const opened = await openConnection(this.#options);
    this.#conn = opened.conn;
    this.#greeting = opened.greeting;
    this.#refused = false;
    this.#writeChain = Promise.resolve();
    this.#queuedBytes = 0;
    this.#reading = this.#readLoop(opened);
  }

  #boundedPeers(names: readonly string[]): readonly string[] {
    if (names.length <= this.#limits.maxPeers) return names;
    this.#warnPeersFull();
    return names.slice(0, this.#limits.maxPeers);
  }

  #warnPeersFull() {
    if (this.#peersFullWarned) return;
    this.#peersFullWarned = true;
    this.#events.warning?.(
      `The server announced more than ${this.#limits.maxPeers} peers; ignoring the rest, it may be misbehaving`,
      "BAD_MESSAGE",
    );
  }

  /** Lists the server's videos. */
  async list(): Promise<VideoSummary[]> {
    return (await this.#request({ type: "list", id: 0 })).videos;
  }

  /**
   * Gets a peer's public keys from the server, checks them against the known-peers table and
   * caches them (a bounded number, most recent first).
   *
   * @param name The peer.
   * @returns The keys and how far they are trusted.
   * @throws {PeerstreamError} `BAD_MESSAGE` when the server answers for another name.
   */
  peerKeys(name: string): Promise<TrustedKeys> {
    const cached = this.#keys.get(name);
    if (cached !== undefined) return Promise.resolve(cached);
    // Messages from one sender arriving together share one lookup.
    let lookup = this.#keyLookups.get(name);
    if (lookup === undefined) {
      lookup = this.#lookUpKeys(name).finally(() => this.#keyLookups.delete(name));
      this.#keyLookups.set(name, lookup);
    }
    return lookup;
  }

  async #lookUpKeys(name: string): Promise<TrustedKeys> {
    const info = await this.#request({ type: "key", id: 0, name });
    if (info.name !== name.normalize("NFC")) {
      throw new PeerstreamError(
        "BAD_MESSAGE",
        `The server answered "key" for ${
          JSON.stringify(info.name)
        }, not "${name}"; it may be misbehaving`,
      );
    }
    const keys = await importPeerKeys(info);
    const trust = this.#known.check(name, keys.fingerprint);
    const lookalike = this.#known.lookalike(name);
    const entry: TrustedKeys = lookalike === undefined
      ? { ...keys, trust }
      : { ...keys, trust, lookalike };
    if (trust === "new" && lookalike !== undefined) {
      this.#events.warning?.(
        `"${name}" is new to you and looks like "${lookalike}", a peer you know; compare fingerprints with VERIFY ${name} before trusting it`,
        "NAME_CONFUSABLE",
      );
    }
    if (trust !== "changed") {
      this.#keys.set(name, entry);
      if (this.#keys.size > this.#limits.maxKeys) {
        this.#keys.delete(this.#keys.keys().next().value!);
      }
    }
    return entry;
  }

  /**
   * Accepts a peer's changed key, so that messages to it are allowed again.
   *
   * @param name The peer.
   * @returns False when no changed key was pending.
   */
  acceptKey(name: string): boolean {
    this.#keys.delete(name);
    return this.#known.acceptChanged(name);
  }

  /**
   * Marks a peer's remembered key as verified out of band.
   *
   * @param name The peer.
   * @param fingerprint The fingerprint the user compared; it must be the remembered one.
   * @returns False when no key, or another key, is remembered for that peer.
   */
  verifyKey(name: string, fingerprint: string): boolean {
    this.#keys.delete(name);
    return this.#known.markVerified(name, fingerprint);
  }

  /**
   * Seals a text for one peer and waits until the peer's client confirms it.
   *
   * @param to The recipient.
   * @param text The text.
   * @throws {PeerstreamError} `UNKNOWN_PEER`, `PEER_OFFLINE`, `KEY_CHANGED`, `MESSAGE_TOO_LARGE`,
   * or the recipient's rejection code.
   */
  async sendText(to: string, text: string): Promise<void> {
    const identity = this.#requireRegistered();
    const recipient = await this.peerKeys(to);
    if (recipient.trust === "changed") {
      throw new PeerstreamError(
        "KEY_CHANGED",
        `Cannot send to "${to}": their key changed since you last talked; run VERIFY ${to} and ACCEPT ${to} if you trust it`,
      );
    }
    const body = await seal(text, { from: this.#name!, to, identity, recipient });
    await this.#request({ type: "send", id: 0, to, body });
  }

  /**
   * Starts a stream; media goes to the sink until the stream ends.
   *
   * @param title The title.
   * @param options The quality, and a factory that opens the sink once the metadata is known.
   * @returns The stream's metadata.
   */
  async play(
    title: string,
    options: { quality: Quality; sink: (info: StreamStartMessage) => MediaSink },
  ): Promise<StreamStartMessage> {
    this.#requireRegistered();
    this.#playback = nextPlaybackState(this.#playback, "play");
    // The "stream-start" handler opens the sink and answers the request, so that no media
    // arriving right behind stream-start is missed.
    this.#openSink = options.sink;
    try {
      return await this.#request({ type: "play", id: 0, title, quality: options.quality });
    } catch (error) {
      this.#openSink = undefined;
      this.#playback = nextPlaybackState(this.#playback, "refused");
      throw error;
    }
  }

  /**
   * Stops the current stream; resolves once the server confirms that no more media follows.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing plays.
   */
  async stop(): Promise<void> {
    this.#playback = nextPlaybackState(this.#playback, "stop");
    // Media already in flight can take seconds to drain through a real-time player: close the
    // sink now, so the picture stops at once and a blocked write to the player fails.
    const stream = this.#stream;
    if (stream !== undefined && stream.stopping === undefined) {
      stream.stopping = Promise.resolve(stream.sink.close("stopped")).catch(() => {});
    }
    try {
      await this.#request({ type: "stop", id: 0 });
    } catch (error) {
      if (!(error instanceof PeerstreamError && error.code === "NOT_PLAYING")) throw error;
      // The stream had already ended on the server.
    }
  }

  /** Changes the quality of the current stream from the next segment on. */
  async setQuality(quality: Quality): Promise<void> {
    await this.#request({ type: "quality", id: 0, quality });
  }

  /** Says goodbye and closes. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    try {
      this.#write({ type: "quit" });
      await this.#writeChain;
    } catch {
      // The server is gone already.
    }
    this.close();
    await this.#reading;
  }

  /** Closes the connection without a goodbye. */
  close(): void {
    this.#closing = true;
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #requireRegistered(): Identity {
    if (this.#identity === undefined) {
      throw new PeerstreamError("NOT_REGISTERED", "Not registered yet; register a name first");
    }
    return this.#identity;
  }

  /**
   * Sends a request and waits for its answer: one of the types it takes, or an `error`. Any
   * other answer, or none within the limit, rejects with a clear error and the session goes on.
   */
  #request<M extends Extract<ClientMessage, { type: Requested; id: number }>>(
    message: M,
  ): Promise<AnswerTo<M["type"]>> {
    if (this.#closed) {
      return Promise.reject(
        new PeerstreamError("INTERNAL", "Not connected to the server; reconnect"),
      );
    }
    const id = this.#nextId++;
    message.id = id;
    const type = message.type;
    const answer = new Promise<ServerMessage>((resolve, reject) => {
      const ms = this.#limits.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new PeerstreamError(
            "UNAVAILABLE",
            `The server did not answer "${type}" within ${
              ms / 1000
            } s; it may be overloaded or misbehaving`,
          ),
        );
      }, ms);
      this.#pending.set(id, { type, resolve, reject, timer });
    });
    this.#write(message);
    return answer as Promise<AnswerTo<M["type"]>>;
  }

  #write(message: Message) {
    const bytes = encodeMessage(message);
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#limits.maxQueuedBytes) {
      // Pings keep coming while our pongs pile up: a server that never reads.
      this.#failure ||=
        `the server does not read what this client sends (${this.#queuedBytes} bytes waiting)`;
      this.close();
      return;
    }
    const conn = this.#conn;
    this.#writeChain = this.#writeChain.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
    }).catch(() => {
      // A failed write surfaces as a closed connection in the read loop.
    }).finally(() => {
      if (conn === this.#conn) this.#queuedBytes -= bytes.length;
    });
  }

  async #readLoop(opened: Opened) {
    const { conn, decoder } = opened;
    const buffer = new Uint8Array(64 * 1024);
    let failure = "";
    try {
      for (const frame of opened.rest) await this.#receive(decodeMessage(frame));
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        this.bytesRead += n;
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          await this.#receive(decodeMessage(frame));
        }
      }
    } catch (error) {
      if (!this.#closing && conn === this.#conn) failure = (error as Error).message;
    } finally {
      // A connection given up after a refused hello ends quietly.
      if (conn === this.#conn && !this.#retired.has(conn)) await this.#lost(failure);
    }
  }

  /** The connection is gone: fail what waits, end the stream, tell the user. */
  async #lost(readFailure: string) {
    const failure = this.#failure || readFailure;
    // Decide before close(), which marks the session as closing.
    const expected = this.#closing && failure === "";
    this.close();
    const message = failure || "the server closed the connection";
    const error = new PeerstreamError("INTERNAL", `Lost connection to the server: ${message}`);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#registering?.reject(error);
    this.#registering = undefined;
    await this.#endStream("error");
    await this.#inbox;
    this.#events.closed?.({ expected, message });
  }

  /** Handles a message if it is one a server may send; says so and ignores it otherwise. */
  async #receive(message: Message) {
    if (isServerMessage(message)) return await this.#handle(message);
    this.#events.warning?.(
      `The server sent "${message.type}", which only clients send; ignoring it`,
      "BAD_MESSAGE",
    );
  }

  async #handle(message: ServerMessage) {
    switch (message.type) {
      case "media":
        return await this.#media(message);
      case "segment": {
        const stream = this.#stream;
        if (stream === undefined || message.streamId !== stream.info.streamId) return;
        stream.segment = message;
        stream.received = 0;
        this.#events.segment?.(message);
        return;
      }
      case "stream-end": {
        if (this.#stream?.info.streamId === message.streamId) {
          await this.#endStream(message.reason);
          this.#events.streamEnd?.(message);
        }
        if (message.re !== undefined) this.#answer(message.re, message);
        return;
      }
      case "stream-start":
        return this.#streamStart(message);
      case "welcome":
        this.#registering?.resolve(message);
        this.#registering = undefined;
        return;
      case "joined":
        if (this.peers.size >= this.#limits.maxPeers) return this.#warnPeersFull();
        if (this.peers.joined(message.name)) this.#events.joined?.(message.name);
        return;
      case "left":
        this.#keys.delete(message.name);
        if (this.peers.left(message.name)) this.#events.left?.(message.name, message.reason);
        return;
      case "deliver":
        return this.#deliver(message.rid, message.from, message.body);
      case "error":
        return this.#error(message);
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
        if ("re" in message && typeof message.re === "number") this.#answer(message.re, message);
    }
  }

  async #media(message: Extract<ServerMessage, { type: "media" }>) {
    const stream = this.#stream;
    if (stream === undefined || message.streamId !== stream.info.streamId) return;
    stream.received += message.data.length;
    const segment = stream.segment;
    if (segment !== undefined && stream.received >= segment.bytes) {
      this.#write({
        type: "seg-ack",
        streamId: segment.streamId,
        epoch: segment.epoch,
        index: segment.index,
      });
      stream.segment = undefined;
    }
    if (stream.stopping === undefined) await stream.sink.write(message.data);
  }

  #streamStart(message: StreamStartMessage) {
    // Only as the answer to this client's own play request.
    const openSink = this.#openSink;
    if (openSink === undefined || this.#pending.get(message.re)?.type !== "play") return;
    this.#openSink = undefined;
    let sink: MediaSink;
    try {
      sink = openSink(message);
    } catch (error) {
      // No player: stop the stream at once and report why.
      this.#write({ type: "stop", id: this.#nextId++ });
      this.#playback = "idle";
      this.#settle(message.re)?.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#stream = { info: message, sink, received: 0 };
    this.#playback = nextPlaybackState(this.#playback, "started");
    this.#answer(message.re, message);
  }

  #error(message: Extract<ServerMessage, { type: "error" }>) {
    const pending = message.re === undefined ? undefined : this.#settle(message.re);
    if (pending !== undefined) {
      pending.reject(new PeerstreamError(message.code, message.message));
    } else if (this.#registering !== undefined) {
      // The next attempt goes over a fresh connection, with a fresh handshake deadline: this one
      // is closed now, quietly, so that its deadline never interrupts a person choosing a name.
      this.#refused = true;
      this.#retired.add(this.#conn);
      try {
        this.#conn.close();
      } catch {
        // Closed by the server already.
      }
      this.#registering.reject(new PeerstreamError(message.code, message.message));
      this.#registering = undefined;
    } else {
      this.#events.serverError?.(message.code, message.message);
    }
  }

  /** Takes a pending request out of the table, its timer stopped. */
  #settle(re: number): Pending | undefined {
    const pending = this.#pending.get(re);
    if (pending === undefined) return undefined;
    this.#pending.delete(re);
    clearTimeout(pending.timer);
    return pending;
  }

  #answer(re: number, message: ServerMessage) {
    const pending = this.#settle(re);
    if (pending === undefined) return;
    const expected: readonly string[] = ANSWERS[pending.type];
    if (expected.includes(message.type)) {
      pending.resolve(message);
    } else {
      pending.reject(
        new PeerstreamError(
          "BAD_MESSAGE",
          `The server answered "${pending.type}" with "${message.type}"; it may be misbehaving or of another version`,
        ),
      );
    }
  }

  async #endStream(reason: "finished" | "stopped" | "error") {
    const stream = this.#stream;
    this.#stream = undefined;
    if (this.#playback !== "idle") this.#playback = nextPlaybackState(this.#playback, "ended");
    if (stream?.stopping !== undefined) {
      await stream.stopping;
    } else if (stream !== undefined) {
      try {
        await stream.sink.close(reason);
      } catch {
        // The sink (player) is already gone.
      }
    }
  }

  /**
   * Takes a delivered message into the inbox, where messages are opened one by one. What the
   * inbox holds is bounded: past it, or for a body larger than any sealed message, the message is
   * refused at once (the sender learns why) instead of held.
   */
  #deliver(rid: string, from: string, body: Uint8Array) {
    if (this.#identity === undefined) return;
    if (body.length > MAX_SEALED_BYTES) {
      this.#write({ type: "receipt", rid, ok: false, code: "BAD_MESSAGE" });
      this.#events.warning?.(
        `Rejected a message from "${from}": ${body.length} bytes exceeds the ${MAX_SEALED_BYTES}-byte limit of a sealed message; the server should not have relayed it`,
        "BAD_MESSAGE",
      );
      return;
    }
    if (
      this.#inboxCount >= this.#limits.maxInbox ||
      this.#inboxBytes + body.length > this.#limits.maxInboxBytes
    ) {
      this.#write({ type: "receipt", rid, ok: false, code: "INBOX_FULL" });
      if (!this.#inboxFullWarned) {
        this.#inboxFullWarned = true;
        this.#events.warning?.(
          `Refusing messages: this client holds ${this.#inboxCount} unopened messages (${this.#inboxBytes} bytes), its limit (INBOX_FULL); the server may be flooding it`,
          "INBOX_FULL",
        );
      }
      return;
    }
    this.#inboxCount++;
    this.#inboxBytes += body.length;
    this.#inbox = this.#inbox.then(() => this.#open(rid, from, body)).finally(() => {
      this.#inboxCount--;
      this.#inboxBytes -= body.length;
      if (this.#inboxCount < this.#limits.maxInbox / 2) this.#inboxFullWarned = false;
    });
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
      const text = error instanceof Error ? error.message : String(error);
      this.#write({ type: "receipt", rid, ok: false, code });
      this.#events.warning?.(text, code);
    }
  }
}

/** A fresh connection, greeted: its decoder and any frames that came right behind the greeting. */
interface Opened {
  conn: Deno.Conn;
  greeting: ServerHelloMessage;
  decoder: FrameDecoder;
  rest: Frame[];
}

/**
 * Connects and reads the server's greeting.
 *
 * @throws {PeerstreamError} When the server cannot be reached, does not greet in time, or speaks
 * another protocol version.
 */
async function openConnection(options: ConnectOptions): Promise<Opened> {
  const where = `${options.hostname}:${options.port}`;
  let conn: Deno.Conn;
  try {
    conn = options.tls
      ? await Deno.connectTls({
        hostname: options.hostname,
        port: options.port,
        caCerts: options.tls.caCerts,
      })
      : await Deno.connect({ hostname: options.hostname, port: options.port });
  } catch (error) {
    throw new PeerstreamError(
      "INTERNAL",
      `Cannot connect to ${where}: ${(error as Error).message}; check that the server is running`,
      { cause: error },
    );
  }
  try {
    return { conn, ...await readGreeting(conn, options.timeoutMs ?? 5000) };
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    if (error instanceof PeerstreamError) throw error;
    const text = (error as Error).message;
    const tlsHint = options.tls
      ? "the server may not use TLS; try without --tls"
      : "is it a peerstream server? if it uses TLS, add --tls";
    throw new PeerstreamError("BAD_FRAME", `Cannot talk to ${where}: ${text}; ${tlsHint}`, {
      cause: error,
    });
  }
}

async function readGreeting(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<Omit<Opened, "conn">> {
  const decoder = new FrameDecoder();
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no greeting within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const n = await Promise.race([conn.read(buffer), timeout]);
      if (n === null) throw new Error("the server closed the connection");
      const frames = decoder.push(buffer.subarray(0, n));
      if (frames.length === 0) continue;
      const message = decodeMessage(frames[0]);
      if (message.type === "error") {
        throw new PeerstreamError(message.code, message.message);
      }
      if (message.type !== "server-hello") throw new Error(`unexpected "${message.type}" first`);
      if (message.version !== PROTOCOL_VERSION) {
        throw new PeerstreamError(
          "VERSION_MISMATCH",
          `Cannot talk to the server: it speaks protocol ${message.version}, this client ${PROTOCOL_VERSION}; use a matching peerstream`,
        );
      }
      // Whatever followed the greeting in the same read is the session's to handle.
      return { greeting: message, decoder, rest: frames.slice(1) };
    }
  } finally {
    clearTimeout(timer);
  }
}
