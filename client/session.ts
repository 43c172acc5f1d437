/**
 * A client's connection to a server: handshake, requests and answers, sealed messages and
 * streams. The terminal, a page and the tests all drive it. It runs over any
 * {@linkcode ByteTransport} and uses no `Deno.*` (see `connect.ts` for the socket factory).
 *
 * The read loop never waits for anything but the transport: media goes to the
 * {@linkcode MediaSink} as it arrives (the sink queues it), each segment is acknowledged the
 * moment its last byte is read, and chat, receipts, pings and answers are handled on arrival.
 *
 * It does not trust the server: every answer is checked against the type its request takes,
 * and what a server can make it hold (peers, unopened messages, cached keys, unanswered requests,
 * unwritten bytes) is bounded by {@linkcode CLIENT_LIMITS}.
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
import {
  type Frame,
  FrameDecoder,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
} from "../protocol/frame.ts";
import {
  type ClientMessage,
  decodeMessage,
  encodeMessage,
  isServerMessage,
  type LeaveReason,
  MAX_SEALED_BYTES,
  type Message,
  type PeerReachability,
  PROTOCOL_VERSION,
  type Quality,
  type SegmentMessage,
  type ServerHelloMessage,
  type ServerMessage,
  type StreamEndMessage,
  type StreamEndReason,
  type StreamSeekMessage,
  type StreamStartMessage,
  type VideoSummary,
  type WelcomeMessage,
} from "../protocol/messages.ts";
import { normalizeName } from "../protocol/names.ts";
import { showName } from "../protocol/shown_name.ts";
import { escapeName } from "../protocol/text.ts";
import { ReplayGuard, type ReplayStorage } from "../protocol/replay.ts";
import { type KeyTrust, KnownPeers } from "./known_peers.ts";
import { PeerList } from "./peers.ts";
import type { ByteTransport } from "./transport.ts";

/**
 * Where a stream's media goes: the playout queue of a player, a validator, a test. Every call is
 * made as the data arrives and is never awaited, so a sink must queue (bounded) rather than block.
 */
export interface MediaSink {
  /** Media bytes of the current epoch, in order. */
  write(data: Uint8Array): void;
  /** The stream ended; no more media follows. `finished` lets the sink play out what it has. */
  close(reason: StreamEndReason, end?: StreamEndMessage): void;
  /** A segment begins: its `bytes` follow. */
  segment?(segment: SegmentMessage): void;
  /** The stream jumped to a new epoch: the bytes that follow start at segment `seek.index`. */
  seek?(seek: StreamSeekMessage): void;
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
  /** It waited on the server while this client was offline (sent earlier, at `sentAt`). */
  queued?: boolean;
}

/** How a sent message went: confirmed by the recipient, or kept for them while offline. */
export type SendOutcome = { queued: false } | { queued: true; qseq: number };

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
  /**
   * Peers online on another server of a cluster became unreachable (that server lost contact with
   * the others; they have not left), or reachable again.
   */
  peerState?(names: string[], state: PeerReachability): void;
  /** A message arrived and was verified. */
  message?(message: IncomingMessage): void;
  /**
   * Something arrived that must not be shown as genuine (bad signature, replay, changed key, a
   * look-alike name), or the server misbehaved. `from` names the sender, as the server gave it,
   * when the warning is about a message (a flood of them is summarised per sender).
   */
  warning?(text: string, code: ErrorCode, from?: string): void;
  /** A segment of the current stream began. */
  segment?(segment: SegmentMessage): void;
  /** The current stream ended. */
  streamEnd?(end: StreamEndMessage): void;
  /**
   * A message this client (maybe in an earlier session) queued for an offline peer was opened by
   * them (`delivered`), or expired unread on the server (`expired`).
   */
  queueNotice?(kind: "delivered" | "expired", to: string, qseq: number): void;
  /** The server is shutting down. */
  shutdown?(message: string): void;
  /** An error the server sent that answers no request. */
  serverError?(code: ErrorCode, message: string): void;
  /**
   * The server pushed the list: a title this client asked to play while it was being prepared is
   * ready now (or failed). It comes as a `videos` answering that `play` again.
   */
  videos?(videos: VideoSummary[]): void;
  /**
   * The connection closed; `expected` after QUIT. `broken` is set when the server broke the
   * protocol beyond repair (a frame over the size cap): a whole `Cannot …` sentence to show as it
   * is, rather than as a lost connection.
   */
  closed?(info: ClosedInfo): void;
  /**
   * A peer in the known-peers table came online with another key than the one remembered (checked
   * when it joins, or is online at welcome; peers never seen before cost no key lookup).
   */
  keyChanged?(name: string): void;
}

/** Options for {@linkcode ClientSession.open}. */
export interface SessionOptions {
  /** How long to wait for the server's greeting, ms. @default {5000} */
  timeoutMs?: number;
  /** Callbacks. */
  events?: SessionEvents;
  /** Trust-on-first-use store; in memory when absent. */
  knownPeers?: KnownPeers;
  /**
   * Where the replay guard's state persists, so replays are caught after a restart (a file for
   * the terminal, see `identity.ts`; IndexedDB in a page); in memory when absent.
   */
  replay?: ReplayStorage;
  /** Bounds on what the server can make this client hold; see {@linkcode CLIENT_LIMITS}. */
  limits?: Partial<ClientLimits>;
  /**
   * How a failed greeting names the server and what it tells the person to try, e.g.
   * `{ server: "host:7878", remedy: "if it uses TLS, add --tls" }`.
   * @default {{ server: "the server", remedy: "check that it is a peerstream server" }}
   */
  greeting?: GreetingContext;
}

/** See {@linkcode SessionOptions.greeting}. */
export interface GreetingContext {
  /** The server as the person knows it (`HOST:PORT`, a URL). */
  server: string;
  /** What to try when it does not greet as a peerstream server does. */
  remedy: string;
}

const _GREETING_DEFAULT: GreetingContext = {
  server: "the server",
  remedy: "check that it is a peerstream server",
};

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
  /** Silence from the server after which the client pings it, ms. */
  keepaliveMs: number;
  /** Silence from the server after which the client gives up on it, ms. */
  silenceMs: number;
}

/**
 * The defaults: 100,000 peers (what `welcome` may list), 1,024 unopened messages or 8 MiB (what
 * an honest server's relay budgets let through: 1,024 or 4 MiB), 1,024 cached keys, 60 s per
 * answer, 8 MiB of unwritten data; a ping after 30 s of silence from the server and a lost
 * connection after 90 s (the server's own keepalive rule), so a silently dead server is noticed. Media is not held here: the session hands it to the
 * {@linkcode MediaSink} as it arrives, and the terminal's sink, the playout queue, has its own
 * bound (`PLAYOUT_DEFAULTS` in `playout.ts`: the stream is held at 10 s queued and refused past
 * 16 s or 64 MiB).
 */
export const CLIENT_LIMITS: Readonly<ClientLimits> = {
  maxPeers: 100_000,
  maxInbox: 1024,
  maxInboxBytes: 8 * 1024 * 1024,
  maxKeys: 1024,
  requestTimeoutMs: 60_000,
  maxQueuedBytes: 8 * 1024 * 1024,
  keepaliveMs: 30_000,
  silenceMs: 90_000,
};

/**
 * How old a message may be (protocol version 3): 15 days, so that one the server kept 14 days
 * for this client while it was offline still opens. Replays stay refused: every id is remembered
 * this long, or until 4,096 newer ones push the floor past it.
 */
const REPLAY_WINDOW_MS = 15 * 24 * 3600 * 1000;

/** Which answers each request takes (an `error` answers any). */
const ANSWERS = {
  list: ["videos"],
  key: ["key-info"],
  send: ["delivered", "queued"],
  play: ["stream-start"],
  stop: ["stream-end"],
  quality: ["ok", "stream-seek"],
  pause: ["ok"],
  resume: ["ok"],
  seek: ["stream-seek"],
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
  epoch: number;
  /** The segment whose bytes are arriving; none between a jump and the next segment. */
  segment?: SegmentMessage;
  received: number;
  /** STOP was asked: the sink was closed and late media is dropped. */
  stopping: boolean;
}

/** How the connection ended, for {@linkcode SessionEvents.closed}. */
export interface ClosedInfo {
  /** After QUIT (or `close()`), with nothing wrong. */
  expected: boolean;
  /** Why it ended, e.g. `the server closed the connection`. */
  message: string;
  /** The whole error when the server sent something no peerstream server sends; else undefined. */
  broken?: string;
}

/**
 * What a client says of a frame header over the cap, from a broken or hostile server (or another
 * protocol on the port): the declared length and the limit, then what it means.
 *
 * @param error The decoder's error.
 * @returns `Cannot read from the server: it sent a frame of N bytes, over the 1 MiB limit; …`.
 */
export function oversizedFrameMessage(error: FrameTooLargeError): string {
  return `Cannot read from the server: it sent a frame of ${error.declared} bytes, over the ${
    MAX_FRAME_BYTES / 2 ** 20
  } MiB limit; the server is broken or not a peerstream server`;
}

const lostErrors = new WeakSet<object>();

/**
 * Whether a request failed only because the connection was lost: `closed` reports that once, so
 * a caller need not show each request's failure too.
 *
 * @param error What a request rejected with.
 * @returns True for the error requests get when the connection ends under them.
 */
export function isConnectionLost(error: unknown): boolean {
  return typeof error === "object" && error !== null && lostErrors.has(error);
}

/** A transport the server has greeted: its decoder and any frames that came right behind. */
interface Greeted {
  greeting: ServerHelloMessage;
  decoder: FrameDecoder;
  rest: Frame[];
}

/** A connected client. */
export class ClientSession {
  readonly #transport: ByteTransport;
  readonly #events: SessionEvents;
  readonly #known: KnownPeers;
  readonly #limits: ClientLimits;
  readonly #greeting: ServerHelloMessage;
  readonly peers = new PeerList();
  #nextId = 1;
  #pending = new Map<number, Pending>();
  /** A `hello` waiting for its answer: who registers, and how to settle {@linkcode register}. */
  #registering?: {
    name: string;
    identity: Identity;
    resolve: (m: WelcomeMessage) => void;
    reject: (e: Error) => void;
  };
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
  #requesting = false;
  #stream?: Stream;
  #openSink?: (info: StreamStartMessage) => MediaSink;
  #closing = false;
  #closed = false;
  /** Why the client itself gave up on the connection, if it did. */
  #failure = "";
  #reading: Promise<void>;
  #writeChain: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  #lastReadAt = Date.now();
  #pinged = false;
  #keepalive: ReturnType<typeof setInterval>;
  /** Bytes received from the server. */
  bytesRead = 0;

  private constructor(transport: ByteTransport, greeted: Greeted, options: SessionOptions) {
    this.#transport = transport;
    this.#greeting = greeted.greeting;
    this.#events = options.events ?? {};
    this.#known = options.knownPeers ?? new KnownPeers();
    this.#limits = { ...CLIENT_LIMITS, ...options.limits };
    this.#replay = new ReplayGuard({ storage: options.replay, windowMs: REPLAY_WINDOW_MS });
    const every = Math.max(10, Math.min(this.#limits.keepaliveMs / 3, 10_000));
    this.#keepalive = setInterval(() => this.#checkSilence(Date.now()), every);
    this.#reading = this.#readLoop(greeted);
  }

  /**
   * Starts a session over a transport: waits for the server's greeting.
   *
   * @param transport The byte stream to the server (see `connect.ts` for sockets).
   * @param options Greeting timeout, callbacks, the known-peers table, the replay guard's storage
   * and the client's limits.
   * @returns The session, not yet registered.
   * @throws {PeerstreamError} `UNAVAILABLE` when the server does not greet in time or closes
   * first, `BAD_FRAME` when the bytes are not a peerstream greeting (e.g. TLS against plain TCP),
   * `VERSION_MISMATCH`, or the server's own error; the transport is closed then.
   */
  static async open(
    transport: ByteTransport,
    options: SessionOptions = {},
  ): Promise<ClientSession> {
    try {
      const greeted = await readGreeting(transport, {
        timeoutMs: options.timeoutMs ?? 5000,
        ...(options.greeting ?? _GREETING_DEFAULT),
      });
      return new ClientSession(transport, greeted, options);
    } catch (error) {
      try {
        transport.close();
      } catch {
        // Already closed.
      }
      throw error;
    }
  }

  /** The server software, from its greeting. */
  get server(): string {
    return this.#greeting.server;
  }

  /** The registered name, once registered. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The server's stream, while one runs (from `stream-start` to `stream-end`). */
  get stream(): StreamStartMessage | undefined {
    return this.#stream?.stopping === false ? this.#stream.info : undefined;
  }

  /** Whether a PLAY waits for its answer. */
  get requesting(): boolean {
    return this.#requesting;
  }

  /** Whether the connection is closed (or closing). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection has closed and the read loop ended. */
  get done(): Promise<void> {
    return this.#reading;
  }

  /**
   * Registers a name. On a refusal (`NAME_TAKEN`, `NAME_CONFUSABLE`, …) the connection stays open
   * until the server's handshake deadline, which counts from connect, and the server closes it at
   * its third refused `hello`: a person choosing another name should reconnect (the terminal
   * client does, for each attempt).
   *
   * @param name The name to register.
   * @param identity The key pairs; the server checks a signature of its challenge.
   * @param options `ephemeral`: the server holds the name only while this connection lasts.
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
    const keys = await exportPublicKeys(identity);
    const proof = await signChallenge(
      identity,
      Uint8Array.fromBase64(this.#greeting.challenge),
      normalized,
    );
    const answer = new Promise<WelcomeMessage>((resolve, reject) => {
      this.#registering = { name: normalized, identity, resolve, reject };
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
    return await answer;
  }

  /**
   * Applies the answer to `hello` at once, in the read loop: whatever followed it in the same
   * read (a joiner, a message sent the moment this client joined) finds it registered.
   */
  #welcomed(welcome: WelcomeMessage) {
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
    this.peers.reset(welcome.name, this.#boundedPeers([...welcome.peers, ...unreachable]));
    for (const peer of this.peers.names()) this.#checkKnownKey(peer);
    const shown = unreachable.filter((n) => this.peers.has(n));
    if (shown.length > 0) this.#events.peerState?.(shown, "unreachable");
    registering.resolve(welcome);
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

  /**
   * The fingerprint of this client's own keys, as peers see it in WHO and VERIFY.
   *
   * @returns Hex digits.
   * @throws {PeerstreamError} `NOT_REGISTERED` before registration.
   */
  async fingerprint(): Promise<string> {
    const identity = this.#requireRegistered();
    return (await importPeerKeys(await exportPublicKeys(identity))).fingerprint;
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
        `"${showName(name)}" is new to you and looks like "${
          showName(lookalike)
        }", a peer you know; compare fingerprints with VERIFY ${
          escapeName(name)
        } before trusting it`,
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
   * Whether the known-peers table remembers a key for a peer (met before, online or not).
   *
   * @param name The peer.
   */
  knows(name: string): boolean {
    return this.#known.fingerprint(name) !== undefined;
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
   * Seals a text for one peer and waits until the peer's client confirms it, or the server keeps
   * it for them while they are offline (then `queueNotice` tells of its delivery later).
   *
   * @param to The recipient.
   * @param text The text.
   * @returns Whether it was delivered or queued.
   * @throws {PeerstreamError} `UNKNOWN_PEER`, `PEER_OFFLINE`, `KEY_CHANGED`, `MESSAGE_TOO_LARGE`,
   * or the recipient's rejection code.
   */
  async sendText(to: string, text: string): Promise<SendOutcome> {
    const identity = this.#requireRegistered();
    const recipient = await this.peerKeys(to);
    if (recipient.trust === "changed") {
      throw new PeerstreamError(
        "KEY_CHANGED",
        `Cannot send to "${to}": their key changed since you last talked; run VERIFY ${to} and ACCEPT ${to} if you trust it`,
      );
    }
    const body = await seal(text, { from: this.#name!, to, identity, recipient });
    const answer = await this.#request({ type: "send", id: 0, to, body });
    return answer.type === "queued" ? { queued: true, qseq: answer.qseq } : { queued: false };
  }

  /**
   * Starts a stream, replacing one that runs (its sink is closed with `stopped` first); media goes
   * to the sink until the stream ends.
   *
   * @param title The title.
   * @param options The quality, where to start, and a factory that opens the sink once the
   * metadata is known; if it throws, the stream is stopped and the error rejects this call.
   * @returns The stream's metadata.
   */
  async play(
    title: string,
    options: {
      quality: Quality;
      position?: number;
      sink: (info: StreamStartMessage) => MediaSink;
    },
  ): Promise<StreamStartMessage> {
    this.#requireRegistered();
    // The "stream-start" handler opens the sink and answers the request, so that no media
    // arriving right behind stream-start is missed.
    this.#openSink = options.sink;
    this.#requesting = true;
    try {
      return await this.#request({
        type: "play",
        id: 0,
        title,
        quality: options.quality,
        ...(options.position === undefined ? {} : { position: options.position }),
      });
    } finally {
      this.#openSink = undefined;
      this.#requesting = false;
    }
  }

  /**
   * Stops the current stream: closes its sink at once (late media is dropped), then resolves once
   * the server confirms that no more media follows.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when no stream runs.
   */
  async stop(): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined || stream.stopping) {
      throw new PeerstreamError(
        "NOT_PLAYING",
        "Cannot stop: nothing is playing; PLAY a title first",
      );
    }
    stream.stopping = true;
    try {
      stream.sink.close("stopped");
    } catch {
      // The sink (player) is already gone.
    }
    try {
      await this.#request({ type: "stop", id: 0 });
    } catch (error) {
      if (!(error instanceof PeerstreamError && error.code === "NOT_PLAYING")) throw error;
      // The stream had already ended on the server.
    }
  }

  /**
   * Changes the quality of the current stream. Without a position it applies from the next
   * segment boundary (how `auto` is turned on and off); with one, the server jumps there in the
   * new rendition (a new epoch: see {@linkcode MediaSink.seek}).
   *
   * @param quality A height, or `auto`.
   * @param options `position`: the second on screen now.
   * @returns The `stream-seek` of the jump, or null without a position.
   * @throws {PeerstreamError} `NOT_PLAYING`, `RENDITION_NOT_FOUND`; `BAD_MESSAGE` when the server
   * answers a jump with a plain `ok`.
   */
  async setQuality(
    quality: Quality,
    options: { position?: number } = {},
  ): Promise<StreamSeekMessage | null> {
    const answer = await this.#request({
      type: "quality",
      id: 0,
      quality,
      ...(options.position === undefined ? {} : { position: options.position }),
    });
    if (answer.type === "stream-seek") return answer;
    if (options.position !== undefined) {
      throw new PeerstreamError(
        "BAD_MESSAGE",
        `The server answered "quality" at a position with "ok", not "stream-seek"; it may be misbehaving or of another version`,
      );
    }
    return null;
  }

  /**
   * Holds the current stream on the server: nothing more is sent (what is in flight still
   * arrives) and no slow-consumer rule applies, until {@linkcode ClientSession.resume}.
   *
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  async pause(): Promise<void> {
    await this.#request({ type: "pause", id: 0 });
  }

  /**
   * Continues a held stream.
   *
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  async resume(): Promise<void> {
    await this.#request({ type: "resume", id: 0 });
  }

  /**
   * Jumps to the segment containing `position` (a new epoch: see {@linkcode MediaSink.seek}).
   *
   * @param position Seconds from the start of the title; past the end means the last segment.
   * @returns The `stream-seek`: where the new epoch starts and whether it is paused.
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  async seek(position: number): Promise<StreamSeekMessage> {
    return await this.#request({ type: "seek", id: 0, position });
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
    clearInterval(this.#keepalive);
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#transport.close();
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
        new PeerstreamError("UNAVAILABLE", "Cannot send: not connected to the server; reconnect"),
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
    this.#writeChain = this.#writeChain.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await this.#transport.write(bytes.subarray(at));
    }).catch(() => {
      // A failed write surfaces as a closed connection in the read loop.
    }).finally(() => {
      this.#queuedBytes -= bytes.length;
    });
  }

  async #readLoop(greeted: Greeted) {
    const buffer = new Uint8Array(64 * 1024);
    let failure = "";
    let broken: string | undefined;
    try {
      for (const frame of greeted.rest) this.#receive(decodeMessage(frame));
      while (true) {
        const n = await this.#transport.read(buffer);
        if (n === null) break;
        this.bytesRead += n;
        this.#lastReadAt = Date.now();
        this.#pinged = false;
        for (const frame of greeted.decoder.push(buffer.subarray(0, n))) {
          this.#receive(decodeMessage(frame));
        }
      }
    } catch (error) {
      if (error instanceof FrameTooLargeError) broken = oversizedFrameMessage(error);
      if (!this.#closing) failure = (error as Error).message;
    } finally {
      await this.#lost(failure, broken);
    }
  }

  /**
   * Pings a server that has been silent for `keepaliveMs`, and gives up on one silent for
   * `silenceMs`: without it a server that vanished without closing (power cut, cable) would only
   * be noticed at the next request.
   */
  #checkSilence(now: number) {
    if (this.#closed) return;
    const silent = now - this.#lastReadAt;
    if (silent > this.#limits.silenceMs) {
      this.#failure ||= `the server sent nothing for ${Math.round(silent / 1000)} s`;
      this.close();
    } else if (silent > this.#limits.keepaliveMs && !this.#pinged) {
      this.#pinged = true;
      this.#write({ type: "ping", id: this.#nextId++ });
    }
  }

  /** The connection is gone: fail what waits, end the stream, tell the user. */
  async #lost(readFailure: string, broken?: string) {
    const failure = this.#failure || readFailure;
    // Decide before close(), which marks the session as closing.
    const expected = this.#closing && failure === "";
    this.close();
    const message = failure || "the server closed the connection";
    const error = broken !== undefined
      ? new PeerstreamError("BAD_FRAME", broken)
      : new PeerstreamError("UNAVAILABLE", `Lost connection to the server: ${message}`);
    lostErrors.add(error);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#registering?.reject(error);
    this.#registering = undefined;
    this.#endStream("error");
    await this.#inbox;
    this.#events.closed?.({ expected, message, broken });
  }

  /** Handles a message if it is one a server may send; says so and ignores it otherwise. */
  #receive(message: Message) {
    if (isServerMessage(message)) return this.#handle(message);
    this.#events.warning?.(
      `The server sent "${message.type}", which only clients send; ignoring it`,
      "BAD_MESSAGE",
    );
  }

  /** Handles one message at once; nothing here waits (opening a message runs on the side). */
  #handle(message: ServerMessage) {
    switch (message.type) {
      case "media":
        return this.#media(message.streamId, message.data);
      case "segment": {
        const stream = this.#stream;
        if (stream === undefined || message.streamId !== stream.info.streamId) return;
        if (message.epoch !== stream.epoch) return;
        stream.segment = message;
        stream.received = 0;
        if (!stream.stopping) this.#toSink(stream, (sink) => sink.segment?.(message));
        this.#events.segment?.(message);
        return;
      }
      case "stream-seek":
        return this.#streamSeek(message);
      case "stream-end": {
        if (this.#stream?.info.streamId === message.streamId) {
          this.#endStream(message.reason, message);
          this.#events.streamEnd?.(message);
        }
        if (message.re !== undefined) this.#answer(message.re, message);
        return;
      }
      case "stream-start":
        return this.#streamStart(message);
      default:
        return this.#handleOther(message);
    }
  }

  #handleOther(message: ServerMessage) {
    switch (message.type) {
      case "welcome":
        return this.#welcomed(message);
      case "joined":
        if (this.peers.size >= this.#limits.maxPeers) return this.#warnPeersFull();
        if (this.peers.joined(message.name)) {
          this.#events.joined?.(message.name);
          this.#checkKnownKey(message.name);
        }
        return;
      case "left":
        this.#keys.delete(message.name);
        if (this.peers.left(message.name)) this.#events.left?.(message.name, message.reason);
        return;
      case "peer-state": {
        // Only peers this client lists: they stay online, reachable or not.
        const names = message.names.filter((n) => this.peers.has(n));
        if (names.length > 0) this.#events.peerState?.(names, message.state);
        return;
      }
      case "deliver":
        return this.#deliver(message.rid, message.from, message.body, message.queued === true);
      case "delivered":
        // A queued message's confirmation answers no request of this connection.
        if (message.qseq === undefined) return this.#answer(message.re, message);
        this.#events.queueNotice?.("delivered", message.to, message.qseq);
        return;
      case "expired":
        this.#events.queueNotice?.("expired", message.to, message.qseq);
        return;
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
        return;
      default:
        if ("re" in message && typeof message.re === "number") this.#answer(message.re, message);
    }
  }

  #media(streamId: number, data: Uint8Array) {
    const stream = this.#stream;
    if (stream === undefined || streamId !== stream.info.streamId) return;
    // Bytes of a segment cut short by a jump belong to no epoch: drop them.
    const segment = stream.segment;
    if (segment === undefined) return;
    stream.received += data.length;
    if (stream.received >= segment.bytes) {
      // Acknowledged on receipt, whatever the player does: auto measures the network.
      this.#write({
        type: "seg-ack",
        streamId: segment.streamId,
        epoch: segment.epoch,
        index: segment.index,
      });
      stream.segment = undefined;
    }
    if (!stream.stopping) this.#toSink(stream, (sink) => sink.write(data));
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
      this.#settle(message.re)?.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#stream = { info: message, sink, epoch: message.epoch, received: 0, stopping: false };
    this.#answer(message.re, message);
  }

  /** A jump: a new epoch of the running stream, only as the answer to a seek or quality. */
  #streamSeek(message: StreamSeekMessage) {
    const type = this.#pending.get(message.re)?.type;
    const stream = this.#stream;
    if (
      (type === "seek" || type === "quality") && stream !== undefined &&
      message.streamId === stream.info.streamId
    ) {
      stream.epoch = message.epoch;
      stream.segment = undefined;
      if (!stream.stopping) this.#toSink(stream, (sink) => sink.seek?.(message));
    }
    this.#answer(message.re, message);
  }

  #error(message: Extract<ServerMessage, { type: "error" }>) {
    const pending = message.re === undefined ? undefined : this.#settle(message.re);
    if (pending !== undefined) {
      pending.reject(new PeerstreamError(message.code, message.message));
    } else if (this.#registering !== undefined) {
      this.#registering.reject(new PeerstreamError(message.code, message.message));
      this.#registering = undefined;
    } else {
      this.#events.serverError?.(message.code, message.message);
    }
  }

  /** Calls the sink; a sink that throws loses the stream, never the connection. */
  #toSink(stream: Stream, call: (sink: MediaSink) => void) {
    try {
      call(stream.sink);
    } catch (error) {
      stream.stopping = true;
      this.#write({ type: "stop", id: this.#nextId++ });
      this.#events.warning?.(
        `Stopped "${stream.info.title}": the player failed (${(error as Error).message})`,
        "INTERNAL",
      );
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
    if (pending === undefined) {
      // A `play` refused while its title was being prepared is answered again once it is ready.
      if (message.type === "videos") this.#events.videos?.(message.videos);
      return;
    }
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

  #endStream(reason: StreamEndReason, end?: StreamEndMessage) {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined || stream.stopping) return;
    try {
      stream.sink.close(reason, end);
    } catch {
      // The sink (player) is already gone.
    }
  }

  /** A peer met before came online: look its key up once, and say so if it changed. */
  #checkKnownKey(name: string) {
    if (!this.knows(name)) return;
    this.peerKeys(name).then(
      (keys) => {
        if (keys.trust === "changed") this.#events.keyChanged?.(name);
      },
      () => {
        // It left meanwhile, or the connection closed: nothing to announce.
      },
    );
  }

  /**
   * Takes a delivered message into the inbox, where messages are opened one by one. What the
   * inbox holds is bounded: past it, or for a body larger than any sealed message, the message is
   * refused at once (the sender learns why) instead of held.
   */
  #deliver(rid: string, from: string, body: Uint8Array, queued: boolean) {
    if (this.#identity === undefined) return;
    if (body.length > MAX_SEALED_BYTES) {
      this.#write({ type: "receipt", rid, ok: false, code: "BAD_MESSAGE" });
      this.#events.warning?.(
        `Rejected a message from "${from}": ${body.length} bytes exceeds the ${MAX_SEALED_BYTES}-byte limit of a sealed message; the server should not have relayed it`,
        "BAD_MESSAGE",
        from,
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
    this.#inbox = this.#inbox.then(() => this.#open(rid, from, body, queued)).finally(() => {
      this.#inboxCount--;
      this.#inboxBytes -= body.length;
      if (this.#inboxCount < this.#limits.maxInbox / 2) this.#inboxFullWarned = false;
    });
  }

  async #open(rid: string, from: string, body: Uint8Array, queued: boolean) {
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
        ...(queued ? { queued } : {}),
        trust: sender.trust,
        ...(sender.lookalike === undefined ? {} : { lookalike: sender.lookalike }),
      });
    } catch (error) {
      const code = error instanceof PeerstreamError ? error.code : "DECRYPT_FAILED";
      if (queued && code === "REPLAYED") {
        // A queued message sent again (its receipt was lost, say in a crash): shown already,
        // so confirmed without showing it twice (docs/PROTOCOL.md, sealed offline delivery).
        this.#write({ type: "receipt", rid, ok: true });
        return;
      }
      const text = error instanceof Error ? error.message : String(error);
      this.#write({ type: "receipt", rid, ok: false, code });
      this.#events.warning?.(text, code, from);
    }
  }
}

/**
 * Reads the server's greeting from a fresh transport.
 *
 * @returns The greeting, the decoder, and whatever followed the greeting in the same read (the
 * session's to handle).
 */
async function readGreeting(
  transport: ByteTransport,
  options: GreetingContext & { timeoutMs: number },
): Promise<Greeted> {
  const { server, remedy, timeoutMs } = options;
  const cannot = (code: ErrorCode, why: string, cause?: unknown) =>
    new PeerstreamError(code, `Cannot talk to ${server}: ${why}; ${remedy}`, { cause });
  const decoder = new FrameDecoder();
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(cannot("UNAVAILABLE", `no greeting within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const n = await Promise.race([
        transport.read(buffer).catch((error: Error) => {
          // Bytes that are not TLS (or TLS to a plain server) fail as invalid data.
          throw cannot(
            error.name === "InvalidData" ? "BAD_FRAME" : "UNAVAILABLE",
            error.message,
            error,
          );
        }),
        timeout,
      ]);
      if (n === null) throw cannot("UNAVAILABLE", "it closed the connection before greeting");
      const frames = pushGreeting(decoder, buffer.subarray(0, n));
      if (frames.length === 0) continue;
      let message: Message;
      try {
        message = decodeMessage(frames[0]);
      } catch (error) {
        throw cannot("BAD_FRAME", (error as Error).message, error);
      }
      if (message.type === "error") {
        throw new PeerstreamError(message.code, message.message);
      }
      if (message.type !== "server-hello") {
        throw cannot("BAD_FRAME", `unexpected "${message.type}" first`);
      }
      if (message.version !== PROTOCOL_VERSION) {
        throw new PeerstreamError(
          "VERSION_MISMATCH",
          `Cannot talk to ${server}: it speaks protocol ${message.version}, this client ${PROTOCOL_VERSION}; use a matching peerstream`,
        );
      }
      return { greeting: message, decoder, rest: frames.slice(1) };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Decodes greeting bytes; a frame over the cap is the server's fault, said as such. */
function pushGreeting(decoder: FrameDecoder, bytes: Uint8Array): Frame[] {
  try {
    return decoder.push(bytes);
  } catch (error) {
    if (!(error instanceof FrameTooLargeError)) throw error;
    throw new PeerstreamError("BAD_FRAME", oversizedFrameMessage(error), { cause: error });
  }
}
