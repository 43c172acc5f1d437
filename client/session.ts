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
  ReplayGuard,
  seal,
  signChallenge,
} from "../protocol/e2e.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  type LeaveReason,
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
}

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
}

interface Pending {
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
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
  readonly #conn: Deno.Conn;
  readonly #events: SessionEvents;
  readonly #known: KnownPeers;
  readonly #greeting: ServerHelloMessage;
  readonly peers = new PeerList();
  #decoder = new FrameDecoder();
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #registering?: Pending;
  #identity?: Identity;
  #name?: string;
  #keys = new Map<string, PeerKeys & { trust: KeyTrust }>();
  #replay = new ReplayGuard();
  #inbox: Promise<void> = Promise.resolve();
  #playback: PlaybackState = "idle";
  #stream?: Stream;
  #openSink?: (info: StreamStartMessage) => MediaSink;
  #closing = false;
  #closed = false;
  #reading: Promise<void>;
  #writeChain: Promise<void> = Promise.resolve();
  /** Bytes received from the server. */
  bytesRead = 0;

  private constructor(conn: Deno.Conn, greeting: ServerHelloMessage, options: ConnectOptions) {
    this.#conn = conn;
    this.#greeting = greeting;
    this.#events = options.events ?? {};
    this.#known = options.knownPeers ?? new KnownPeers();
    this.#reading = this.#readLoop();
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
    const timeoutMs = options.timeoutMs ?? 5000;
    let greeting: { message: ServerHelloMessage };
    try {
      greeting = await readGreeting(conn, timeoutMs);
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
    // The server says nothing more until the client's hello, so no bytes follow the greeting.
    return new ClientSession(conn, greeting.message, options);
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
   * Registers a name. On `NAME_TAKEN` or `NAME_INVALID` the connection stays open: call again
   * with another name.
   *
   * @param name The name to register.
   * @param identity The key pairs; the server checks a signature of its challenge.
   * @returns The welcome, with the peers online.
   * @throws {PeerstreamError} With the server's code when refused.
   */
  async register(name: string, identity: Identity): Promise<WelcomeMessage> {
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
    const welcome = await answer as WelcomeMessage;
    this.#identity = identity;
    this.#name = welcome.name;
    this.peers.reset(welcome.name, welcome.peers);
    return welcome;
  }

  /** Lists the server's videos. */
  async list(): Promise<VideoSummary[]> {
    const answer = await this.#request({ type: "list", id: 0 });
    return (answer as Extract<ServerMessage, { type: "videos" }>).videos;
  }

  /**
   * Gets a peer's public keys from the server, checks them against the known-peers table and
   * caches them.
   *
   * @param name The peer.
   * @returns The keys and how far they are trusted.
   */
  async peerKeys(name: string): Promise<PeerKeys & { trust: KeyTrust }> {
    const cached = this.#keys.get(name);
    if (cached !== undefined) return cached;
    const info = await this.#request({ type: "key", id: 0, name }) as Extract<
      ServerMessage,
      { type: "key-info" }
    >;
    const keys = await importPeerKeys(info);
    const trust = this.#known.check(name, keys.fingerprint);
    const entry = { ...keys, trust };
    if (trust !== "changed") this.#keys.set(name, entry);
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
      return await this.#request({
        type: "play",
        id: 0,
        title,
        quality: options.quality,
      }) as StreamStartMessage;
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

  #request(message: Message & { id: number }): Promise<ServerMessage> {
    if (this.#closed) {
      return Promise.reject(
        new PeerstreamError("INTERNAL", "Not connected to the server; reconnect"),
      );
    }
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
    this.#writeChain = this.#writeChain.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
    }).catch(() => {
      // A failed write surfaces as a closed connection in the read loop.
    });
  }

  async #readLoop() {
    const buffer = new Uint8Array(64 * 1024);
    let failure = "";
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.bytesRead += n;
        for (const frame of this.#decoder.push(buffer.subarray(0, n))) {
          await this.#handle(decodeMessage(frame) as ServerMessage);
        }
      }
    } catch (error) {
      if (!this.#closing) failure = (error as Error).message;
    } finally {
      // Decide before close(), which marks the session as closing.
      const expected = this.#closing && failure === "";
      this.close();
      const message = failure || "the server closed the connection";
      const error = new PeerstreamError("INTERNAL", `Lost connection to the server: ${message}`);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      this.#registering?.reject(error);
      this.#registering = undefined;
      await this.#endStream("error");
      await this.#inbox;
      this.#events.closed?.({ expected, message });
    }
  }

  async #handle(message: ServerMessage) {
    switch (message.type) {
      case "media": {
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
        return;
      }
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
      case "stream-start": {
        const openSink = this.#openSink;
        this.#openSink = undefined;
        if (openSink === undefined) return;
        let sink: MediaSink;
        try {
          sink = openSink(message);
        } catch (error) {
          // No player: stop the stream at once and report why.
          this.#write({ type: "stop", id: this.#nextId++ });
          this.#playback = "idle";
          const pending = this.#pending.get(message.re);
          this.#pending.delete(message.re);
          pending?.reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.#stream = { info: message, sink, received: 0 };
        this.#playback = nextPlaybackState(this.#playback, "started");
        this.#answer(message.re, message);
        return;
      }
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
      case "deliver": {
        const inbox = this.#inbox.then(() => this.#open(message.rid, message.from, message.body));
        this.#inbox = inbox;
        return;
      }
      case "error": {
        if (message.re !== undefined && this.#pending.has(message.re)) {
          const pending = this.#pending.get(message.re)!;
          this.#pending.delete(message.re);
          pending.reject(new PeerstreamError(message.code, message.message));
        } else if (this.#registering !== undefined) {
          this.#registering.reject(new PeerstreamError(message.code, message.message));
          this.#registering = undefined;
        } else {
          this.#events.serverError?.(message.code, message.message);
        }
        return;
      }
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

  #answer(re: number, message: ServerMessage) {
    const pending = this.#pending.get(re);
    if (pending === undefined) return;
    this.#pending.delete(re);
    pending.resolve(message);
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
      this.#events.message?.({ ...opened, trust: sender.trust });
    } catch (error) {
      const code = error instanceof PeerstreamError ? error.code : "DECRYPT_FAILED";
      const text = error instanceof Error ? error.message : String(error);
      this.#write({ type: "receipt", rid, ok: false, code });
      this.#events.warning?.(text, code);
    }
  }
}

async function readGreeting(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<{ message: ServerHelloMessage }> {
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
      return { message };
    }
  } finally {
    clearTimeout(timer);
  }
}
