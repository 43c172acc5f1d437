/**
 * The peerstream server: accepts connections within the admission limits, runs each one's read
 * loop and handshake, hands registered requests to the dispatcher, and watches deadlines. The
 * parts live beside it: admission (`admission.ts`), the hello checks (`handshake.ts`), the
 * community (`community.ts`: presence, names and the relay, in this process or shared by a
 * cluster), requests (`dispatch.ts`) and the log (`server_log.ts`).
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import type { ClientMessage, HelloMessage, Message } from "../protocol/messages.ts";
import { encodeMessage, isClientMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { SegmentStore } from "../video/segment_store.ts";
import type { VideoLibrary } from "../video/videos.ts";
import { delay, within } from "./_async.ts";
import { AcceptFailures, isOutOfDescriptors } from "./accept_failures.ts";
import { addressGroup } from "./address_group.ts";
import { Admission, type Admit, chooseEviction } from "./admission.ts";
import { closeAfterFlush, newClient, type ServerClient } from "./client.ts";
import { Connection, ProtocolViolation } from "./connection.ts";
import { Directory } from "./directory.ts";
import { dispatch, type DispatchContext } from "./dispatch.ts";
import { allowedBeforeWelcome, type VerifiedHello, verifyHello } from "./handshake.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import { NameSaver, type NameStore } from "./name_store.ts";
import { Relay, type RelayBudgets } from "./relay.ts";
import { ServerLog } from "./server_log.ts";
import { type Community, errorText, MemoryCommunity, type Welcome } from "./community.ts";
import { connectionEvents } from "./community_events.ts";
// Type only: the Redis community (and its npm client) loads only in cluster mode, see start().
import type { ClusterTiming } from "./redis_community.ts";
import { acceptProxied, ProxyRefused } from "./proxy_transport.ts";
import { LeadGate } from "./lead_gate.ts";
import type { Transport } from "./transport.ts";
import { nameKeys } from "../protocol/names.ts";

/** The version string sent in `server-hello`. */
export const SERVER_SOFTWARE = "peerstream/0.1.0";

/** The longest error message sent to a client, characters (the protocol allows 2,048). */
const ERROR_MESSAGE_MAX = 1000;

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
  /**
   * Cluster mode: presence, names and routing shared through Redis with the other nodes (and
   * `names` unused); this process alone when absent.
   */
  cluster?: ClusterOptions;
  /** Load balancers whose PROXY protocol headers give each client's real address. */
  trustedProxies?: ReadonlySet<string>;
  /** Share the port with other processes (`SO_REUSEPORT`; needs `--unstable-net`). */
  reusePort?: boolean;
}

/** How a server joins a cluster. */
export interface ClusterOptions {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** This node's name, unique among live nodes. */
  node: string;
  /** Heartbeat and deadlines; the defaults otherwise. */
  timing?: Partial<ClusterTiming>;
  /** This node cannot stay in the cluster (another instance took its name). */
  onFatal?: (message: string) => void;
}

/** A running server. */
export class PeerstreamServer {
  readonly #options: ServerOptions;
  readonly #limits: ServerLimits;
  readonly #log: ServerLog;
  #community: Community<ServerClient>;
  /** This process's bindings (none in cluster mode, where Redis holds them). */
  readonly #bindings?: ReadonlyMap<string, string>;
  readonly #admission: Admission;
  readonly #clients = new Set<ServerClient>();
  /** Clients still in their handshake, oldest first. */
  readonly #greeting = new Set<ServerClient>();
  /** Accepted connections in their TLS handshake or PROXY header, oldest first. */
  readonly #arriving = new Set<Arrival>();
  #ctx: DispatchContext;
  readonly #nameSaver?: NameSaver;
  #videos?: VideoLibrary;
  #videosError?: string;
  #listener?: Deno.Listener;
  #nextId = 1;
  #timer?: ReturnType<typeof setInterval>;
  #closing = false;
  #accepting?: Promise<void>;
  #handlers = new Set<Promise<void>>();

  /** @param options Address, videos, limits and logging. */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#limits = limits;
    this.#log = new ServerLog(options.log ?? (() => {}), {
      textChars: limits.logTextChars,
      linesPerSecond: limits.logLinesPerSecond,
      lineBurst: limits.logLineBurst,
    });
    const bindings = options.names?.load() ?? new Map<string, string>();
    this.#bindings = options.cluster === undefined ? bindings : undefined;
    this.#community = new MemoryCommunity({
      events: this.#events(false),
      directory: new Directory({
        bindings,
        maxNamesPerKey: limits.maxNamesPerKey,
        maxNames: limits.maxNames,
      }),
      relay: new Relay(relayBudgets(limits)),
    });
    this.#admission = new Admission(limits);
    this.#videos = options.videos;
    this.#ctx = {
      limits,
      log: this.#log,
      community: this.#community,
      store: new SegmentStore(),
      leadGate: new LeadGate({ maxBacklogBytes: limits.leadBacklogBytes }),
      videos: () => this.#requireVideos(),
    };
    if (options.names !== undefined && options.cluster === undefined) {
      this.#nameSaver = new NameSaver(options.names, bindings, {
        // `serve --release` waits until this server has read its change.
        acknowledge: true,
        onError: (error) =>
          this.#log.line(`cannot save name bindings: ${(error as Error).message}`),
        onReleased: (names) => {
          for (const name of names) {
            this.#community.release(name);
            this.#log.line(`release ${this.#log.text(name)}: any key may register it now`);
          }
        },
      });
    }
  }

  /** The community's events as frames on this server's connections. */
  #events(coalesce: boolean) {
    return connectionEvents<ServerClient>({
      registered: () => this.#registered(),
      kick: (client, code, message) => {
        client.leaveReason = "kicked";
        this.#reject(client, code, message);
        closeAfterFlush(client, `${code}: the name went to another server`);
      },
      log: (line) => this.#log.line(line),
      coalesce,
    });
  }

  *#registered(): Iterable<ServerClient> {
    for (const client of this.#clients) if (client.state === "registered") yield client;
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
   * Joins the cluster (in cluster mode), then starts listening and accepting.
   *
   * @returns The bound address.
   * @throws {Error} When the cluster cannot be joined (the message says why and what to do), or
   * the address cannot be bound.
   */
  async start(): Promise<Deno.NetAddr> {
    const cluster = this.#options.cluster;
    if (cluster !== undefined) {
      // Loaded here only: the Redis client adds some 18 MB to the heap of every server that
      // imports it, and a larger heap makes every full collection (and the message tail) longer.
      const { RedisCommunity } = await import("./redis_community.ts");
      this.#community = await RedisCommunity.open({
        url: cluster.url,
        node: cluster.node,
        events: this.#events(true),
        timing: cluster.timing,
        limits: {
          budgets: relayBudgets(this.#limits),
          maxNamesPerKey: this.#limits.maxNamesPerKey,
          maxNames: this.#limits.maxNames,
        },
        onFatal: cluster.onFatal,
      });
      this.#ctx = { ...this.#ctx, community: this.#community };
      this.#log.line(`cluster: node ${this.#log.text(cluster.node)} joined the cluster`);
    }
    const hostname = this.#options.hostname ?? "127.0.0.1";
    const port = this.#options.port ?? 7878;
    try {
      this.#listener = this.#options.tls
        ? Deno.listenTls({
          hostname,
          port,
          cert: this.#options.tls.cert,
          key: this.#options.tls.key,
        })
        : Deno.listen({ hostname, port, reusePort: this.#options.reusePort ?? false });
    } catch (error) {
      await this.#community.close();
      throw error;
    }
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
    for (const arrival of this.#arriving) closeQuietly(arrival.conn);
    const flushes: Promise<void>[] = [];
    const goodbye = encodeMessage({ type: "shutdown", message });
    for (const client of this.#clients) {
      client.stream?.abort();
      client.conn.dropMedia(client.stream?.streamId ?? -1);
      client.conn.sendEncoded(goodbye);
      flushes.push(client.conn.flush());
    }
    await within(Promise.all(flushes), 1000);
    for (const client of this.#clients) client.conn.close("the server is shutting down");
    await this.#accepting;
    await Promise.all(this.#handlers);
    // Every handler is done: leave the cluster, and no binding can be added after this save.
    await this.#community.close();
    await this.#nameSaver?.flush();
    this.#nameSaver?.close();
    await this.#videos?.close();
  }

  /**
   * Accepts until shutdown. Out of file descriptors, the pending connections are refused rather
   * than left waiting: a spare descriptor is closed to accept one and refuse it, then taken back.
   * Other failures back off (10 ms doubling to 1 s); either way the log gets one line per 10 s,
   * and one when accepts work again.
   */
  async #acceptLoop(listener: Deno.Listener) {
    const failures = new AcceptFailures();
    let spare = openSpare();
    let shedding = false;
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing) return;
        const step = failures.failed(performance.now(), errorText(error));
        if (step.log !== undefined) this.#log.line(step.log);
        if (isOutOfDescriptors(error) && spare !== undefined) {
          spare.close();
          spare = undefined;
          shedding = true;
          failures.shed();
          continue;
        }
        // The descriptor given up went elsewhere (or none was held): wait, then take one back.
        shedding = false;
        await delay(step.delayMs);
        spare ??= openSpare();
        continue;
      }
      if (shedding) {
        shedding = false;
        await refuseAccepted(conn);
        spare = openSpare();
        continue;
      }
      const recovered = failures.succeeded();
      if (recovered !== undefined) this.#log.line(recovered);
      this.#track(this.#accepted(conn));
    }
    spare?.close();
  }

  /**
   * Serves one client that arrived over any {@linkcode Transport} (the web page's WebSockets; the
   * TCP listener's sockets come this way too, after PROXY-protocol unwrapping): the same
   * handshake, limits, timeouts and shutdown for all.
   *
   * @param transport The client's byte stream; the server owns it from now on.
   */
  serveTransport(transport: Transport): void {
    if (this.#closing) {
      transport.close();
      return;
    }
    this.#track(this.#handle(transport));
  }

  #track(handling: Promise<void>) {
    const handler = handling.catch((error) => {
      this.#log.line(`internal error: ${(error as Error).stack ?? error}`);
    });
    this.#handlers.add(handler);
    handler.finally(() => this.#handlers.delete(handler));
  }

  /**
   * A connection from the TCP listener: counted against its address from this moment, so that
   * connections still in their TLS handshake or PROXY header hold a slot of their address's share
   * and nothing more; each of those steps has a deadline, then the protocol's own greeting does.
   */
  async #accepted(accepted: Deno.Conn) {
    const since = performance.now();
    // Every write is already one batch (see Connection.batch): waiting for the peer's ACK before a
    // small frame (Nagle) only delays chat, receipts and pings behind media in flight.
    if (isTcpConn(accepted)) accepted.setNoDelay(true);
    const id = this.#nextId++;
    const from = accepted.remoteAddr as Deno.NetAddr;
    // A trusted balancer's connections count in all but not against its address: the client's
    // real address, read from the PROXY header, is what counts.
    const trusted = this.#options.trustedProxies?.has(from.hostname) ?? false;
    const host = trusted ? undefined : from.hostname;
    const verdict = this.#admit(host, { id, remote: `${from.hostname}:${from.port}`, now: since });
    if (verdict !== "ok") {
      await refuseAccepted(accepted, verdict);
      return;
    }
    const arrival: Arrival = { host: from.hostname, since, conn: accepted };
    this.#arriving.add(arrival);
    let socket: Transport | undefined;
    try {
      socket = await this.#open(arrival, id);
    } finally {
      this.#arriving.delete(arrival);
      this.#admission.release(host);
    }
    if (socket === undefined) return;
    // Counted again by its real address (the same one unless behind a balancer), at once.
    await this.#handle(socket, { since, id });
  }

  /**
   * The TLS handshake (with its deadline) and the PROXY header of an accepted connection.
   *
   * @returns The transport to serve, or undefined when it was closed.
   */
  async #open(arrival: Arrival, id: number): Promise<Transport | undefined> {
    const conn = arrival.conn;
    if (isTlsConn(conn) && !await this.#tlsHandshake(conn, id)) return undefined;
    return await this.#unwrapProxy(conn);
  }

  /**
   * Waits for a TLS connection's handshake, at most `tlsHandshakeMs`.
   *
   * Past the deadline the connection is done for, but Deno cannot close it yet: a `TlsConn` closed
   * before its handshake completes keeps its socket open until the handshake ends, that is until
   * the peer sends something or leaves (Deno finishes a handshake before shutting a connection
   * down, denoland/deno#14547; checked on 2.9.6). Closing it would only stop counting a socket
   * that is still open, so it stays counted against its address (the caller releases the count
   * when this returns) and is closed the moment its handshake settles.
   *
   * @returns Whether the handshake completed in time.
   */
  async #tlsHandshake(conn: Deno.TlsConn, id: number): Promise<boolean> {
    const ms = this.#limits.tlsHandshakeMs;
    let failure: string | undefined;
    const settled = conn.handshake().then(
      () => undefined,
      (error) => (failure = (error as Error).message),
    );
    const inTime = await within(settled, ms);
    if (inTime && failure === undefined) return true;
    const from = conn.remoteAddr as Deno.NetAddr;
    const why = inTime
      ? `TLS handshake failed: ${failure}`
      : `TLS_HANDSHAKE_TIMEOUT: no TLS handshake within ${ms} ms; counted until the peer leaves`;
    this.#log.limited(
      addressGroup(from.hostname),
      `disconnect #${id} ${from.hostname}:${from.port} (${why})`,
    );
    await settled;
    closeQuietly(conn);
    return false;
  }

  async #handle(socket: Transport, accepted?: { since: number; id: number }) {
    const conn = new Connection(socket, {
      maxQueuedControlBytes: this.#limits.maxQueuedControlBytes,
    });
    const id = accepted?.id ?? this.#nextId++;
    if (this.#admit(conn.remoteHost, { id, remote: conn.remote }) !== "ok") {
      conn.send({
        type: "error",
        code: "SERVER_FULL",
        message: "Cannot connect: the server has reached its connection limit; try again later",
      });
      await within(conn.flush(), 500);
      conn.close("SERVER_FULL");
      return;
    }
    // The handshake deadline counts from accept, TLS handshake and PROXY header included.
    const client = newClient(conn, {
      id,
      now: accepted?.since ?? performance.now(),
      ...this.#limits,
    });
    this.#clients.add(client);
    this.#greeting.add(client);
    // Connections that never register are counted against their address in the log, so that a
    // connection storm costs a few lines, not two per connection.
    this.#log.limited(logKey(client), `connect #${id} ${conn.remote}`);
    conn.onWriteError = (error) =>
      this.#log.limited(id, `write error #${id}: ${(error as Error).message}`);
    conn.send({
      type: "server-hello",
      version: PROTOCOL_VERSION,
      server: SERVER_SOFTWARE,
      challenge: client.challenge.toBase64(),
    });
    try {
      await this.#readLoop(client);
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      client.closeWhy = `${error.code}: ${error.message}`;
      conn.send({
        type: "error",
        // Not by the message text: "JSON length exceeds the frame" is a bad frame, not a big one.
        code: error.code,
        message: `Closing connection: ${error.message}`,
      });
      await within(conn.flush(), 200);
    } finally {
      this.#leave(client);
    }
  }

  /**
   * Behind a trusted load balancer, reads its PROXY header so that limits and logs see the real
   * client; a trusted address that sends none is refused before the handshake.
   *
   * @returns The transport to use, or undefined when the connection was refused (and closed).
   */
  async #unwrapProxy(accepted: Deno.Conn): Promise<Transport | undefined> {
    const trusted = this.#options.trustedProxies;
    if (trusted === undefined || trusted.size === 0) return accepted;
    try {
      return await acceptProxied(accepted, { trusted });
    } catch (error) {
      if (!(error instanceof ProxyRefused)) throw error;
      const from = accepted.remoteAddr as Deno.NetAddr;
      this.#log.limited(
        `refused ${from.hostname}`,
        `refused ${from.hostname}:${from.port}: ${error.message}`,
      );
      try {
        accepted.close();
      } catch {
        // Closed by the deadline.
      }
      return undefined;
    }
  }

  /**
   * Counts a new connection, making room when the server is full by evicting a connection still
   * in its handshake, fairly between addresses (see `chooseEviction`), so that idle
   * unauthenticated connections cannot lock registered people out, and a flood from a few
   * addresses cannot lock out newcomers from others.
   *
   * @param host The address it counts against; undefined to count it in all only.
   * @param who For the log; `now` when it was just accepted, to take a token of its connect rate.
   * @returns `ok`, or why it is refused (logged, rate-limited per address).
   */
  #admit(host: string | undefined, who: { id: number; remote: string; now?: number }): Admit {
    let verdict = host !== undefined && who.now !== undefined
      ? this.#admission.enter(host, who.now)
      : this.#admission.admit(host);
    if (verdict === "server-full" && this.#evictFairly()) verdict = this.#admission.admit(host);
    if (verdict === "ok") return verdict;
    const why = verdict === "address-full"
      ? `SERVER_FULL: ${this.#limits.maxConnectionsPerAddress} connections from this address`
      : verdict === "server-full"
      ? `SERVER_FULL: ${this.#limits.maxConnections} connections`
      : `RATE_LIMITED: over ${this.#limits.connectsPerAddressPerSecond} connects per second from this address`;
    this.#log.limited(
      `refused ${addressGroup(host ?? "")}`,
      `refused #${who.id} ${who.remote}: ${why}`,
    );
    return verdict;
  }

  /**
   * Drops one connection still in its handshake (PROXY header or hello; not a TLS handshake, see
   * #tlsHandshake) and not verifying a hello right now: from the address holding the most such
   * connections, its oldest (see `chooseEviction`). An honest client sends its hello as soon as
   * it is greeted, so a connection left idle there is a squatter.
   */
  #evictFairly(): boolean {
    type Candidate = { host: string; since: number; drop: () => void };
    const candidates: Candidate[] = [];
    for (const arrival of this.#arriving) {
      if (isTlsConn(arrival.conn)) continue;
      candidates.push({ ...arrival, drop: () => closeQuietly(arrival.conn) });
    }
    for (const client of this.#greeting) {
      if (client.verifying) continue;
      candidates.push({
        host: client.host,
        since: client.connectedAt,
        drop: () =>
          this.#drop(
            client,
            "SERVER_FULL",
            "the server is full and this connection did not register",
          ),
      });
    }
    const victim = chooseEviction(candidates, {
      admission: this.#admission,
      now: performance.now(),
    });
    victim?.drop();
    return victim !== undefined;
  }

  async #readLoop(client: ServerClient) {
    const conn = client.conn;
    reading: for await (const batch of conn.readBatches()) {
      let next = 0;
      while (next < batch.length) {
        if (conn.closed || client.state === "closed") break reading;
        // Handle the read's messages synchronously in one batch, so that the replies and relays
        // they cause leave in one write per connection, not one per message. Stop at a message
        // whose handling awaits (hello), and go on after it.
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
      }
      if (client.state === "closed") break;
    }
    // Let a final error (NOT_REGISTERED, VERSION_MISMATCH, …) reach the client before closing.
    if (client.state === "closed") await within(conn.flush(), 200);
  }

  /**
   * Checks and handles one message; a failure goes back to the client as an error.
   *
   * @returns A promise when the handling awaits, to be awaited before the next message.
   */
  #receive(client: ServerClient, message: Message): Promise<void> | undefined {
    if (client.state === "greeting") return this.#greet(client, message);
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
      dispatch(client, message, this.#ctx);
    } catch (error) {
      this.#fail(client, message, error);
    }
    return undefined;
  }

  /** Before `welcome`: `hello` (rate-limited per address) and `quit`; anything else closes. */
  #greet(client: ServerClient, message: Message): Promise<void> | undefined {
    if (message.type === "quit") {
      closeAfterFlush(client, "quit before registering", { reason: "quit" });
      return undefined;
    }
    if (!allowedBeforeWelcome(message.type)) {
      this.#reject(
        client,
        "NOT_REGISTERED",
        `Cannot handle "${message.type}" before registering: send hello first; closing`,
        "id" in message && typeof message.id === "number" ? message.id : undefined,
      );
      closeAfterFlush(client, `NOT_REGISTERED: "${message.type}" before hello`);
      return undefined;
    }
    if (!this.#admission.takeHello(client.host, performance.now())) {
      this.#reject(
        client,
        "RATE_LIMITED",
        `Cannot register: over ${this.#limits.hellosPerAddressPerSecond} hellos per second from your address; wait and reconnect`,
      );
      closeAfterFlush(client, "RATE_LIMITED: hellos from its address");
      return undefined;
    }
    return this.#hello(client, message as HelloMessage).catch((error) =>
      this.#fail(client, message as ClientMessage, error)
    );
  }

  async #hello(client: ServerClient, message: HelloMessage) {
    try {
      let hello: VerifiedHello;
      client.verifying = true;
      try {
        // Names bound before the rules tightened stay usable by their keys (this process only).
        const bindings = this.#bindings;
        hello = await verifyHello(message, client.challenge, {
          boundTo: bindings === undefined ? undefined : (name) => bindings.get(name),
        });
      } finally {
        client.verifying = false;
      }
      if (client.state !== "greeting") return;
      // The community claims the name (atomically across a cluster), admits the client (marked
      // registered and welcomed in the same step, so that it misses no announcement), then tells
      // the others. A connection that closes meanwhile is never admitted.
      await this.#community.join({
        name: hello.name,
        lookalikes: nameKeys(hello.name),
        keys: hello.keys,
        conn: client,
        ephemeral: hello.ephemeral,
        canBind: () => this.#admission.takeNewName(client.host, performance.now()),
        admit: (welcome) => this.#welcome(client, hello, welcome),
      });
    } catch (error) {
      if (!(error instanceof PeerstreamError)) throw error;
      // A join cancelled because the connection closed has nobody left to tell.
      if (error.code === "SHUTTING_DOWN" && client.state !== "greeting") return;
      return this.#refuseHello(client, error);
    }
  }

  #welcome(client: ServerClient, hello: VerifiedHello, welcome: Welcome) {
    // Saved in the background and coalesced: a join storm must not write the file per join.
    if (welcome.newBinding) this.#nameSaver?.request();
    client.name = hello.name;
    client.state = "registered";
    this.#greeting.delete(client);
    client.conn.send({
      type: "welcome",
      name: hello.name,
      peers: welcome.peers,
      maxSealedBytes: this.#limits.maxSealedBytes,
      ...(welcome.unreachable.length > 0 ? { unreachable: welcome.unreachable } : {}),
    });
    this.#log.line(
      `join #${client.id} ${this.#log.text(hello.name)} key ${hello.fingerprint.slice(0, 16)}${
        hello.ephemeral ? " (ephemeral)" : ""
      }`,
    );
  }

  /** A refused hello: the connection may try again, up to `maxRefusedHellos` in all. */
  #refuseHello(client: ServerClient, error: PeerstreamError) {
    if (error.code === "VERSION_MISMATCH") {
      this.#reject(client, error.code, error.message);
      closeAfterFlush(client, error.code);
      return;
    }
    const max = this.#limits.maxRefusedHellos;
    const last = ++client.refusedHellos >= max;
    this.#reject(
      client,
      error.code,
      last
        ? `${error.message}; closing after ${max} refused hellos, reconnect to try again`
        : error.message,
    );
    if (last) closeAfterFlush(client, `${max} refused hellos, the last ${error.code}`);
  }

  #fail(client: ServerClient, message: ClientMessage, error: unknown) {
    if (error instanceof PeerstreamError) {
      this.#reject(client, error.code, error.message, requestIdOf(message));
    } else {
      this.#log.line(`internal error #${client.id}: ${(error as Error).stack ?? error}`);
      this.#reject(client, "INTERNAL", "Internal server error; see the server log");
    }
  }

  #reject(client: ServerClient, code: ErrorCode, text: string, re?: number) {
    const message = text.length > ERROR_MESSAGE_MAX ? `${text.slice(0, ERROR_MESSAGE_MAX)}…` : text;
    if (!client.rejectLogged.has(code)) {
      client.rejectLogged.add(code);
      const who = client.name === undefined ? "" : ` ${this.#log.text(client.name)}`;
      this.#log.limited(logKey(client), `reject #${client.id}${who}: ${code}: ${message}`);
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
   * Forgets a client that is done (idempotent): frees its slot at once, tells the others, fails
   * what was sent to it, logs why, and closes its socket once its last error is flushed.
   */
  #leave(client: ServerClient) {
    if (!this.#clients.delete(client)) return;
    this.#greeting.delete(client);
    client.state = "closed";
    client.stream?.abort();
    this.#admission.release(client.host);
    const why = client.closeWhy ?? client.conn.closeReason ?? "the client closed the connection";
    const suppressed = this.#log.forget(client.id);
    const note = suppressed > 0 ? `; ${suppressed} log lines suppressed` : "";
    // Also takes a connection whose join is still in flight (in a cluster) offline again.
    if (this.#community.leave(client, client.leaveReason)) {
      const name = client.name!;
      this.#log.line(
        `leave #${client.id} ${this.#log.text(name)} (${client.leaveReason}: ${why}${note})`,
      );
    } else {
      this.#log.limited(
        client.host,
        `disconnect #${client.id} ${client.conn.remote} (${why}${note})`,
      );
    }
    within(client.conn.flush(), 200).then(() => client.conn.close(why));
  }

  #tick() {
    const now = performance.now();
    this.#nameSaver?.refresh();
    this.#community.tick();
    this.#admission.prune(now);
    this.#log.prune();
    for (const client of this.#clients) {
      client.stream?.releaseStalledBacklog(now, this.#limits.leadBacklogStallMs);
      const silent = now - client.conn.lastReadAt;
      if (client.conn.writeStalledFor(now) > this.#limits.maxWriteStallMs) {
        // It stopped reading: nothing more can reach it, so close without a goodbye.
        client.leaveReason = "timeout";
        client.closeWhy = `SLOW_CONSUMER: no write progress for ${this.#limits.maxWriteStallMs} ms`;
        client.conn.close(client.closeWhy);
        this.#leave(client);
      } else if (
        client.state === "greeting" && now - client.connectedAt > this.#limits.handshakeMs
      ) {
        this.#drop(
          client,
          "HANDSHAKE_TIMEOUT",
          "no welcome within the handshake time of connecting",
        );
      } else if (silent > this.#limits.idleMs) {
        this.#drop(client, "IDLE_TIMEOUT", "no data within the idle time");
      } else if (silent > this.#limits.keepaliveMs && client.state === "registered") {
        client.conn.send({ type: "ping", id: ++client.pingId });
      }
    }
  }

  /** Tells a client why, then forgets it and closes once the error is flushed. */
  #drop(client: ServerClient, code: ErrorCode, why: string) {
    client.conn.send({ type: "error", code, message: `Closing connection: ${why}; reconnect` });
    client.leaveReason = "timeout";
    client.closeWhy = `${code}: ${why}`;
    this.#leave(client);
  }
}

/**
 * Whose budget a client's log lines count against: its own once registered, its address's before,
 * so that a storm of connections that never register costs a few lines.
 */
function logKey(client: ServerClient): number | string {
  return client.state === "registered" ? client.id : addressGroup(client.host);
}

/** The relay budgets among the limits. */
function relayBudgets(limits: ServerLimits): RelayBudgets {
  return {
    pairMessages: limits.relayPairMessages,
    pairBytes: limits.relayPairBytes,
    recipientMessages: limits.relayRecipientMessages,
    recipientBytes: limits.relayRecipientBytes,
  };
}

function requestIdOf(message: ClientMessage): number | undefined {
  return "id" in message && typeof message.id === "number" ? message.id : undefined;
}

/** An accepted connection before its transport is served. */
interface Arrival {
  /** The peer's address. */
  host: string;
  /** When it was accepted (ms, performance.now()). */
  since: number;
  conn: Deno.Conn;
}

/** The errors a refused plain TCP connection gets, encoded once. */
const REFUSAL_FRAMES = {
  full: encodeMessage({
    type: "error",
    code: "SERVER_FULL",
    message: "Cannot connect: the server has reached its connection limit; try again later",
  }),
  rate: encodeMessage({
    type: "error",
    code: "RATE_LIMITED",
    message: "Cannot connect: your address opens connections too fast; wait a second and retry",
  }),
};

/**
 * Refuses a connection right after accept: a plain TCP one gets `SERVER_FULL` or `RATE_LIMITED`
 * (one write, not awaited long), a TLS one is closed before any handshake work.
 */
async function refuseAccepted(conn: Deno.Conn, why: Admit = "server-full") {
  if (!isTlsConn(conn)) {
    await within(
      conn.write(why === "rate-limited" ? REFUSAL_FRAMES.rate : REFUSAL_FRAMES.full),
      200,
    );
  }
  closeQuietly(conn);
}

/**
 * A descriptor held in reserve, so that the accept loop can take one pending connection to refuse
 * it when the process is out of descriptors; undefined when none is free either.
 */
function openSpare(): Deno.FsFile | undefined {
  try {
    return Deno.openSync("/dev/null");
  } catch {
    return undefined;
  }
}

function closeQuietly(conn: Deno.Conn) {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Whether an accepted connection is a TLS one (its handshake waits for the first read). */
function isTlsConn(conn: Deno.Conn): conn is Deno.TlsConn {
  return typeof (conn as Partial<Deno.TlsConn>).handshake === "function";
}

/** Whether an accepted connection is a plain TCP one (TLS connections have no Nagle switch). */
function isTcpConn(conn: Deno.Conn): conn is Deno.TcpConn {
  return typeof (conn as Partial<Deno.TcpConn>).setNoDelay === "function";
}
