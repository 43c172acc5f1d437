/**
 * The community of a cluster node: presence, names and routing shared through one Redis
 * (`serve --redis`). Names are claimed by Lua scripts (atomic across nodes); presence changes are
 * published with a sequence number and mirrored by every node in a {@linkcode PresenceReplica};
 * a sealed message to a peer on another node is published to that node's channel, and its
 * outcome comes back on ours (`cluster_inbox.ts` takes what comes for this node's peers). Peers on
 * this node are served exactly as by {@linkcode MemoryCommunity}: synchronously, with no Redis on
 * the path, except for a joiner's offline queue, which goes first (`cluster_queue.ts`: messages to
 * offline, bound peers wait in Redis).
 *
 * Each node renews a heartbeat key (TTL `ttlMs`) every `beatMs` and takes offline the peers of
 * nodes whose heartbeat lapsed. When this node loses Redis it keeps its own peers chatting, shows
 * everyone elsewhere as unreachable, refuses new joins (`UNAVAILABLE`) and messages to other
 * nodes (`PEER_UNREACHABLE`); once Redis answers again it re-asserts its peers and reads the whole
 * table back (see `SYNC` in cluster_scripts.ts). The heartbeat, outage and resynchronisation run in
 * `cluster_heartbeat.ts`; the refusals are in `cluster_refusals.ts`. Where a message goes (here,
 * another node, an offline queue) is `cluster_send.ts`; what comes in on the node's channels is
 * routed by `cluster_channels.ts`.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { LeaveReason } from "../../protocol/messages.ts";
import { PresenceReplica } from "./cluster_presence.ts";
import { describeCorrupt, OncePerInterval } from "./cluster_corrupt.ts";
import { BYE, LEAVE, RELEASE } from "./cluster_scripts.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { isNodeName } from "./cluster_wire.ts";
import {
  type Community,
  type CommunityEvents,
  errorText,
  type JoinRequest,
  nameInUse,
  type PeerKeys,
  type Welcome,
} from "./community.ts";
import { RedisLink } from "./redis_link.ts";
import { redactUrl } from "./redis_url.ts";
import { ClusterInbox } from "./cluster_inbox.ts";
import { ClusterSend } from "./cluster_send.ts";
import { ClusterChannels } from "./cluster_channels.ts";
import { ClusterRoutes } from "./cluster_routes.ts";
import { unavailable } from "./cluster_refusals.ts";
import { ClusterQueue } from "./cluster_queue.ts";
import { ClusterHeartbeat, isCorruptState } from "./cluster_heartbeat.ts";
import { ClusterClaims } from "./cluster_join.ts";
import { LocalPeers } from "./cluster_locals.ts";
import {
  type ClusterLimits,
  type ClusterTiming,
  DEFAULT_CLUSTER_LIMITS,
  DEFAULT_TIMING,
  type RedisCommunityOptions,
} from "./cluster_config.ts";

import { ClusterRoomLog } from "./cluster_rooms.ts";
import { ClusterTimelineStore } from "./cluster_timelines.ts";

export * from "./cluster_config.ts";

/** A cluster node's view of the community. */
export class RedisCommunity<C> implements Community<C> {
  readonly #events: CommunityEvents<C>;
  readonly #limits: ClusterLimits;
  readonly #timing: ClusterTiming;
  readonly #node: string;
  readonly #inst = crypto.randomUUID();
  readonly #prefix: string;
  readonly #url: string;
  readonly #now: () => number;
  /** Complaints about corrupt state in Redis reach the log once a minute, not once a join. */
  readonly #corruptLog: OncePerInterval;
  readonly #onFatal: (message: string) => void;
  readonly #replica: PresenceReplica;
  readonly #locals = new LocalPeers<C>();
  readonly #claims: ClusterClaims<C>;
  readonly #inbox: ClusterInbox<C>;
  readonly #routes: ClusterRoutes<C>;
  readonly #queue: ClusterQueue<C>;
  readonly #keys: ClusterKeys<C>;
  readonly #send: ClusterSend<C>;
  readonly #channels: ClusterChannels<C>;
  #link!: RedisLink;
  readonly #rooms: RedisCommunityOptions<C>["rooms"];
  readonly #heartbeat: ClusterHeartbeat;
  #closed = false;

  private constructor(options: RedisCommunityOptions<C>) {
    this.#events = options.events;
    this.#limits = { ...DEFAULT_CLUSTER_LIMITS, ...options.limits };
    const timing = { ...DEFAULT_TIMING, ...options.timing };
    if (options.timing?.graceMs === undefined) timing.graceMs = timing.ttlMs + 2 * timing.beatMs;
    this.#timing = timing;
    this.#node = options.node;
    this.#prefix = options.prefix ?? "peerstream:";
    this.#url = options.url;
    this.#now = options.now ?? (() => performance.now());
    this.#corruptLog = new OncePerInterval({ now: this.#now });
    this.#onFatal = options.onFatal ?? (() => {});
    this.#rooms = options.rooms;
    this.#replica = new PresenceReplica(options.node);
    this.#routes = new ClusterRoutes<C>({
      node: options.node,
      channel: (node) => this.#key(`to:${node}`),
      link: () => this.#link,
      outcome: (sender, requestId, outcome) => this.#events.outcome(sender, requestId, outcome),
      now: this.#now,
      remoteTimeoutMs: timing.remoteTimeoutMs,
      closed: () => this.#closed,
    });
    this.#heartbeat = this.#makeHeartbeat();
    const local = (name: string) => this.#locals.get(name)?.conn;
    this.#queue = new ClusterQueue<C>({
      prefix: this.#prefix,
      limits: this.#limits.queue,
      link: () => this.#link,
      events: this.#events,
      local,
    });
    this.#keys = new ClusterKeys<C>({
      prefix: this.#prefix,
      locals: this.#locals,
      replica: this.#replica,
      link: () => this.#link,
      log: (line) => this.#events.log(line),
    });
    this.#inbox = new ClusterInbox<C>({
      budgets: this.#limits.budgets,
      local,
      deliver: (conn, delivery) => this.#queue.deliver(conn, delivery),
      outcome: (sender, requestId, outcome) => this.#events.outcome(sender, requestId, outcome),
      answer: (sender, outcome) => this.#routes.answer(sender, outcome),
    });
    this.#claims = new ClusterClaims({
      prefix: this.#prefix,
      node: this.#node,
      inst: this.#inst,
      limits: this.#limits,
      link: () => this.#link,
      log: (line) => this.#events.log(line),
      corrupt: (reply, effect) => this.#corrupt(reply, effect),
      down: (cause) => this.#heartbeat.down(cause),
    });
    this.#send = new ClusterSend<C>({
      node: this.#node,
      locals: this.#locals,
      replica: this.#replica,
      inbox: this.#inbox,
      routes: this.#routes,
      queue: this.#queue,
      up: () => this.#heartbeat.up,
      events: this.#events,
    });
    this.#channels = new ClusterChannels<C>({
      prefix: this.#prefix,
      closed: () => this.#closed,
      rooms: this.#rooms,
      locals: this.#locals,
      replica: this.#replica,
      heartbeat: this.#heartbeat,
      queue: this.#queue,
      routes: this.#routes,
      inbox: this.#inbox,
      events: this.#events,
    });
  }

  /** The heartbeat, wired to this node. */
  #makeHeartbeat(): ClusterHeartbeat {
    return new ClusterHeartbeat({
      node: this.#node,
      timing: this.#timing,
      link: () => this.#link,
      replica: this.#replica,
      args: (...rest) => this.#args(...rest),
      now: this.#now,
      corruptLog: this.#corruptLog,
      closed: () => this.#closed,
      log: (line) => this.#events.log(line),
      corrupt: (reply, effect) => this.#corrupt(reply, effect),
      announce: (announcements) => this.#channels.announce(announcements),
      entries: () => this.#locals.syncEntries(),
      kick: (name) => this.#kick(name),
      fatal: () => this.#fatal(),
      retry: () => this.#routes.retry(),
      tick: () => this.tick(),
      lost: () => this.#routes.lost(),
    });
  }

  /**
   * Joins the cluster: connects, claims the node name (waiting out the heartbeat of an earlier
   * instance of this node that crashed), removes that instance's stale presence and reads the
   * presence table.
   *
   * @param options The URL, the node name, events, limits and timing.
   * @returns The node's community, up.
   * @throws {Error} When Redis cannot be reached, the node name is held by a live node, or the live
   * nodes speak another cluster protocol; the message says what to do.
   */
  static async open<C>(options: RedisCommunityOptions<C>): Promise<RedisCommunity<C>> {
    if (!isNodeName(options.node)) {
      throw new TypeError(
        `Invalid node name "${options.node}": use 1 to 64 letters, digits, ".", "_" or "-"`,
      );
    }
    const community = new RedisCommunity(options);
    const where = `the cluster at ${redactUrl(options.url)}`;
    try {
      community.#link = await RedisLink.open({
        url: options.url,
        commandTimeoutMs: community.#timing.commandTimeoutMs,
        connectTimeoutMs: community.#timing.ttlMs + 2 * community.#timing.beatMs,
        onMessage: (channel, message) => community.#channels.receive(channel, message),
        onDown: (cause) => community.#heartbeat.down(cause),
        onReady: () => {
          community.#heartbeat.resync();
          options.rooms?.reconnected();
        },
        name: `peerstream:${options.node}`,
      }, [
        community.#key("events"),
        community.#key(`to:${options.node}`),
        community.#key("queue"),
        community.#key("rooms"),
        community.#key("timelines"),
      ]);
    } catch (error) {
      throw new Error(`Cannot join ${where}: ${errorText(error)}; check that Redis is running`, {
        cause: error,
      });
    }
    try {
      await community.#heartbeat.hello(where);
      await community.#heartbeat.sync();
    } catch (error) {
      await community.#link.close();
      if (isCorruptState(error)) {
        throw new Error(`Cannot join ${where}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    community.#heartbeat.start();
    return community;
  }

  /** This node's name. */
  get node(): string {
    return this.#node;
  }

  /** Whether this node can reach Redis and is in sync with it. */
  get up(): boolean {
    return this.#heartbeat.up;
  }

  get localCount(): number {
    return this.#locals.size;
  }

  async join(request: JoinRequest<C>): Promise<Welcome> {
    const { name } = request;
    if (!this.#heartbeat.up) throw unavailable();
    if (this.#locals.get(name) !== undefined) throw nameInUse(name);
    const { newBinding, cancelled, queued } = await this.#claims.claim(request);
    if (cancelled || this.#closed) {
      // The connection closed while Redis answered: take it offline again.
      this.#runLeave(name, "disconnected");
      throw new PeerstreamError(
        "SHUTTING_DOWN",
        `Cannot register "${name}": the connection closed`,
      );
    }
    return this.#admit(request, newBinding, queued);
  }

  #admit(request: JoinRequest<C>, newBinding: boolean, queued: boolean): Welcome {
    const { name, conn } = request;
    this.#locals.add(name, {
      conn,
      keys: request.keys,
      lookalikes: request.lookalikes,
      ephemeral: request.ephemeral,
    });
    this.#replica.forget(name);
    const { reachable, unreachable } = this.#replica.names();
    const peers = this.#locals.names().filter((n) => n !== name);
    peers.push(...reachable);
    const welcome = { peers, unreachable, newBinding };
    request.admit?.(welcome);
    this.#events.joined(name);
    // Only a bound name has a queue (an ephemeral one may belong to someone else next). Without
    // one, live messages to the joiner go at once; with one, after what waited.
    if (queued && !request.ephemeral) this.#queue.drain(name, conn);
    return welcome;
  }

  leave(conn: C, reason: LeaveReason): boolean {
    if (this.#claims.cancel(conn)) return false;
    const name = this.#locals.nameOf(conn);
    if (name === undefined) return false;
    this.#dropLocal(name, reason);
    this.#runLeave(name, reason);
    return true;
  }

  /** Removes a local peer, announces its leave here and fails what it had not confirmed. */
  #dropLocal(name: string, reason: LeaveReason) {
    const local = this.#locals.remove(name);
    if (local === undefined) return;
    this.#queue.forget(local.conn);
    this.#events.left(name, reason);
    this.#inbox.recipientLeft(name);
  }

  #runLeave(name: string, reason: LeaveReason) {
    if (!this.#heartbeat.up) return; // The next SYNC leaves it out.
    this.#link.run(LEAVE, [this.#prefix, this.#node, name, reason]).then((reply) => {
      if (Array.isArray(reply)) this.#corrupt(reply, `"${name}" stays listed online in Redis`);
    }, (error) => {
      this.#events.log(`cluster: cannot record that "${name}" left: ${errorText(error)}`);
      this.#heartbeat.down(errorText(error));
    });
  }

  /**
   * The connection of a name online on this node (rooms push to their members through it).
   *
   * @param name The normalized name.
   * @returns Its connection, or undefined when it is not online here.
   */
  connectionOf(name: string): C | undefined {
    return this.#locals.get(name)?.conn;
  }

  lookup(name: string): PeerKeys | undefined {
    return this.#keys.lookup(name);
  }

  find(name: string): Promise<PeerKeys | undefined> {
    return this.#keys.find(name);
  }

  send(
    sender: C,
    message: { requestId: number; to: string; body: Uint8Array; room?: string },
  ): void {
    this.#send.send(sender, message);
  }

  receipt(by: C, receipt: ReceiptVerdict): void {
    this.#send.receipt(by, receipt);
  }

  async release(name: string): Promise<boolean> {
    try {
      return Number(await this.#link.run(RELEASE, [this.#prefix, name])) === 1;
    } catch (error) {
      throw new PeerstreamError(
        "UNAVAILABLE",
        `Cannot release "${name}": ${errorText(error)}; try again when Redis is back`,
      );
    }
  }

  tick(): void {
    this.#routes.expire();
    if (this.#heartbeat.up && !this.#closed) this.#queue.expire(this.#now());
  }

  /**
   * Leaves the cluster. A clean close takes this node's peers offline everywhere at once; without
   * `graceful` (as after a crash) the others notice when the heartbeat lapses.
   *
   * @param options Whether to say goodbye. @default {{ graceful: true }}
   */
  async close(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    await this.#heartbeat.syncing?.catch(() => {});
    if (options.graceful !== false && this.#heartbeat.up) {
      await this.#link.run(BYE, [this.#prefix, this.#node, this.#inst]).then((reply) => {
        if (Array.isArray(reply)) this.#corrupt(reply, "this node's peers stay listed online");
      }, (error) => {
        this.#events.log(`cluster: cannot leave cleanly: ${errorText(error)}`);
      });
    }
    await this.#link.close();
  }

  // ---- Redis side ----

  #key(suffix: string): string {
    return this.#prefix + suffix;
  }

  #args(...rest: string[]): string[] {
    return [this.#prefix, this.#node, this.#inst, ...rest];
  }

  /**
   * Says (once a minute at most) that a script found corrupt state, and what that stops.
   *
   * @returns The description, or "" when the answer was not a `CORRUPT` one.
   */
  #corrupt(reply: readonly unknown[], effect: string): string {
    const what = describeCorrupt(reply);
    if (what === undefined) return "";
    const line = this.#corruptLog.line(`cluster: ${what} (${effect})`, what);
    if (line !== undefined) this.#events.log(line);
    return what;
  }

  #fatal() {
    const message = `Cannot stay in the cluster at ${
      redactUrl(this.#url)
    }: another instance took the node name "${this.#node}"; give each node its own --node`;
    this.#events.log(message);
    this.#heartbeat.down("another instance took this node's name");
    this.#onFatal(message);
  }

  #kick(name: string) {
    const local = this.#locals.get(name);
    if (local === undefined) return;
    this.#dropLocal(name, "kicked");
    this.#events.kick(
      local.conn,
      "NAME_TAKEN",
      `Disconnected: "${name}" was registered on another server while this one was cut off; reconnect`,
    );
  }

  /**
   * The cluster's rooms in Redis, on this node's link.
   *
   * @returns The room log.
   */
  roomLog(): ClusterRoomLog {
    return new ClusterRoomLog(this.#link, this.#prefix);
  }

  /**
   * The rooms' timelines in Redis (watching together), on this node's link.
   *
   * @returns The timeline store.
   */
  timelineStore(): ClusterTimelineStore {
    return new ClusterTimelineStore(this.#link, this.#prefix);
  }
}
