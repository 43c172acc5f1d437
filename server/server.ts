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

import { encodeMessage } from "../protocol/messages.ts";
import { SegmentStore } from "../video/segment_store.ts";
import type { VideoLibrary } from "../video/video_library.ts";
import { within } from "./_async.ts";
import { type Community, MemoryCommunity } from "./community/community.ts";
import { connectionEvents } from "./community/community_events.ts";
import { Directory } from "./community/directory.ts";
import type { NameSaver, NameStore } from "./community/name_store.ts";
import { Relay } from "./community/relay.ts";
import type { RoomStorage } from "./community/room_store.ts";
import { Rooms } from "./community/rooms.ts";
import { RoomTimelines } from "./community/room_timelines.ts";
import type { ClusterClock } from "./community/cluster_clock.ts";
import { type ClusterOptions, joinCluster } from "./cluster_start.ts";
import { OfflineQueue, type QueueStorage } from "./community/offline_queue.ts";
import { savedNames } from "./community/saved_names.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import { closeQuietly } from "./door/acceptor.ts";
import { Admission } from "./door/admission.ts";
import { type Evictable, Gate } from "./door/gate.ts";
import { TcpDoor } from "./door/tcp_door.ts";
import { secureContext } from "./door/tls_conn.ts";
import type { Transport } from "./door/transport.ts";
import {
  DEFAULT_LIMITS,
  queueLimits,
  relayBudgets,
  roomLimits,
  type ServerLimits,
} from "./limits.ts";
import { closeAfterFlush, type ServerClient } from "./member.ts";
import { Members } from "./members.ts";
import { lineShape, ServerLog, serverLog } from "./ops/server_log.ts";
import {
  type MetricsSource,
  type Readiness,
  type ServerSnapshot,
  ServerStats,
} from "./ops/server_stats.ts";
import { snapshotOf } from "./ops/snapshot.ts";
import { LeadGate } from "./streaming/lead_gate.ts";
import { VideoShelf } from "./streaming/video_shelf.ts";
import type { SecureContext } from "node:tls";

export { SERVER_SOFTWARE } from "./members.ts";
export type { ClusterOptions } from "./cluster_start.ts";

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
  /**
   * Where messages for offline, persistently bound peers wait (`DATA/queue`); without it a message
   * to an offline peer is refused. Unused in cluster mode, where the queues are in Redis.
   */
  queue?: QueueStorage;
  /**
   * Where rooms persist (`DATA/rooms`), loaded at `start`; without it (and in cluster mode) room
   * requests are refused.
   */
  rooms?: RoomStorage;
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

/** A running server. */
export class PeerstreamServer implements MetricsSource {
  /** What `--metrics` counts; incremented where things happen. */
  readonly stats: ServerStats = new ServerStats();
  readonly #options: ServerOptions;
  readonly #limits: ServerLimits;
  readonly #log: ServerLog;
  #community: Community<ServerClient>;
  /** The community of this process (none in cluster mode): rooms reach members through it. */
  readonly #memory: MemoryCommunity<ServerClient>;
  /** This process's bindings (none in cluster mode, where Redis holds them). */
  readonly #bindings?: ReadonlyMap<string, string>;
  readonly #admission: Admission;
  readonly #gate: Gate;
  readonly #members: Members;
  #ctx: DispatchContext;
  readonly #nameSaver?: NameSaver;
  readonly #videos: VideoShelf;
  #timer?: ReturnType<typeof setInterval>;
  /** In a cluster: the cluster's clock (Redis TIME), measured every 30 s. */
  #clusterClock?: ClusterClock;
  #closing = false;
  #door?: TcpDoor;
  #handlers = new Set<Promise<void>>();

  /** @param options Address, videos, limits and logging. */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#limits = limits;
    this.#log = options.logger ?? serverLog(options.log ?? (() => {}), limits);
    const bindings = options.names?.load() ?? new Map<string, string>();
    this.#bindings = options.cluster === undefined ? bindings : undefined;
    const directory = new Directory<ServerClient>({
      bindings,
      maxNamesPerKey: limits.maxNamesPerKey,
      maxNames: limits.maxNames,
    });
    this.#memory = new MemoryCommunity<ServerClient>({
      events: this.#events(false),
      directory,
      relay: new Relay(relayBudgets(limits)),
      queue: options.queue === undefined || options.cluster !== undefined
        ? undefined
        : new OfflineQueue(options.queue, queueLimits(limits)),
    });
    this.#community = this.#memory;
    this.#admission = new Admission(limits);
    this.#gate = new Gate({
      admission: this.#admission,
      limits,
      stats: this.stats,
      log: this.#log,
      evictable: () => this.#evictable(),
    });
    const videos = new VideoShelf(options.videos);
    this.#videos = videos;
    this.#ctx = {
      limits,
      log: this.#log,
      community: this.#community,
      store: new SegmentStore(),
      leadGate: new LeadGate({ maxBacklogBytes: limits.leadBacklogBytes }),
      videos: () => videos.require(),
      stats: this.stats,
      videosLoaded: () => videos.loaded(),
    };
    if (options.names !== undefined && options.cluster === undefined) {
      this.#nameSaver = savedNames(options.names, {
        bindings,
        directory,
        community: () => this.#community,
        log: this.#log,
      });
    }
    this.#members = new Members({
      limits,
      log: this.#log,
      stats: this.stats,
      admission: this.#admission,
      admit: (host, who) => this.#gate.admit(host, who),
      community: () => this.#community,
      context: () => this.#ctx,
      bindings: this.#bindings,
      nameSaver: this.#nameSaver,
      tls: options.tls !== undefined,
    });
  }

  /** The community's events as frames on this server's connections. */
  #events(coalesce: boolean) {
    return connectionEvents<ServerClient>({
      registered: () => this.#members.registered(),
      kick: (client, code, message) => {
        client.leaveReason = "kicked";
        this.#members.reject(client, { code, message });
        closeAfterFlush(client, `${code}: the name went to another server`);
      },
      // Keyed by the line's shape, so that a flood of one kind (bad messages on a channel) is
      // summarised without hiding another (Redis lost).
      log: (line) =>
        this.#log.limited(`cluster ${lineShape(line)}`, line, { event: "cluster", level: "warn" }),
      coalesce,
    });
  }

  /**
   * Sets the video library once it is open (the server listens before the library is scanned).
   *
   * @param videos The library.
   */
  setVideos(videos: VideoLibrary): void {
    this.#videos.open(videos);
  }

  /**
   * Records why the video library could not be opened; LIST and PLAY then say so.
   *
   * @param message What went wrong, with a remedy.
   */
  setVideosError(message: string): void {
    this.#videos.fail(message);
  }

  /**
   * The state now, for the metrics: one pass over the connections.
   *
   * @returns Connections by door and state, users, viewers by rendition, bytes sent, Redis.
   */
  snapshot(): ServerSnapshot {
    const community: Community<ServerClient> = this.#community;
    return snapshotOf(this.#members.all(), {
      endedBytes: this.stats.endedBytes,
      redisUp: "up" in community && typeof community.up === "boolean" ? community.up : undefined,
    });
  }

  /**
   * Whether the server is ready (`/readyz`): its video library is open and, in a cluster, its link
   * to Redis is up.
   *
   * @returns Ready, or why not.
   */
  readiness(): Readiness {
    const notReady = this.#videos.notReady();
    if (notReady !== undefined) return { ready: false, reason: notReady };
    if (this.#options.cluster !== undefined && this.snapshot().redisUp !== true) {
      return { ready: false, reason: "Redis is unreachable" };
    }
    return { ready: true };
  }

  /** The address the server listens on, once started. */
  get addr(): Deno.NetAddr {
    if (this.#door === undefined) throw new Error("Server is not started");
    return this.#door.addr;
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
      const joined = await joinCluster(cluster, {
        limits: this.#limits,
        log: this.#log,
        events: this.#events(true),
        ctx: () => this.#ctx,
        update: (parts) => {
          this.#ctx = { ...this.#ctx, ...parts };
          if (parts.community !== undefined) this.#community = parts.community;
        },
      });
      this.#clusterClock = joined.clock;
    }
    if (cluster === undefined && this.#options.rooms !== undefined) await this.#openRooms();
    const hostname = this.#options.hostname ?? "127.0.0.1";
    const port = this.#options.port ?? 7878;
    let listener: Deno.Listener;
    let tls: SecureContext | undefined;
    try {
      // TLS runs over the accepted TCP socket (tls_conn.ts), not Deno.listenTls: a TlsConn cannot
      // be closed before its handshake ends, so a silent peer would keep its socket for ever.
      if (this.#options.tls) tls = await secureContext(this.#options.tls);
      listener = Deno.listen({ hostname, port, reusePort: this.#options.reusePort ?? false });
    } catch (error) {
      await this.#community.close();
      throw error;
    }
    this.#door = new TcpDoor(listener, {
      tls,
      trustedProxies: this.#options.trustedProxies,
      tlsHandshakeMs: this.#limits.tlsHandshakeMs,
      log: this.#log,
      admit: (host, who) => this.#gate.admit(host, who),
      release: (host) => this.#admission.release(host),
      nextId: () => this.#members.nextId(),
      serve: (socket, accepted) => this.#members.serve(socket, accepted),
      track: (handling) => this.#track(handling),
    });
    this.#timer = setInterval(() => this.#tick(), 1000);
    return this.addr;
  }

  /** Loads the rooms of this process from the data folder. */
  async #openRooms() {
    const limits = this.#limits;
    const rooms = await Rooms.open(this.#options.rooms!, roomLimits(limits));
    const memory = this.#memory;
    this.#ctx = {
      ...this.#ctx,
      rooms: {
        rooms,
        connectionOf: (name) => memory.connectionOf(name),
        timelines: new RoomTimelines(),
      },
    };
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
    this.#clusterClock?.stop();
    this.#door?.stop();
    const flushes: Promise<void>[] = [];
    const goodbye = encodeMessage({ type: "shutdown", message });
    for (const client of this.#members.all()) {
      client.stream?.abort();
      client.conn.dropMedia(client.stream?.streamId ?? -1);
      client.conn.sendEncoded(goodbye);
      flushes.push(client.conn.flush());
    }
    await within(Promise.all(flushes), 1000);
    for (const client of this.#members.all()) client.conn.close("the server is shutting down");
    await this.#door?.done();
    await Promise.all(this.#handlers);
    // Every handler is done: leave the cluster, and no binding can be added after this save.
    await this.#community.close();
    await this.#nameSaver?.flush();
    this.#nameSaver?.close();
    await this.#videos.close();
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
    this.#track(this.#members.serve(transport, { admitted: options.admitted }));
  }

  /**
   * Counts a connection accepted elsewhere (the web door) against the connection limits from its
   * accept, making room as {@linkcode Gate.admit} does; a refusal is logged, rate-limited per address.
   *
   * @param addr The client's address.
   * @returns Its release (idempotent), or undefined when refused.
   */
  admitConnection(addr: Deno.NetAddr): (() => void) | undefined {
    if (this.#closing) return undefined;
    return this.#gate.admitConnection(addr);
  }

  #track(handling: Promise<void>) {
    // Our own bug, not the peer's: one line, its stack written once per distinct stack.
    const handler = handling.catch((error) => {
      this.#log.error("internal", "internal error", error);
    });
    this.#handlers.add(handler);
    handler.finally(() => this.#handlers.delete(handler));
  }

  /** The connections that may be evicted to make room: arriving, or greeted and idle. */
  *#evictable(): Iterable<Evictable> {
    for (const arrival of this.#door?.arrivals() ?? []) {
      yield {
        host: arrival.host,
        since: arrival.since,
        drop: () => {
          // Its place is needed now, not once its TLS handshake or PROXY read has failed.
          arrival.release();
          closeQuietly(arrival.conn);
        },
      };
    }
    yield* this.#members.evictable();
  }

  #tick() {
    const now = performance.now();
    this.#nameSaver?.refresh();
    this.#community.tick();
    this.#admission.prune(now);
    this.#log.flush();
    this.#members.tick(now);
  }
}
