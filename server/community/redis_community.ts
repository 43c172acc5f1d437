/**
 * The community of a cluster node: presence, names and routing shared through one Redis
 * (`serve --redis`). Names are claimed by Lua scripts (atomic across nodes); presence changes are
 * published with a sequence number and mirrored by every node in a {@linkcode PresenceReplica};
 * a sealed message to a peer on another node is published to that node's channel, and its
 * outcome comes back on ours. Peers on this node are served exactly as by
 * {@linkcode MemoryCommunity}: synchronously, with no Redis on the path.
 *
 * Each node renews a heartbeat key (TTL `ttlMs`) every `beatMs` and takes offline the peers of
 * nodes whose heartbeat lapsed. When this node loses Redis it keeps its own peers chatting, shows
 * everyone elsewhere as unreachable, refuses new joins (`UNAVAILABLE`) and messages to other
 * nodes (`PEER_UNREACHABLE`); once Redis answers again it re-asserts its peers and reads the whole
 * table back (see `SYNC` in cluster_scripts.ts).
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import type { LeaveReason } from "../../protocol/messages.ts";
import { quoted } from "../../protocol/text.ts";
import { type Announcement, PresenceReplica } from "./cluster_presence.ts";
import { describeCorrupt, OncePerInterval } from "./cluster_corrupt.ts";
import { BEAT, BYE, HELLO, JOIN, LEAVE, RELEASE, SYNC } from "./cluster_scripts.ts";
import {
  checkEntry,
  CLUSTER_PROTOCOL,
  decodeNodeMessage,
  decodePresenceEvent,
  isNodeName,
  type NodeMessage,
  type PresenceEntry,
} from "./cluster_wire.ts";
import {
  type Community,
  type CommunityEvents,
  type DeliveryOutcome,
  errorText,
  type JoinRequest,
  nameBound,
  nameConfusable,
  nameInUse,
  nameLimit,
  notRegistered,
  type PeerKeys,
  recipientLeft,
  settleReceipt,
  unknownPeer,
  type Welcome,
} from "./community.ts";
import { RedisLink } from "./redis_link.ts";
import { redactUrl } from "./redis_url.ts";
import { DELIVER_OVERHEAD_BYTES, Relay, type RelayBudgets } from "./relay.ts";
import { ClusterRoutes } from "./cluster_routes.ts";

/** The limits about names and recipients a cluster keeps for all its nodes. */
export interface ClusterLimits {
  /** Budgets of unconfirmed messages per recipient and per (sender, recipient). */
  budgets: Partial<RelayBudgets>;
  /** Names one signing key may have bound (`NAME_LIMIT`). @default {8} */
  maxNamesPerKey: number;
  /** Names bound in the whole cluster (`NAME_LIMIT`). @default {100000} */
  maxNames: number;
}

/** The defaults of {@linkcode ClusterLimits} (those of a single server). */
export const DEFAULT_CLUSTER_LIMITS: Readonly<ClusterLimits> = {
  budgets: {},
  maxNamesPerKey: 8,
  maxNames: 100_000,
};

/** The clock of a cluster node. */
export interface ClusterTiming {
  /** Heartbeat TTL: a node silent this long is gone, ms. @default {5000} */
  ttlMs: number;
  /** Heartbeat period, ms. @default {1000} */
  beatMs: number;
  /**
   * After (re)connecting, how long to wait for other nodes to come back before taking their peers
   * offline, ms. @default {ttlMs + 2 * beatMs}
   */
  graceMs: number;
  /** Deadline of one Redis command, ms. @default {2000} */
  commandTimeoutMs: number;
  /** A message sent to another node whose outcome never comes fails after this, ms. @default {30000} */
  remoteTimeoutMs: number;
}

/** The default timing. */
export const DEFAULT_TIMING: Readonly<ClusterTiming> = {
  ttlMs: 5000,
  beatMs: 1000,
  graceMs: 7000,
  commandTimeoutMs: 2000,
  remoteTimeoutMs: 30_000,
};

/** Options for {@linkcode RedisCommunity.open}. */
export interface RedisCommunityOptions<C> {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** This node's name, unique among live nodes. */
  node: string;
  /** Where announcements, deliveries and outcomes go. */
  events: CommunityEvents<C>;
  /** Limits; missing fields take {@linkcode DEFAULT_CLUSTER_LIMITS}. */
  limits?: Partial<ClusterLimits>;
  /** Timing; missing fields take {@linkcode DEFAULT_TIMING}. */
  timing?: Partial<ClusterTiming>;
  /** Prefix of every key and channel. @default {"peerstream:"} */
  prefix?: string;
  /** Told when this node cannot stay in the cluster (another instance took its name). */
  onFatal?: (message: string) => void;
  /** The clock, ms. @default {performance.now} */
  now?: () => number;
}

/** Who sent a message a local peer has not confirmed yet. */
type Sender<C> = { conn: C } | { node: string; ref: string };

interface LocalPeer<C> {
  conn: C;
  keys: PublicKeysText;
  lookalikes: string[];
  ephemeral: boolean;
}

const RECENT_LIMIT = 10_000;

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
  readonly #locals = new Map<string, LocalPeer<C>>();
  readonly #names = new Map<C, string>();
  readonly #joining = new Set<C>();
  readonly #cancelled = new Set<C>();
  readonly #relay: Relay<Sender<C>>;
  readonly #routes: ClusterRoutes<C>;
  readonly #recent = new Map<string, PublicKeysText>();
  #link!: RedisLink;
  #up = false;
  #upSince = 0;
  #expirePending = false;
  #syncing: Promise<void> | null = null;
  #timer?: ReturnType<typeof setInterval>;
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
    this.#replica = new PresenceReplica(options.node);
    this.#relay = new Relay(this.#limits.budgets);
    this.#routes = new ClusterRoutes<C>({
      node: options.node,
      channel: (node) => this.#key(`to:${node}`),
      link: () => this.#link,
      outcome: (sender, requestId, outcome) => this.#events.outcome(sender, requestId, outcome),
      now: this.#now,
      remoteTimeoutMs: timing.remoteTimeoutMs,
      closed: () => this.#closed,
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
        onMessage: (channel, message) => community.#onMessage(channel, message),
        onDown: (cause) => community.#down(cause),
        onReady: () => community.#resync(),
        name: `peerstream:${options.node}`,
      }, [community.#key("events"), community.#key(`to:${options.node}`)]);
    } catch (error) {
      throw new Error(`Cannot join ${where}: ${errorText(error)}; check that Redis is running`, {
        cause: error,
      });
    }
    try {
      await community.#hello(where);
      await community.#sync();
    } catch (error) {
      await community.#link.close();
      if (_isCorruptState(error)) {
        throw new Error(`Cannot join ${where}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    community.#timer = setInterval(() => community.#beat(), community.#timing.beatMs);
    return community;
  }

  /** This node's name. */
  get node(): string {
    return this.#node;
  }

  /** Whether this node can reach Redis and is in sync with it. */
  get up(): boolean {
    return this.#up;
  }

  get localCount(): number {
    return this.#locals.size;
  }

  async #hello(where: string) {
    const deadline = this.#now() + this.#timing.ttlMs + 2 * this.#timing.beatMs;
    while (true) {
      const reply = asList(
        await this.#link.run(
          HELLO,
          this.#args(String(this.#timing.ttlMs), String(CLUSTER_PROTOCOL)),
        ),
      );
      if (reply[0] === "OK") return;
      if (reply[0] === "PROTO") {
        throw new Error(
          `Cannot join ${where}: node "${reply[1]}" speaks cluster protocol ${
            reply[2]
          } and this node speaks ${CLUSTER_PROTOCOL}; run the same peerstream version on every node`,
        );
      }
      // TAKEN: a live node has this name, or an earlier instance of this node crashed and its
      // heartbeat has not lapsed yet.
      if (this.#now() > deadline) {
        throw new Error(
          `Cannot join ${where}: another live node is named "${this.#node}"; give each node its own --node`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.#timing.beatMs));
    }
  }

  async join(request: JoinRequest<C>): Promise<Welcome> {
    const { name, conn } = request;
    if (!this.#up) throw unavailable();
    if (this.#locals.has(name)) throw nameInUse(name);
    this.#joining.add(conn);
    let reply: unknown[];
    let cancelled = false;
    try {
      reply = await this.#claim(request, false);
      // A new binding spends the node's per-address budget: ask only when one is due.
      if (reply[0] === "NEEDBIND") {
        if (request.canBind !== undefined && !request.canBind()) throw nameLimit(name, "address");
        reply = await this.#claim(request, true);
      }
    } finally {
      this.#joining.delete(conn);
      cancelled = this.#cancelled.delete(conn);
    }
    this.#refusal(name, reply);
    if (cancelled || this.#closed) {
      // The connection closed while Redis answered: take it offline again.
      this.#runLeave(name, "disconnected");
      throw new PeerstreamError(
        "SHUTTING_DOWN",
        `Cannot register "${name}": the connection closed`,
      );
    }
    return this.#admit(request, Number(reply[1]) === 1);
  }

  /** Runs `JOIN`; a Redis failure is `UNAVAILABLE`. */
  async #claim(request: JoinRequest<C>, mayBind: boolean): Promise<unknown[]> {
    try {
      return asList(
        await this.#link.run(JOIN, [
          this.#prefix,
          this.#node,
          this.#inst,
          request.name,
          JSON.stringify(request.lookalikes),
          request.keys.encKey,
          request.keys.signKey,
          request.ephemeral ? "1" : "0",
          String(this.#limits.maxNamesPerKey),
          String(this.#limits.maxNames),
          mayBind ? "1" : "0",
        ]),
      );
    } catch (error) {
      this.#events.log(`cluster: cannot register ${quoted(request.name)}: ${errorText(error)}`);
      throw unavailable();
    }
  }

  /** Throws the refusal a `JOIN` answered, if any. */
  #refusal(name: string, reply: unknown[]) {
    switch (reply[0]) {
      case "OK":
        return;
      case "CORRUPT": {
        const what = this.#corrupt(reply, "joins are refused until then");
        throw new PeerstreamError("UNAVAILABLE", `Cannot join: ${what}`);
      }
      case "TAKEN":
        throw nameInUse(name);
      case "BOUND":
        throw nameBound(name);
      case "CONFUSABLE":
        throw nameConfusable(name, String(reply[1]));
      case "LIMIT_KEY":
        throw nameLimit(name, { perKey: this.#limits.maxNamesPerKey });
      case "LIMIT_ALL":
        throw nameLimit(name, { total: this.#limits.maxNames });
      default:
        // NODE: this node's heartbeat lapsed; resynchronise before taking joins.
        this.#down("this node's heartbeat lapsed");
        throw unavailable();
    }
  }

  #admit(request: JoinRequest<C>, newBinding: boolean): Welcome {
    const { name, conn } = request;
    this.#locals.set(name, {
      conn,
      keys: request.keys,
      lookalikes: request.lookalikes,
      ephemeral: request.ephemeral,
    });
    this.#names.set(conn, name);
    this.#recent.delete(name);
    this.#replica.forget(name);
    const { reachable, unreachable } = this.#replica.names();
    const peers = [...this.#locals.keys()].filter((n) => n !== name);
    peers.push(...reachable);
    const welcome = { peers, unreachable, newBinding };
    request.admit?.(welcome);
    this.#events.joined(name);
    return welcome;
  }

  leave(conn: C, reason: LeaveReason): boolean {
    if (this.#joining.has(conn)) {
      this.#cancelled.add(conn);
      return false;
    }
    const name = this.#names.get(conn);
    if (name === undefined) return false;
    this.#dropLocal(name, reason);
    this.#runLeave(name, reason);
    return true;
  }

  /** Removes a local peer, announces its leave here and fails what it had not confirmed. */
  #dropLocal(name: string, reason: LeaveReason) {
    const local = this.#locals.get(name);
    if (local === undefined) return;
    this.#locals.delete(name);
    this.#names.delete(local.conn);
    this.#remember(name, local.keys);
    this.#events.left(name, reason);
    for (const pending of this.#relay.recipientLeft(name)) {
      this.#settle(pending.sender, pending.requestId, recipientLeft(name));
    }
  }

  #runLeave(name: string, reason: LeaveReason) {
    if (!this.#up) return; // The next SYNC leaves it out.
    this.#link.run(LEAVE, [this.#prefix, this.#node, name, reason]).then((reply) => {
      if (Array.isArray(reply)) this.#corrupt(reply, `"${name}" stays listed online in Redis`);
    }, (error) => {
      this.#events.log(`cluster: cannot record that "${name}" left: ${errorText(error)}`);
      this.#down(errorText(error));
    });
  }

  lookup(name: string): PeerKeys | undefined {
    const local = this.#locals.get(name);
    if (local !== undefined) return { keys: local.keys, online: true };
    const remote = this.#replica.get(name);
    if (remote !== undefined) return { keys: remote.keys, online: true };
    const keys = this.#recent.get(name);
    return keys === undefined ? undefined : { keys, online: false };
  }

  send(sender: C, message: { requestId: number; to: string; body: Uint8Array }): void {
    const from = this.#names.get(sender);
    if (from === undefined) throw notRegistered();
    const { to, requestId } = message;
    const local = this.#locals.get(to);
    if (local !== undefined) {
      const bytes = message.body.length + DELIVER_OVERHEAD_BYTES;
      const rid = this.#relay.accept({ sender: { conn: sender }, from, requestId, to, bytes });
      this.#events.deliver(local.conn, { rid, from, body: message.body });
      return;
    }
    const remote = this.#replica.get(to);
    if (remote === undefined) throw this.#recent.has(to) ? clusterOffline(to) : unknownPeer(to);
    if (!this.#up || !remote.reachable) throw peerUnreachable(to);
    this.#routes.send(sender, { requestId, from, to, node: remote.node, body: message.body });
  }

  receipt(by: C, receipt: { rid: string; ok: boolean; code?: ErrorCode }): void {
    const name = this.#names.get(by);
    if (name === undefined) return;
    const settled = settleReceipt(this.#relay, { by: name, ...receipt });
    if (settled !== undefined) this.#settle(settled.sender, settled.requestId, settled.outcome);
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
    clearInterval(this.#timer);
    await this.#syncing?.catch(() => {});
    if (options.graceful !== false && this.#up) {
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

  #beat() {
    if (this.#closed) return;
    this.#routes.retry();
    if (this.#syncing !== null) return;
    this.tick();
    if (!this.#up || this.#replica.gap || this.#replica.reaped) {
      this.#resync();
      return;
    }
    const now = this.#now();
    const settled = now - this.#upSince >= this.#timing.graceMs;
    if (settled && this.#expirePending) {
      this.#expirePending = false;
      this.#announce(this.#replica.expire());
    }
    const ttl = String(this.#timing.ttlMs);
    this.#link.run(BEAT, this.#args(ttl, String(CLUSTER_PROTOCOL), settled ? "1" : "0")).then(
      (reply) => {
        const list = asList(reply);
        let state = list[0];
        if (state === "CORRUPT") {
          this.#corrupt(list, "nodes that stop are not taken offline until then");
          state = list[6];
        }
        if (state === "TAKEN") this.#fatal();
        else if (state === "LAPSED") this.#down("this node's heartbeat lapsed");
      },
      (error) => this.#down(errorText(error)),
    );
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
    this.#down("another instance took this node's name");
    this.#onFatal(message);
  }

  #down(cause: string) {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    this.#events.log(`cluster: lost Redis (${cause}); peers on other nodes are unreachable`);
    this.#announce(this.#replica.lost());
    this.#routes.lost();
  }

  /** Starts a resynchronisation unless one runs; failures leave the node down until the next beat. */
  #resync() {
    if (this.#closed || this.#syncing !== null || !this.#link.ready) return;
    this.#sync().catch((error) => {
      const line = `cluster: cannot resynchronise yet: ${errorText(error)}`;
      if (!(_isCorruptState(error))) return this.#events.log(line);
      const once = this.#corruptLog.line(line, error.message);
      if (once !== undefined) this.#events.log(once);
    });
  }

  /** Re-asserts this node's peers and reads the presence table back (see `SYNC`). */
  #sync(): Promise<void> {
    const wasUp = this.#up;
    const run = async () => {
      this.#replica.hold();
      const entries = [...this.#locals].map(([name, p]) => ({
        name,
        encKey: p.keys.encKey,
        signKey: p.keys.signKey,
        eph: p.ephemeral ? 1 : 0,
        skel: p.lookalikes,
      }));
      let reply: unknown[];
      try {
        reply = asList(
          await this.#link.run(
            SYNC,
            this.#args(
              String(this.#timing.ttlMs),
              String(CLUSTER_PROTOCOL),
              JSON.stringify(entries),
            ),
          ),
        );
      } catch (error) {
        this.#replica.unhold();
        throw error;
      }
      if (reply[0] === "TAKEN") return this.#fatal();
      if (reply[0] === "CORRUPT") {
        this.#replica.unhold();
        throw _corruptState(describeCorrupt(reply)!);
      }
      this.#applySync(reply);
      if (!wasUp) this.#events.log("cluster: connected to Redis; presence is in sync");
    };
    this.#syncing = run().finally(() => this.#syncing = null);
    return this.#syncing;
  }

  #applySync(reply: unknown[]) {
    const conflicts = parseJsonList(reply[1]);
    for (const name of conflicts) this.#kick(name);
    const entries: PresenceEntry[] = [];
    for (const raw of asList(reply[3])) {
      try {
        entries.push(checkEntry(JSON.parse(String(raw))));
      } catch (error) {
        this.#events.log(`cluster: skipped a bad presence entry: ${errorText(error)}`);
      }
    }
    const liveNodes = asList(reply[4]).map(String);
    this.#up = true;
    this.#upSince = this.#now();
    this.#expirePending = true;
    this.#announce(this.#replica.snapshot({ seq: Number(reply[2]), entries, liveNodes }));
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

  #onMessage(channel: string, message: Uint8Array) {
    if (this.#closed) return;
    try {
      if (channel === this.#key("events")) {
        const event = decodePresenceEvent(new TextDecoder().decode(message));
        if (!this.#up && this.#syncing === null) return; // The next snapshot covers it.
        this.#announce(this.#replica.apply(event));
      } else {
        this.#onNodeMessage(decodeNodeMessage(message));
      }
    } catch (error) {
      this.#events.log(`cluster: dropped a bad message on ${channel}: ${errorText(error)}`);
    }
  }

  #onNodeMessage(message: NodeMessage) {
    if (message.t === "result") return this.#routes.result(message);
    const sender: Sender<C> = { node: message.from, ref: message.ref };
    const local = this.#locals.get(message.to);
    if (local === undefined) {
      this.#settle(sender, 0, {
        ok: false,
        code: "PEER_OFFLINE",
        message: `Message to "${message.to}" not delivered: they left`,
      });
      return;
    }
    let rid: string;
    try {
      rid = this.#relay.accept({
        sender,
        from: message.sender,
        requestId: 0,
        to: message.to,
        bytes: message.body.length + DELIVER_OVERHEAD_BYTES,
      });
    } catch (error) {
      const refused = error instanceof PeerstreamError ? error : unavailable();
      this.#settle(sender, 0, { ok: false, code: refused.code, message: refused.message });
      return;
    }
    this.#events.deliver(local.conn, { rid, from: message.sender, body: message.body });
  }

  /** Tells a sender how its message ended: locally, or through its node's channel. */
  #settle(sender: Sender<C>, requestId: number, outcome: DeliveryOutcome) {
    if ("conn" in sender) {
      this.#events.outcome(sender.conn, requestId, outcome);
      return;
    }
    this.#routes.answer(sender, outcome);
  }

  #announce(announcements: Announcement[]) {
    for (const a of announcements) {
      if (a.kind === "joined") {
        this.#recent.delete(a.name);
        this.#events.joined(a.name);
      } else if (a.kind === "left") {
        if (a.keys !== undefined) this.#remember(a.name, a.keys);
        this.#routes.recipientLeft(a.name);
        this.#events.left(a.name, a.reason);
      } else {
        this.#events.peerState(a.names, a.state);
      }
    }
  }

  #remember(name: string, keys: PublicKeysText) {
    this.#recent.delete(name);
    this.#recent.set(name, keys);
    if (this.#recent.size > RECENT_LIMIT) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }
}

/**
 * A script found a value in Redis it cannot use: `INTERNAL` (the cluster's state, not the
 * client's request, is at fault); the message names the key (see `describeCorrupt`).
 */
function _corruptState(message: string): PeerstreamError {
  return new PeerstreamError("INTERNAL", message);
}

function _isCorruptState(error: unknown): error is PeerstreamError {
  return error instanceof PeerstreamError && error.code === "INTERNAL";
}

function unavailable(): PeerstreamError {
  return new PeerstreamError(
    "UNAVAILABLE",
    "Cannot register now: this server lost its connection to the cluster; try again shortly",
  );
}

function peerUnreachable(to: string): PeerstreamError {
  return new PeerstreamError(
    "PEER_UNREACHABLE",
    `Cannot send to "${to}": their server cannot be reached now; try again later`,
  );
}

/** A Redis array reply, or an error when the reply is not one. */
function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError("Unexpected reply from Redis: expected a list");
  return reply;
}

/** A JSON list of names from a script (cjson writes an empty one as `{}`). */
function parseJsonList(raw: unknown): string[] {
  const value: unknown = JSON.parse(String(raw));
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/**
 * `PEER_OFFLINE` in cluster mode: offline delivery is built for one process (the data folder)
 * only; a Redis stream per recipient is the design (docs/protocol-v3.md).
 */
function clusterOffline(to: string): PeerstreamError {
  return new PeerstreamError(
    "PEER_OFFLINE",
    `Cannot queue for ${quoted(to)} in cluster mode yet: they are offline; try when ${
      quoted(to)
    } is online`,
  );
}
