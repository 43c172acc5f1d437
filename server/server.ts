/**
 * The peerstream server: accepts connections within the admission limits, runs each one's read
 * loop and handshake, hands registered requests to the dispatcher, and watches deadlines. The
 * parts live in folders by concern: `door/` (transports, admission, the hello checks, the web
 * port), `community/` (presence, names and the relay, in this process or shared by a cluster),
 * `streaming/` (paced adaptive streams) and `ops/` (the command line, the log, metrics); beside
 * this file, the requests of a registered client (`dispatch.ts`), what the server keeps per
 * connection (`member.ts`) and every limit (`limits.ts`).
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import type { ClientMessage, HelloMessage, Message } from "../protocol/messages.ts";
import { encodeMessage, isClientMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { SegmentStore } from "../video/segment_store.ts";
import type { VideoLibrary } from "../video/video_library.ts";
import { within } from "./_async.ts";
import { Acceptor, closeQuietly } from "./door/acceptor.ts";
import { addressGroup } from "./door/address_group.ts";
import { Admission, type Admit, chooseEviction } from "./door/admission.ts";
import { closeAfterFlush, newClient, type ServerClient } from "./member.ts";
import { Connection, isProtocolViolation } from "./door/connection.ts";
import { Directory } from "./community/directory.ts";
import { dispatch } from "./dispatch.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import { allowedBeforeWelcome, type VerifiedHello, verifyHello } from "./door/handshake.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import { NameSaver, type NameStore } from "./community/name_store.ts";
import { Relay, type RelayBudgets } from "./community/relay.ts";
import { lineShape, ServerLog, serverLog } from "./ops/server_log.ts";
import {
  limitOfCode,
  type MetricsSource,
  type Readiness,
  type ServerSnapshot,
  ServerStats,
} from "./ops/server_stats.ts";
import { WebSocketTransport } from "./door/ws_transport.ts";
import { type Community, errorText, MemoryCommunity, type Welcome } from "./community/community.ts";
import { connectionEvents } from "./community/community_events.ts";
// Type only: the Redis community (and its npm client) loads only in cluster mode, see start().
import type { ClusterTiming } from "./community/redis_community.ts";
import { acceptProxied } from "./door/proxy_transport.ts";
import { acceptTls, secureContext } from "./door/tls_conn.ts";
import type { SecureContext } from "node:tls";
import { LeadGate } from "./streaming/lead_gate.ts";
import type { Transport } from "./door/transport.ts";
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
  /**
   * The log to write to, shared with the rest of the process (`serve` makes one with its format
   * and limits); `log` and the limits' log fields are unused when given.
   */
  logger?: ServerLog;
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
export class PeerstreamServer implements MetricsSource {
  /** What `--metrics` counts; incremented where things happen. */
  readonly stats: ServerStats = new ServerStats();
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
  /** The TCP port's TLS context (`tls`), made once at start. */
  #tlsContext?: SecureContext;
  #ctx: DispatchContext;
  readonly #nameSaver?: NameSaver;
  #videos?: VideoLibrary;
  #videosError?: string;
  /** Settles once the library is open (or cannot be): PLAY while loading is told then. */
  readonly #videosLoaded = Promise.withResolvers<VideoLibrary>();
  #listener?: Deno.Listener;
  #nextId = 1;
  #timer?: ReturnType<typeof setInterval>;
  #closing = false;
  #acceptor?: Acceptor;
  #handlers = new Set<Promise<void>>();
  /** Clients counted from their accept (see `admitConnection`), and their releases. */
  readonly #admitted = new Map<ServerClient, () => void>();

  /** @param options Address, videos, limits and logging. */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#limits = limits;
    this.#log = options.logger ?? serverLog(options.log ?? (() => {}), limits);
    const bindings = options.names?.load() ?? new Map<string, string>();
    this.#bindings = options.cluster === undefined ? bindings : undefined;
    const directory = new Directory({
      bindings,
      maxNamesPerKey: limits.maxNamesPerKey,
      maxNames: limits.maxNames,
    });
    this.#community = new MemoryCommunity({
      events: this.#events(false),
      directory,
      relay: new Relay(relayBudgets(limits)),
    });
    this.#admission = new Admission(limits);
    this.#videos = options.videos;
    if (options.videos !== undefined) this.#videosLoaded.resolve(options.videos);
    this.#videosLoaded.promise.catch(() => {});
    this.#ctx = {
      limits,
      log: this.#log,
      community: this.#community,
      store: new SegmentStore(),
      leadGate: new LeadGate({ maxBacklogBytes: limits.leadBacklogBytes }),
      videos: () => this.#requireVideos(),
      stats: this.stats,
      videosLoaded: () => this.#videosLoaded.promise,
    };
    if (options.names !== undefined && options.cluster === undefined) {
      this.#nameSaver = new NameSaver(options.names, bindings, {
        // `serve --release` waits until this server has read its change.
        acknowledge: true,
        onError: (error) =>
          this.#log.limited(
            "names",
            `Cannot save name bindings: ${(error as Error).message}; check the data folder`,
            { event: "names-save-failed", level: "error" },
          ),
        onReleased: (names) => {
          for (const name of names) {
            this.#community.release(name);
            this.#log.line(`release ${this.#log.name(name)}: any key may register it now`, {
              event: "release",
            });
          }
        },
        // `serve --rename`: the old name was released above, the new one is bound here.
        onBound: (added) => {
          for (const [name, key] of added) {
            directory.bind(name, key);
            this.#log.line(`bind ${this.#log.name(name)}: renamed by the operator`, {
              event: "bind",
            });
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
      // Keyed by the line's shape, so that a flood of one kind (bad messages on a channel) is
      // summarised without hiding another (Redis lost).
      log: (line) =>
        this.#log.limited(`cluster ${lineShape(line)}`, line, { event: "cluster", level: "warn" }),
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
    this.#videosLoaded.resolve(videos);
  }

  /**
   * Records why the video library could not be opened; LIST and PLAY then say so.
   *
   * @param message What went wrong, with a remedy.
   */
  setVideosError(message: string): void {
    this.#videosError = message;
    this.#videosLoaded.reject(new PeerstreamError("VIDEO_FAILED", message));
  }

  /**
   * The state now, for the metrics: one pass over the connections.
   *
   * @returns Connections by door and state, users, viewers by rendition, bytes sent, Redis.
   */
  snapshot(): ServerSnapshot {
    // Counted without making a string per connection: a scrape walks every connection.
    const handshakes = { tcp: 0, tls: 0, websocket: 0, http: 0 };
    const registereds = { tcp: 0, tls: 0, websocket: 0, http: 0 };
    const heights = new Map<number, number>();
    let bytesSent = this.stats.endedBytes;
    for (const client of this.#clients) {
      if (client.state === "registered") registereds[client.door]++;
      else handshakes[client.door]++;
      bytesSent += client.conn.bytesWritten;
      const height = client.stream?.height;
      if (height !== undefined) heights.set(height, (heights.get(height) ?? 0) + 1);
    }
    const connections: ServerSnapshot["connections"] = new Map();
    let registered = 0;
    for (const door of ["tcp", "tls", "websocket", "http"] as const) {
      connections.set(`${door} handshake`, handshakes[door]);
      connections.set(`${door} registered`, registereds[door]);
      registered += registereds[door];
    }
    const viewers = new Map([...heights].map(([height, n]) => [`${height}p`, n]));
    const community: Community<ServerClient> = this.#community;
    const redisUp = "up" in community && typeof community.up === "boolean"
      ? community.up
      : undefined;
    return { connections, registered, viewers, bytesSent, redisUp };
  }

  /**
   * Whether the server is ready (`/readyz`): its video library is open and, in a cluster, its link
   * to Redis is up.
   *
   * @returns Ready, or why not.
   */
  readiness(): Readiness {
    if (this.#videosError !== undefined) {
      return { ready: false, reason: `the video library failed: ${this.#videosError}` };
    }
    if (this.#videos === undefined) {
      return { ready: false, reason: "the video library is still loading" };
    }
    if (this.#options.cluster !== undefined && this.snapshot().redisUp !== true) {
      return { ready: false, reason: "Redis is unreachable" };
    }
    return { ready: true };
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
      const { RedisCommunity } = await import("./community/redis_community.ts");
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
      this.#log.line(`cluster: node ${this.#log.text(cluster.node)} joined the cluster`, {
        event: "cluster",
      });
    }
    const hostname = this.#options.hostname ?? "127.0.0.1";
    const port = this.#options.port ?? 7878;
    try {
      // TLS runs over the accepted TCP socket (tls_conn.ts), not Deno.listenTls: a TlsConn cannot
      // be closed before its handshake ends, so a silent peer would keep its socket for ever.
      if (this.#options.tls) this.#tlsContext = await secureContext(this.#options.tls);
      this.#listener = Deno.listen({ hostname, port, reusePort: this.#options.reusePort ?? false });
    } catch (error) {
      await this.#community.close();
      throw error;
    }
    this.#acceptor = new Acceptor(this.#listener, {
      serve: (conn) => this.#track(this.#accepted(conn)),
      failed: (_error, step) => {
        if (step.log !== undefined) {
          this.#log.line(step.log, { event: "accept-failed", level: "warn" });
        }
      },
      recovered: (line) => this.#log.line(line),
      refuse: (conn) => refuseAccepted(conn, { tls: this.#tlsContext !== undefined }),
    });
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
    this.#acceptor?.stop();
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
    await this.#acceptor?.done();
    await Promise.all(this.#handlers);
    // Every handler is done: leave the cluster, and no binding can be added after this save.
    await this.#community.close();
    await this.#nameSaver?.flush();
    this.#nameSaver?.close();
    await this.#videos?.close();
  }

  /**
   * Serves one client that arrived over any {@linkcode Transport} (the web page's WebSockets; the
   * TCP listener's sockets come this way too, after PROXY-protocol unwrapping): the same
   * handshake, limits, timeouts and shutdown for all.
   *
   * @param transport The client's byte stream; the server owns it from now on.
   * @param options `admitted`: the release {@linkcode PeerstreamServer.admitConnection} gave: the
   * transport is counted already, and its owner releases it once its socket is closed; the
   * server calls it sooner only when it evicts the connection to make room.
   */
  serveTransport(transport: Transport, options: { admitted?: () => void } = {}): void {
    if (this.#closing) {
      transport.close();
      return;
    }
    this.#track(this.#handle(transport, { admitted: options.admitted }));
  }

  /**
   * Counts a connection accepted elsewhere (the web door) against the connection limits from its
   * accept, making room as `#admit` does; a refusal is logged, rate-limited per address.
   *
   * @param addr The client's address.
   * @returns Its release (idempotent), or undefined when refused.
   */
  admitConnection(addr: Deno.NetAddr): (() => void) | undefined {
    if (this.#closing) return undefined;
    const host = addr.hostname;
    let verdict = this.#admission.admit(host);
    if (verdict === "server-full" && this.#evictFairly()) verdict = this.#admission.admit(host);
    if (verdict !== "ok") {
      const why = verdict === "address-full"
        ? `${this.#limits.maxConnectionsPerAddress} connections from this address`
        : `${this.#limits.maxConnections} connections`;
      this.#log.limited(`refused ${host}`, `refused web ${host}:${addr.port}: SERVER_FULL: ${why}`);
      return undefined;
    }
    let counted = true;
    return () => {
      if (counted) this.#admission.release(host);
      counted = false;
    };
  }

  #track(handling: Promise<void>) {
    // Our own bug, not the peer's: one line, its stack written once per distinct stack.
    const handler = handling.catch((error) => {
      this.#log.error("internal", "internal error", error);
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
      await refuseAccepted(accepted, { why: verdict, tls: this.#tlsContext !== undefined });
      return;
    }
    let counted = true;
    const arrival: Arrival = {
      host: from.hostname,
      since,
      conn: accepted,
      release: () => {
        if (counted) this.#admission.release(host);
        counted = false;
      },
    };
    this.#arriving.add(arrival);
    let socket: Transport | undefined;
    try {
      socket = await this.#open(arrival, id);
    } finally {
      this.#arriving.delete(arrival);
      arrival.release();
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
    const context = this.#tlsContext;
    if (context === undefined) return await this.#unwrapProxy(conn);
    const timeoutMs = this.#limits.tlsHandshakeMs;
    let secured: Transport;
    try {
      // On failure or past the deadline the TCP socket is closed: the peer sees its end at once.
      secured = await acceptTls(conn, { context, timeoutMs });
    } catch (error) {
      const from = conn.remoteAddr as Deno.NetAddr;
      const remote = `${from.hostname}:${from.port}`;
      const why = error instanceof Deno.errors.TimedOut ? "TLS_HANDSHAKE_TIMEOUT" : "TLS failed";
      this.#log.limited(
        `tls ${addressGroup(from.hostname)}`,
        `disconnect #${id} ${remote} (${why}: ${this.#log.text(errorText(error))})`,
        { event: "disconnect", fields: { id, remote, door: "tls" } },
      );
      return undefined;
    }
    return await this.#unwrapProxy(secured);
  }

  /**
   * Serves one transport: counts it (unless `admitted`), greets it and runs its read loop.
   *
   * @param options `admitted`: counted from its accept by its door (see `admitConnection`);
   * `since` and `id`: accepted by the TCP listener at `since` (the handshake deadline counts
   * from then), as connection `id`.
   */
  async #handle(
    socket: Transport,
    options: { admitted?: () => void; since?: number; id?: number } = {},
  ) {
    const conn = new Connection(socket, {
      maxQueuedControlBytes: this.#limits.maxQueuedControlBytes,
    });
    const { admitted } = options;
    const id = options.id ?? this.#nextId++;
    if (
      admitted === undefined && this.#admit(conn.remoteHost, { id, remote: conn.remote }) !== "ok"
    ) {
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
      now: options.since ?? performance.now(),
      ...this.#limits,
      door: socket instanceof WebSocketTransport ? "websocket" : this.#options.tls ? "tls" : "tcp",
    });
    if (admitted !== undefined) this.#admitted.set(client, admitted);
    this.#clients.add(client);
    this.#greeting.add(client);
    // Connections that never register are counted against their address in the log, so that a
    // connection storm costs a few lines, not two per connection.
    this.#log.limited(logKey(client), `connect #${id} ${conn.remote}`, {
      event: "connect",
      fields: { id, remote: conn.remote, door: client.door },
    });
    conn.onWriteError = (error) =>
      this.#log.limited(id, `write error #${id}: ${(error as Error).message}`, {
        event: "write-error",
        level: "warn",
      });
    conn.send({
      type: "server-hello",
      version: PROTOCOL_VERSION,
      server: SERVER_SOFTWARE,
      challenge: client.challenge.toBase64(),
    });
    try {
      await this.#readLoop(client);
    } catch (error) {
      if (!isProtocolViolation(error)) throw error;
      client.closeWhy = `${error.code}: ${error.message}`;
      this.stats.refuse(error.code);
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
  async #unwrapProxy(accepted: Transport): Promise<Transport | undefined> {
    const trusted = this.#options.trustedProxies;
    if (trusted === undefined || trusted.size === 0) return accepted;
    try {
      return await acceptProxied(accepted, { trusted });
    } catch (error) {
      // acceptProxied refuses with a PeerstreamError; anything else is a fault.
      if (!(error instanceof PeerstreamError)) throw error;
      const from = accepted.remoteAddr as Deno.NetAddr;
      this.#log.limited(
        `refused ${from.hostname}`,
        `refused ${from.hostname}:${from.port}: ${error.message}`,
        { event: "refused", level: "warn", fields: { reason: "proxy" } },
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
    this.stats.limit(
      verdict === "address-full"
        ? "connections_per_address"
        : verdict === "server-full"
        ? "connections"
        : "connects_per_address",
    );
    const code = verdict === "rate-limited" ? "RATE_LIMITED" : "SERVER_FULL";
    const why = verdict === "address-full"
      ? `${this.#limits.maxConnectionsPerAddress} connections from this address`
      : verdict === "server-full"
      ? `${this.#limits.maxConnections} connections`
      : `over ${this.#limits.connectsPerAddressPerSecond} connects per second from this address`;
    this.#log.limited(
      `refused ${addressGroup(host ?? "")}`,
      `refused #${who.id} ${who.remote}: ${code}: ${why}`,
      {
        event: "refused",
        level: "warn",
        fields: { id: who.id, remote: who.remote, code, reason: verdict },
      },
    );
    return verdict;
  }

  /**
   * Drops one connection still in its handshake (TLS, PROXY header or hello) and not verifying a
   * hello right now: from the address holding the most such
   * connections, its oldest (see `chooseEviction`). An honest client sends its hello as soon as
   * it is greeted, so a connection left idle there is a squatter.
   */
  #evictFairly(): boolean {
    type Candidate = { host: string; since: number; drop: () => void };
    const candidates: Candidate[] = [];
    for (const arrival of this.#arriving) {
      candidates.push({
        ...arrival,
        drop: () => {
          // Its place is needed now, not once its TLS handshake or PROXY read has failed.
          arrival.release();
          closeQuietly(arrival.conn);
        },
      });
    }
    for (const client of this.#greeting) {
      if (client.verifying) continue;
      candidates.push({
        host: client.host,
        since: client.connectedAt,
        drop: () => {
          // Its place is needed now, not once its socket has finished closing.
          this.#admitted.get(client)?.();
          this.#drop(
            client,
            "SERVER_FULL",
            "the server is full and this connection did not register",
          );
        },
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
      this.stats.limit("messages_per_connection");
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
      this.stats.limit("hellos_per_address");
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
      `join #${client.id} ${this.#log.name(hello.name)} key ${hello.fingerprint.slice(0, 16)}${
        hello.ephemeral ? " (ephemeral)" : ""
      }`,
      { event: "join", fields: { id: client.id } },
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
      this.#log.error(client.id, `internal error #${client.id}`, error);
      this.#reject(client, "INTERNAL", "Internal server error; see the server log");
    }
  }

  #reject(client: ServerClient, code: ErrorCode, text: string, re?: number) {
    const message = text.length > ERROR_MESSAGE_MAX ? `${text.slice(0, ERROR_MESSAGE_MAX)}…` : text;
    this.stats.refuse(code);
    if (!client.rejectLogged.has(code)) {
      client.rejectLogged.add(code);
      const who = client.name === undefined ? "" : ` ${this.#log.name(client.name)}`;
      this.#log.limited(logKey(client), `reject #${client.id}${who}: ${code}: ${message}`, {
        event: "reject",
        level: "warn",
        fields: { id: client.id, code },
      });
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
    // A connection counted from its accept (the web door) stays counted until its socket closes.
    if (!this.#admitted.delete(client)) this.#admission.release(client.host);
    // Its bytes leave the live sum of the metrics: count them among the ended connections'.
    this.stats.endedBytes += client.conn.bytesWritten;
    const why = client.closeWhy ?? client.conn.closeReason ?? "the client closed the connection";
    const suppressed = this.#log.forget(client.id);
    const note = suppressed > 0 ? `; ${suppressed} log lines suppressed` : "";
    // Also takes a connection whose join is still in flight (in a cluster) offline again.
    if (this.#community.leave(client, client.leaveReason)) {
      const name = client.name!;
      this.#log.line(
        `leave #${client.id} ${this.#log.name(name)} (${client.leaveReason}: ${why}${note})`,
        { event: "leave", fields: { id: client.id, reason: client.leaveReason } },
      );
    } else {
      this.#log.limited(
        client.host,
        `disconnect #${client.id} ${client.conn.remote} (${why}${note})`,
        { event: "disconnect", fields: { id: client.id, remote: client.conn.remote } },
      );
    }
    within(client.conn.flush(), 200).then(() => client.conn.close(why));
  }

  #tick() {
    const now = performance.now();
    this.#nameSaver?.refresh();
    this.#community.tick();
    this.#admission.prune(now);
    this.#log.flush();
    for (const client of this.#clients) {
      client.stream?.releaseStalledBacklog(now, this.#limits.leadBacklogStallMs);
      const silent = now - client.conn.lastReadAt;
      if (client.conn.writeStalledFor(now) > this.#limits.maxWriteStallMs) {
        // It stopped reading: nothing more can reach it, so close without a goodbye.
        client.leaveReason = "timeout";
        client.closeWhy = `SLOW_CONSUMER: no write progress for ${this.#limits.maxWriteStallMs} ms`;
        this.stats.limit("slow_consumer");
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
    const limit = code === "SERVER_FULL" ? "connections" : limitOfCode(code);
    if (limit !== undefined) this.stats.limit(limit);
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
  /** Stops counting it (idempotent): when it is evicted, or once it is served or closed. */
  release: () => void;
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
 * Refuses a connection right after accept: on a plain TCP port it gets `SERVER_FULL` or
 * `RATE_LIMITED` (one write, not awaited long); on a TLS port it is closed before any handshake
 * work.
 */
async function refuseAccepted(
  conn: Deno.Conn,
  options: { why?: Admit; tls?: boolean } = {},
) {
  if (!options.tls) {
    await within(
      conn.write(options.why === "rate-limited" ? REFUSAL_FRAMES.rate : REFUSAL_FRAMES.full),
      200,
    );
  }
  closeQuietly(conn);
}

/** Whether an accepted connection is a plain TCP one (TLS connections have no Nagle switch). */
function isTcpConn(conn: Deno.Conn): conn is Deno.TcpConn {
  return typeof (conn as Partial<Deno.TcpConn>).setNoDelay === "function";
}
