/**
 * A client's connection to a server: handshake, requests and answers, sealed messages and
 * streams. The terminal, a page and the tests all drive it. It runs over any
 * {@linkcode ByteTransport} and uses no `Deno.*` (see `connect.ts` for the socket factory).
 *
 * `ClientSession` is a thin facade over parts in `session/`, each with one job, that it wires
 * together with the messages of `protocol/messages.ts`: the connection (`connection.ts`: read
 * loop, bounded writes, keepalive), the request table (`requests.ts`), the key cache with trust on
 * first use (`keys.ts`), the inbox (`inbox.ts`) and the stream receiver (`stream_receiver.ts`).
 * This file routes each message the server sends to its part and keeps registration and peers.
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

import { PeerstreamError } from "../protocol/errors.ts";
import { exportPublicKeys, type Identity, importPeerKeys, seal } from "../protocol/e2e.ts";
import {
  type ClientMessage,
  type Quality,
  type ServerHelloMessage,
  type StreamSeekMessage,
  type StreamStartMessage,
  type VideoSummary,
  type WelcomeMessage,
} from "../protocol/messages.ts";
import { ReplayGuard } from "../protocol/replay.ts";
import { KnownPeers } from "./known_peers.ts";
import type { PeerList } from "./peers.ts";
import type { ByteTransport } from "./transport.ts";
import { SYSTEM_CLOCK } from "./session/clock.ts";
import { Connection, type ConnectionEnd, lostConnectionError } from "./session/connection.ts";
import type { SessionEvents, SessionOptions } from "./session/events.ts";
import { type Greeted, GREETING_DEFAULT, readGreeting } from "./session/greeting.ts";
import { Inbox } from "./session/inbox.ts";
import { KeyCache, type TrustedKeys } from "./session/keys.ts";
import { CLIENT_LIMITS, type ClientLimits, REPLAY_WINDOW_MS } from "./session/limits.ts";
import { Roster } from "./session/roster.ts";
import { QueuedRoomSends } from "./session/room_queued.ts";
import { routeMessage, type SessionParts } from "./session/router.ts";
import { type AnswerTo, type RequestMessage, RequestTable } from "./session/requests.ts";
import { type MediaSink, StreamReceiver } from "./session/stream_receiver.ts";
import { StreamControl } from "./session/stream_control.ts";
import type { RoomBook } from "./session/rooms.ts";
import { sessionRooms } from "./session/room_requests.ts";
import { WatchLink } from "./session/watch_link.ts";

export { type SessionClock, SYSTEM_CLOCK } from "./session/clock.ts";
export { isConnectionLost } from "./session/connection.ts";
/** How a sent message went: confirmed by the recipient, or kept for them while offline. */
export type SendOutcome = { queued: false } | { queued: true; qseq: number };

export type { ClosedInfo, SessionEvents, SessionOptions } from "./session/events.ts";
export { type GreetingContext, oversizedFrameMessage } from "./session/greeting.ts";
export type { IncomingMessage } from "./session/inbox.ts";
export type { TrustedKeys } from "./session/keys.ts";
export type { WatchLink } from "./session/watch_link.ts";
export { CLIENT_LIMITS, type ClientLimits } from "./session/limits.ts";
export type { MediaSink } from "./session/stream_receiver.ts";
export type {
  IncomingRoomMessage,
  RoomBook,
  RoomMemory,
  RoomSendOutcome,
  RoomStorage,
  RoomView,
} from "./session/rooms.ts";

/** A connected client. */
export class ClientSession {
  readonly #events: SessionEvents;
  readonly #greeting: ServerHelloMessage;
  readonly #requests: RequestTable;
  readonly #keys: KeyCache;
  readonly #inbox: Inbox;
  readonly #receiver: StreamReceiver;
  readonly #connection: Connection;
  readonly #reading: Promise<void>;
  readonly #roster: Roster;
  readonly #rooms: RoomBook;
  readonly #roomQueued = new QueuedRoomSends();
  readonly #watch: WatchLink;
  readonly #stream: StreamControl;
  /** Why the connection ended, once it has. */
  #lostBecause?: string;

  private constructor(transport: ByteTransport, greeted: Greeted, options: SessionOptions) {
    this.#greeting = greeted.greeting;
    const events = this.#events = options.events ?? {};
    const limits: ClientLimits = { ...CLIENT_LIMITS, ...options.limits };
    const clock = options.clock ?? SYSTEM_CLOCK;
    const send = (message: ClientMessage) => this.#connection.send(message);
    const warning = (...args: Parameters<NonNullable<SessionEvents["warning"]>>) =>
      events.warning?.(...args);
    this.#requests = new RequestTable({ timeoutMs: limits.requestTimeoutMs, clock, send });
    const nextId = () => this.#requests.nextId();
    this.#keys = new KeyCache({
      known: options.knownPeers ?? new KnownPeers(),
      maxKeys: limits.maxKeys,
      lookUp: (name) => this.#request({ type: "key", id: 0, name }),
      warning,
    });
    const replay = new ReplayGuard({ storage: options.replay, windowMs: REPLAY_WINDOW_MS });
    const self = () => {
      const { name, identity } = this.#roster;
      return identity === undefined ? undefined : { name: name!, identity };
    };
    this.#inbox = new Inbox({
      ...limits,
      replay,
      self,
      keys: (name) => this.#keys.get(name),
      send,
      message: (message) => events.message?.(message),
      warning,
    });
    this.#roster = new Roster({
      challenge: greeted.greeting.challenge,
      maxPeers: limits.maxPeers,
      send,
      lost: () => this.#connection.closed ? this.#lostBecause ?? "" : undefined,
      online: (name) => this.#keys.recheck(name, (changed) => events.keyChanged?.(changed)),
      joined: (name) => events.joined?.(name),
      left: (name, reason) => events.left?.(name, reason),
      peerState: (names, state) => events.peerState?.(names, state),
      warning,
    });
    this.#receiver = new StreamReceiver({ send, nextId, warning });
    this.#stream = new StreamControl({
      receiver: this.#receiver,
      ask: (message) => this.#request(message),
      requireRegistered: () => this.#requireRegistered(),
    });
    this.#rooms = sessionRooms({
      self,
      keys: (name) => this.#keys.get(name),
      ask: (message) => this.#request(message),
      send,
      replay,
      storage: options.rooms,
      events,
      warning,
    });
    this.#watch = new WatchLink({
      ask: (message) => this.#request(message),
      find: (name) => this.#rooms.find(name),
    });
    const parts: SessionParts = {
      events,
      requests: this.#requests,
      keys: this.#keys,
      inbox: this.#inbox,
      receiver: this.#receiver,
      roster: this.#roster,
      rooms: this.#rooms,
      roomQueued: this.#roomQueued,
      connection: () => this.#connection,
    };
    this.#connection = new Connection(transport, greeted, {
      limits,
      clock,
      nextId,
      receive: (message) => routeMessage(message, parts),
      ended: (end) => this.#lost(end),
    });
    this.#reading = this.#connection.start();
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
        ...(options.greeting ?? GREETING_DEFAULT),
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
    return this.#roster.name;
  }

  /** The peers online, as the server announced them. */
  get peers(): PeerList {
    return this.#roster.peers;
  }

  /** The server's stream, while one runs (from `stream-start` to `stream-end`). */
  get stream(): StreamStartMessage | undefined {
    return this.#receiver.info;
  }

  /** The rooms this client is in or invited to, as it has checked them. */
  get rooms(): RoomBook {
    return this.#rooms;
  }

  /** Watching together: the server's clock and rooms' shared playback (issue 21). */
  get watch(): WatchLink {
    return this.#watch;
  }

  /** Whether a PLAY waits for its answer. */
  get requesting(): boolean {
    return this.#stream.requesting;
  }

  /** Whether the connection is closed (or closing). */
  get closed(): boolean {
    return this.#connection.closed;
  }

  /** Resolves when the connection has closed and the read loop ended. */
  get done(): Promise<void> {
    return this.#reading;
  }

  /** Bytes received from the server. */
  get bytesRead(): number {
    return this.#connection.bytesRead;
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
   * welcomes another name; `UNAVAILABLE` when the connection is gone.
   */
  register(
    name: string,
    identity: Identity,
    options: { ephemeral?: boolean } = {},
  ): Promise<WelcomeMessage> {
    return this.#roster.register(name, identity, options);
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
    return this.#keys.get(name);
  }

  /**
   * Whether the known-peers table remembers a key for a peer (met before, online or not).
   *
   * @param name The peer.
   */
  knows(name: string): boolean {
    return this.#keys.knows(name);
  }

  /**
   * Accepts a peer's changed key, so that messages to it are allowed again.
   *
   * @param name The peer.
   * @returns False when no changed key was pending.
   */
  acceptKey(name: string): boolean {
    return this.#keys.accept(name);
  }

  /**
   * Marks a peer's remembered key as verified out of band.
   *
   * @param name The peer.
   * @param fingerprint The fingerprint the user compared; it must be the remembered one.
   * @returns False when no key, or another key, is remembered for that peer.
   */
  verifyKey(name: string, fingerprint: string): boolean {
    return this.#keys.verify(name, fingerprint);
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
    const body = await seal(text, { from: this.#roster.name!, to, identity, recipient });
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
  play(
    title: string,
    options: {
      quality: Quality;
      position?: number;
      sink: (info: StreamStartMessage) => MediaSink;
    },
  ): Promise<StreamStartMessage> {
    return this.#stream.play(title, options);
  }

  /**
   * Stops the current stream: closes its sink at once (late media is dropped), then resolves once
   * the server confirms that no more media follows.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when no stream runs.
   */
  stop(): Promise<void> {
    return this.#stream.stop();
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
  setQuality(
    quality: Quality,
    options: { position?: number } = {},
  ): Promise<StreamSeekMessage | null> {
    return this.#stream.setQuality(quality, options);
  }

  /**
   * Holds the current stream on the server: nothing more is sent (what is in flight still
   * arrives) and no slow-consumer rule applies, until {@linkcode ClientSession.resume}.
   *
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  pause(): Promise<void> {
    return this.#stream.pause();
  }

  /**
   * Continues a held stream.
   *
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  resume(): Promise<void> {
    return this.#stream.resume();
  }

  /**
   * Jumps to the segment containing `position` (a new epoch: see {@linkcode MediaSink.seek}).
   *
   * @param position Seconds from the start of the title; past the end means the last segment.
   * @returns The `stream-seek`: where the new epoch starts and whether it is paused.
   * @throws {PeerstreamError} `NOT_PLAYING`.
   */
  seek(position: number): Promise<StreamSeekMessage> {
    return this.#stream.seek(position);
  }

  /** Says goodbye and closes. */
  async quit(): Promise<void> {
    await this.#connection.quit();
  }

  /** Closes the connection without a goodbye. */
  close(): void {
    this.#connection.close();
  }

  #requireRegistered(): Identity {
    const identity = this.#roster.identity;
    if (identity === undefined) {
      throw new PeerstreamError("NOT_REGISTERED", "Not registered yet; register a name first");
    }
    return identity;
  }

  /** A request through the table, refused at once when the connection is closed. */
  #request<M extends RequestMessage>(message: M): Promise<AnswerTo<M["type"]>> {
    if (this.#connection.closed) {
      return Promise.reject(
        new PeerstreamError("UNAVAILABLE", "Cannot send: not connected to the server; reconnect"),
      );
    }
    return this.#requests.request(message);
  }

  /** The connection is gone: fail what waits, end the stream, tell the user. */
  async #lost(end: ConnectionEnd) {
    this.#lostBecause = end.broken ?? end.message;
    const error = lostConnectionError(end);
    this.#requests.failAll(error);
    this.#roster.fail(error);
    this.#receiver.end("error");
    await this.#inbox.idle;
    this.#events.closed?.(end);
  }
}
