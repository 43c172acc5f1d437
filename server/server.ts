/**
 * The peerstream server: accepts connections, runs the handshake, keeps the directory, relays
 * sealed messages and hands PLAY requests to stream sessions.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import { importPeerKeys, verifyChallenge } from "../protocol/e2e.ts";
import type { ClientMessage, LeaveReason, Message } from "../protocol/messages.ts";
import { encodeMessage, isClientMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { normalizeName } from "../protocol/names.ts";
import { Connection, ProtocolViolation } from "./connection.ts";
import { delay, within } from "./_async.ts";
import { Directory } from "./directory.ts";
import { DEFAULT_LIMITS, type ServerLimits, TokenBucket } from "./limits.ts";
import { Relay } from "./relay.ts";
import { StreamSession } from "./stream_session.ts";
import type { VideoLibrary } from "../video/videos.ts";
import { SegmentStore } from "../video/segment_store.ts";
import { normalizePlayArgument, suggestTitles } from "../video/catalog.ts";
import { NameSaver, type NameStore } from "./name_store.ts";
import type { Transport } from "./transport.ts";

/** The version string sent in `server-hello`. */
export const SERVER_SOFTWARE = "peerstream/0.1.0";

/** Options for {@linkcode PeerstreamServer}. */
export interface ServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port; 0 picks a free one. @default {7878} */
  port?: number;
  /** The videos; without it LIST is empty and PLAY fails. */
  videos?: VideoLibrary;
  /** Receives one line per connection event, without message contents. */
  log?: (line: string) => void;
  /** Limits; missing fields take {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<ServerLimits>;
  /**
   * Where name bindings persist; in memory when absent. New bindings are saved in the background,
   * coalesced, and flushed by {@linkcode PeerstreamServer.shutdown}; a crash may lose the newest.
   */
  names?: NameStore;
  /** TLS certificate and key (PEM text); plain TCP when absent. */
  tls?: { cert: string; key: string };
}

interface Client {
  id: number;
  conn: Connection;
  state: "greeting" | "registered" | "closed";
  name?: string;
  challenge: Uint8Array<ArrayBuffer>;
  bucket: TokenBucket;
  stream?: StreamSession;
  nextStreamId: number;
  leaveReason: LeaveReason;
  pingId: number;
  limitLogged: Set<ErrorCode>;
}

/** A running server. */
export class PeerstreamServer {
  readonly #options: ServerOptions;
  readonly #limits: ServerLimits;
  readonly #log: (line: string) => void;
  readonly #directory: Directory<Client>;
  readonly #relay = new Relay<Client>();
  readonly #clients = new Set<Client>();
  readonly #perAddress = new Map<string, number>();
  readonly #store = new SegmentStore();
  #videos?: VideoLibrary;
  #videosError?: string;
  #listener?: Deno.Listener;
  #nextId = 1;
  #timer?: ReturnType<typeof setInterval>;
  #closing = false;
  #accepting?: Promise<void>;
  #handlers = new Set<Promise<void>>();
  readonly #nameSaver?: NameSaver;

  /** @param options Address, videos, limits and logging. */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#log = options.log ?? (() => {});
    const bindings = options.names?.load() ?? new Map<string, string>();
    this.#directory = new Directory({ bindings });
    this.#videos = options.videos;
    if (options.names !== undefined) {
      this.#nameSaver = new NameSaver(options.names, bindings, {
        onError: (error) => this.#log(`cannot save name bindings: ${(error as Error).message}`),
        onReleased: (names) => {
          for (const name of names) {
            this.#directory.release(name);
            this.#log(`release "${name}": any key may register it now`);
          }
        },
      });
    }
  }

  /**
   * Sets the video library once it is open (the server listens before the library is scanned).
   *
   * @param videos The library.
   */
  setVideos(videos: VideoLibrary): void {
    this.#videos = videos;
  }

  /**
   * Records why the video library could not be opened; LIST and PLAY then say so.
   *
   * @param message What went wrong, with a remedy.
   */
  setVideosError(message: string): void {
    this.#videosError = message;
  }

  #requireVideos(): VideoLibrary {
    if (this.#videos !== undefined) return this.#videos;
    if (this.#videosError !== undefined) {
      throw new PeerstreamError("VIDEO_FAILED", `This server has no videos: ${this.#videosError}`);
    }
    throw new PeerstreamError(
      "VIDEO_NOT_READY",
      "The video library is still loading; try again in a moment",
    );
  }

  /** The address the server listens on, once started. */
  get addr(): Deno.NetAddr {
    if (this.#listener === undefined) throw new Error("Server is not started");
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Starts listening and accepting.
   *
   * @returns The bound address.
   */
  start(): Deno.NetAddr {
    const hostname = this.#options.hostname ?? "127.0.0.1";
    const port = this.#options.port ?? 7878;
    this.#listener = this.#options.tls
      ? Deno.listenTls({ hostname, port, cert: this.#options.tls.cert, key: this.#options.tls.key })
      : Deno.listen({ hostname, port });
    this.#accepting = this.#acceptLoop(this.#listener);
    this.#timer = setInterval(() => this.#tick(), 1000);
    return this.addr;
  }

  /**
   * Tells every client, closes every connection, stops listening and waits for the name bindings
   * to be saved.
   *
   * @param message Told to clients.
   */
  async shutdown(message = "Server is shutting down"): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#timer);
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    const flushes: Promise<void>[] = [];
    const goodbye = encodeMessage({ type: "shutdown", message });
    for (const client of this.#clients) {
      client.stream?.abort();
      client.conn.dropMedia(client.stream?.streamId ?? -1);
      client.conn.sendEncoded(goodbye);
      flushes.push(client.conn.flush());
    }
    await within(Promise.all(flushes), 1000);
    for (const client of this.#clients) client.conn.close();
    await this.#accepting;
    await Promise.all(this.#handlers);
    // Every handler is done, so no binding can be added after this save.
    await this.#nameSaver?.flush();
    await this.#videos?.close();
  }

  async #acceptLoop(listener: Deno.Listener) {
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing) return;
        this.#log(`accept failed: ${(error as Error).message}`);
        await delay(50);
        continue;
      }
      this.serveTransport(conn);
    }
  }

  /**
   * Serves one client that arrived over any {@linkcode Transport} (the TCP listener's sockets,
   * the web page's WebSockets): the same handshake, limits, timeouts and shutdown for all.
   *
   * @param transport The client's byte stream; the server owns it from now on.
   */
  serveTransport(transport: Transport): void {
    if (this.#closing) {
      transport.close();
      return;
    }
    const handler = this.#handle(transport).catch((error) => {
      this.#log(`internal error: ${(error as Error).stack ?? error}`);
    });
    this.#handlers.add(handler);
    handler.finally(() => this.#handlers.delete(handler));
  }

  async #handle(socket: Transport) {
    const conn = new Connection(socket, {
      maxQueuedControlBytes: this.#limits.maxQueuedControlBytes,
    });
    const host = conn.remoteHost;
    const id = this.#nextId++;
    const perAddress = (this.#perAddress.get(host) ?? 0) + 1;
    if (
      this.#clients.size >= this.#limits.maxConnections ||
      perAddress > this.#limits.maxConnectionsPerAddress
    ) {
      this.#log(`refused #${id} ${conn.remote}: connection limit reached`);
      conn.send({
        type: "error",
        code: "SERVER_FULL",
        message: "Cannot connect: the server has reached its connection limit; try again later",
      });
      await within(conn.flush(), 500);
      conn.close();
      return;
    }
    this.#perAddress.set(host, perAddress);
    const client: Client = {
      id,
      conn,
      state: "greeting",
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      bucket: new TokenBucket(this.#limits.messagesPerSecond, {
        burst: this.#limits.messageBurst,
        now: performance.now(),
      }),
      nextStreamId: 1,
      leaveReason: "disconnected",
      pingId: 0,
      limitLogged: new Set(),
    };
    this.#clients.add(client);
    this.#log(`connect #${id} ${conn.remote}`);
    conn.onWriteError = (error) => this.#log(`write error #${id}: ${(error as Error).message}`);
    conn.send({
      type: "server-hello",
      version: PROTOCOL_VERSION,
      server: SERVER_SOFTWARE,
      challenge: client.challenge.toBase64(),
    });
    try {
      reading: for await (const batch of conn.readBatches()) {
        let next = 0;
        while (next < batch.length && !conn.closed) {
          // Handle the read's messages synchronously in one batch, so that the replies and relays
          // they cause leave in one write per connection, not one per message. Stop at a
          // message whose handling awaits (hello, quit), and go on after it.
          const pending = Connection.batch(() => {
            let waiting: Promise<void> | undefined;
            while (
              waiting === undefined && next < batch.length && !conn.closed &&
              client.state !== "closed"
            ) {
              waiting = this.#receive(client, batch[next++]);
            }
            return waiting;
          });
          if (pending !== undefined) await pending;
          if (client.state === "closed") {
            // Let a final error (VERSION_MISMATCH) reach the client before the socket closes.
            await within(conn.flush(), 200);
            break reading;
          }
        }
      }
    } catch (error) {
      if (error instanceof ProtocolViolation) {
        this.#log(`bad frame #${id} ${conn.remote}: ${error.message}`);
        conn.send({
          type: "error",
          // Not by the message text: "JSON length exceeds the frame" is a bad frame, not a big one.
          code: error.code,
          message: `Closing connection: ${error.message}`,
        });
        await within(conn.flush(), 200);
      } else {
        this.#log(`read error #${id}: ${(error as Error).message}`);
      }
    } finally {
      this.#leave(client);
    }
  }

  /**
   * Checks and handles one message; a failure goes back to the client as an error.
   *
   * @returns A promise when the handling awaits, to be awaited before the next message.
   */
  #receive(client: Client, message: Message): Promise<void> | undefined {
    if (!isClientMessage(message)) {
      this.#reject(client, "BAD_MESSAGE", `Message "${message.type}" is not for the server`);
      return undefined;
    }
    if (!client.bucket.take(performance.now())) {
      this.#reject(
        client,
        "RATE_LIMITED",
        `Message dropped: over ${this.#limits.messagesPerSecond} messages per second; slow down`,
        requestIdOf(message),
      );
      return undefined;
    }
    try {
      return this.#dispatch(client, message)?.catch((error) => this.#fail(client, message, error));
    } catch (error) {
      this.#fail(client, message, error);
      return undefined;
    }
  }

  #fail(client: Client, message: ClientMessage, error: unknown) {
    if (error instanceof PeerstreamError) {
      this.#reject(client, error.code, error.message, requestIdOf(message));
    } else {
      this.#log(`internal error #${client.id}: ${(error as Error).stack ?? error}`);
      this.#reject(client, "INTERNAL", "Internal server error; see the server log");
    }
  }

  #reject(client: Client, code: ErrorCode, message: string, re?: number) {
    if (!client.limitLogged.has(code)) {
      client.limitLogged.add(code);
      this.#log(
        `reject #${client.id}${client.name ? ` (${client.name})` : ""}: ${code}: ${message}`,
      );
    }
    client.conn.send(
      re === undefined ? { type: "error", code, message } : {
        type: "error",
        re,
        code,
        message,
      },
    );
  }

  /**
   * Handles one message; synchronous except for hello and quit, so that a read's messages can be
   * answered in one batch.
   *
   * @returns A promise when the handling awaits.
   * @throws {PeerstreamError} When the request is refused.
   */
  #dispatch(client: Client, message: ClientMessage): Promise<void> | undefined {
    if (client.state === "greeting") {
      if (message.type === "quit") {
        client.leaveReason = "quit";
        client.state = "closed";
        return undefined;
      }
      if (message.type !== "hello") {
        throw new PeerstreamError(
          "NOT_REGISTERED",
          `Cannot handle "${message.type}": register first with "hello"`,
        );
      }
      return this.#hello(client, message);
    }
    const name = client.name!;
    switch (message.type) {
      case "hello":
        throw new PeerstreamError("ALREADY_REGISTERED", `Already registered as "${name}"`);
      case "list": {
        const videos = this.#requireVideos().list().map((v) => ({
          title: v.title,
          heights: v.heights,
          duration: v.duration,
          hasAudio: v.hasAudio,
          state: v.status.state,
          progress: v.status.state === "preparing" ? v.status.progress : 1,
        }));
        client.conn.send({ type: "videos", re: message.id, videos });
        return;
      }
      case "key": {
        const found = this.#directory.lookup(message.name.normalize("NFC"));
        if (found === undefined) {
          throw new PeerstreamError(
            "UNKNOWN_PEER",
            `No peer named "${message.name}"; run WHO to see who is online`,
          );
        }
        client.conn.send({
          type: "key-info",
          re: message.id,
          name: message.name.normalize("NFC"),
          encKey: found.keys.encKey,
          signKey: found.keys.signKey,
          online: found.online,
        });
        return;
      }
      case "send":
        this.#send(client, message.id, { to: message.to.normalize("NFC"), body: message.body });
        return;
      case "receipt": {
        const outcome = this.#relay.receipt(message.rid, {
          by: name,
          ok: message.ok,
          code: message.code,
        });
        if (outcome === undefined) return;
        if (outcome.ok) {
          outcome.sender.conn.send({ type: "delivered", re: outcome.requestId, to: outcome.to });
        } else {
          outcome.sender.conn.send({
            type: "error",
            re: outcome.requestId,
            code: outcome.code,
            message: outcome.message,
          });
        }
        return;
      }
      case "play":
        this.#play(client, message.id, { title: message.title, quality: message.quality });
        return;
      case "stop": {
        const stream = client.stream;
        if (stream === undefined) {
          throw new PeerstreamError("NOT_PLAYING", "Cannot stop: nothing is playing");
        }
        stream.stop(message.id);
        return;
      }
      case "quality": {
        if (client.stream === undefined) {
          throw new PeerstreamError("NOT_PLAYING", "Cannot change quality: nothing is playing");
        }
        client.stream.setQuality(message.quality);
        client.conn.send({ type: "ok", re: message.id });
        return;
      }
      case "pause":
      case "resume":
      case "seek":
        throw new PeerstreamError(
          "INTERNAL",
          `Cannot ${message.type}: this server does not support it yet; STOP and PLAY again`,
        );
      case "seg-ack":
        if (client.stream?.streamId === message.streamId && message.epoch === 0) {
          client.stream.ack(message.index);
        }
        return;
      case "ping":
        client.conn.send({ type: "pong", id: message.id });
        return;
      case "pong":
        return;
      case "quit":
        client.leaveReason = "quit";
        client.state = "closed";
        return within(client.conn.flush(), 200).then(() => {});
    }
  }

  async #hello(client: Client, message: Extract<Message, { type: "hello" }>) {
    if (message.version !== PROTOCOL_VERSION) {
      client.conn.send({
        type: "error",
        code: "VERSION_MISMATCH",
        message:
          `Cannot register: client speaks protocol ${message.version}, server speaks ${PROTOCOL_VERSION}; use a matching peerstream`,
      });
      this.#log(`reject #${client.id}: VERSION_MISMATCH (client ${message.version})`);
      client.state = "closed";
      return;
    }
    let name: string;
    try {
      name = normalizeName(message.name);
    } catch (error) {
      throw new PeerstreamError("NAME_INVALID", (error as Error).message);
    }
    const keys = await importPeerKeys({ encKey: message.encKey, signKey: message.signKey });
    let proof: Uint8Array;
    try {
      proof = Uint8Array.fromBase64(message.proof);
    } catch {
      proof = new Uint8Array();
    }
    const sent = { encKey: message.encKey, signKey: message.signKey };
    if (!(await verifyChallenge(keys.sign, client.challenge, { name, keys: sent, proof }))) {
      throw new PeerstreamError(
        "KEY_INVALID",
        "Cannot register: the proof does not match the signing key; use an unmodified client",
      );
    }
    if (client.state !== "greeting") return;
    const { others, newBinding } = this.#directory.register(name, {
      keys: { encKey: message.encKey, signKey: message.signKey },
      conn: client,
    });
    // Saved in the background and coalesced: a join storm must not write the file per join.
    if (newBinding) this.#nameSaver?.request();
    client.state = "registered";
    client.name = name;
    client.conn.send({
      type: "welcome",
      name,
      peers: others,
      maxSealedBytes: this.#limits.maxSealedBytes,
    });
    const joined = encodeMessage({ type: "joined", name });
    for (const other of this.#directory.othersThan(name)) other.conn.sendEncoded(joined);
    this.#log(`join #${client.id} "${name}" key ${keys.fingerprint.slice(0, 16)}`);
  }

  #send(client: Client, requestId: number, options: { to: string; body: Uint8Array }) {
    const { to, body } = options;
    if (body.length > this.#limits.maxSealedBytes) {
      throw new PeerstreamError(
        "MESSAGE_TOO_LARGE",
        `Cannot send to "${to}": ${body.length} bytes exceeds the ${this.#limits.maxSealedBytes}-byte limit`,
      );
    }
    const recipient = this.#directory.get(to);
    if (recipient === undefined) {
      if (this.#directory.lookup(to) !== undefined) {
        throw new PeerstreamError("PEER_OFFLINE", `Cannot send to "${to}": they are offline`);
      }
      throw new PeerstreamError(
        "UNKNOWN_PEER",
        `Cannot send to "${to}": no such peer; run WHO to see who is online`,
      );
    }
    const rid = this.#relay.accept({ sender: client, from: client.name!, requestId, to });
    recipient.conn.conn.send({ type: "deliver", rid, from: client.name!, body });
  }

  #play(
    client: Client,
    requestId: number,
    options: { title: string; quality: number | "auto" },
  ) {
    const videos = this.#requireVideos();
    let entry = videos.get(options.title);
    let quality = options.quality;
    if (entry === null) {
      // The reference's form: PLAY dog_720p.mp4 names the title "dog" at 720p.
      const target = normalizePlayArgument(options.title);
      if (target !== null) {
        entry = videos.get(target.title);
        if (target.height !== null && quality === "auto") quality = target.height;
      }
    }
    if (entry === null) {
      const titles = videos.list().map((v) => v.title);
      const close = suggestTitles(options.title, titles);
      throw new PeerstreamError(
        "VIDEO_NOT_FOUND",
        `Cannot play "${options.title}": no such title; ${
          close.length > 0
            ? `did you mean ${close.map((t) => `"${t}"`).join(", ")}?`
            : "run LIST to see titles"
        }`,
      );
    }
    if (entry.status.state === "failed") {
      throw new PeerstreamError(
        "VIDEO_FAILED",
        `Cannot play "${options.title}": ${entry.status.message}`,
      );
    }
    if (entry.status.state === "preparing" || entry.prepared === null) {
      const percent = entry.status.state === "preparing"
        ? ` (${Math.round(entry.status.progress * 100)}%)`
        : "";
      throw new PeerstreamError(
        "VIDEO_NOT_READY",
        `Cannot play "${options.title}" yet: it is being prepared${percent}; try again shortly`,
      );
    }
    const prepared = entry.prepared;
    if (quality !== "auto" && !prepared.renditions.some((r) => r.height === quality)) {
      throw new PeerstreamError(
        "RENDITION_NOT_FOUND",
        `Cannot play "${prepared.name}" at ${quality}p; available: ${
          prepared.renditions.map((r) => `${r.height}p`).join(", ")
        } or auto`,
      );
    }
    // A PLAY replaces the running stream: it ends with stream-end "stopped" before the new start.
    client.stream?.replace();
    const streamId = client.nextStreamId++;
    const session = new StreamSession(client.conn, {
      streamId,
      requestId,
      prepared,
      store: this.#store,
      quality,
      maxUnackedBytes: this.#limits.maxUnackedMediaBytes,
      stallStepDownMs: this.#limits.stallStepDownMs,
      stallStopMs: this.#limits.stallStopMs,
      onEnd: (reason, detail) => {
        if (client.stream === session) client.stream = undefined;
        this.#log(
          `stream #${client.id} "${client.name}" ${prepared.name}: ${reason}${
            detail ? ` (${detail})` : ""
          }`,
        );
        // Let stream-end reach the viewer if it can still take it, then drop the viewer.
        if (detail?.startsWith("SLOW_CONSUMER")) {
          within(client.conn.flush(), 500).then(() => client.conn.close());
        }
      },
    });
    client.stream = session;
    this.#log(`play #${client.id} "${client.name}" ${prepared.name} ${quality}`);
    session.start();
  }

  #leave(client: Client) {
    if (client.state === "closed" && !this.#clients.has(client)) return;
    client.state = "closed";
    client.stream?.abort();
    client.conn.close();
    this.#clients.delete(client);
    const host = client.conn.remoteHost;
    const count = (this.#perAddress.get(host) ?? 1) - 1;
    if (count <= 0) this.#perAddress.delete(host);
    else this.#perAddress.set(host, count);
    const name = client.name;
    if (name !== undefined && this.#directory.get(name)?.conn === client) {
      const others = this.#directory.unregister(name);
      const left = encodeMessage({ type: "left", name, reason: client.leaveReason });
      for (const other of others) other.conn.sendEncoded(left);
      for (const pending of this.#relay.recipientLeft(name)) {
        pending.sender.conn.send({
          type: "error",
          re: pending.requestId,
          code: "PEER_OFFLINE",
          message: `Message to "${name}" not confirmed: they left before receiving it`,
        });
      }
      this.#log(`leave #${client.id} "${name}" (${client.leaveReason})`);
    } else {
      this.#log(`disconnect #${client.id} ${client.conn.remote}`);
    }
  }

  #tick() {
    this.#nameSaver?.refresh();
    const now = performance.now();
    for (const client of this.#clients) {
      const silent = now - client.conn.lastReadAt;
      if (client.conn.writeStalledFor(now) > this.#limits.maxWriteStallMs) {
        // It stopped reading: nothing more can reach it, so close without a goodbye.
        this.#log(
          `drop #${client.id}: SLOW_CONSUMER: no write progress for ${this.#limits.maxWriteStallMs} ms`,
        );
        client.leaveReason = "timeout";
        client.stream?.abort();
        client.conn.close();
      } else if (client.state === "greeting" && silent > this.#limits.handshakeMs) {
        this.#dropIdle(client, "HANDSHAKE_TIMEOUT", "no hello within the handshake time");
      } else if (silent > this.#limits.idleMs) {
        this.#dropIdle(client, "IDLE_TIMEOUT", "no data within the idle time");
      } else if (silent > this.#limits.keepaliveMs && client.state === "registered") {
        client.conn.send({ type: "ping", id: ++client.pingId });
      }
    }
  }

  #dropIdle(client: Client, code: ErrorCode, why: string) {
    this.#log(`drop #${client.id}: ${code}: ${why}`);
    client.leaveReason = "timeout";
    client.conn.send({ type: "error", code, message: `Closing connection: ${why}; reconnect` });
    within(client.conn.flush(), 500).then(() => client.conn.close());
  }
}

function requestIdOf(message: ClientMessage): number | undefined {
  return "id" in message && typeof message.id === "number" ? message.id : undefined;
}
