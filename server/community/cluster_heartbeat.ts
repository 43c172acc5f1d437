/**
 * A cluster node's heartbeat and resynchronisation: it claims the node name (`HELLO`), renews the
 * heartbeat key every `beatMs` (`BEAT`), takes the node down when Redis is lost or the heartbeat
 * lapsed, and, once Redis answers again, re-asserts this node's peers and reads the presence table
 * back (`SYNC`). Whether the node is up is decided here; what joins and messages do about it is
 * `redis_community.ts`'s.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { Announcement, PresenceReplica } from "./cluster_presence.ts";
import { describeCorrupt, type OncePerInterval } from "./cluster_corrupt.ts";
import { BEAT, HELLO, SYNC } from "./cluster_scripts.ts";
import { checkEntry, CLUSTER_PROTOCOL, type PresenceEntry } from "./cluster_wire.ts";
import { errorText } from "./community.ts";
import type { RedisLink } from "./redis_link.ts";
import type { ClusterTiming } from "./cluster_config.ts";

/** A peer of this node as `SYNC` re-asserts it. */
export interface SyncEntry {
  /** The name. */
  name: string;
  /** Its public encryption key. */
  encKey: string;
  /** Its public signing key. */
  signKey: string;
  /** 1 for an ephemeral peer, else 0. */
  eph: number;
  /** The skeletons of its name (look-alike checks). */
  skel: string[];
}

/** What the heartbeat needs of its node. */
export interface HeartbeatHost {
  /** This node's name. */
  node: string;
  /** The node's timing. */
  timing: ClusterTiming;
  /** The node's Redis link. */
  link: () => RedisLink;
  /** The node's replica of the presence table. */
  replica: PresenceReplica;
  /** A script's arguments: prefix, node, instance, then `rest`. */
  args: (...rest: string[]) => string[];
  /** The clock, ms. */
  now: () => number;
  /** Complaints about corrupt state, once a minute. */
  corruptLog: OncePerInterval;
  /** Whether the node closed. */
  closed: () => boolean;
  /** Writes a log line. */
  log: (line: string) => void;
  /** Says (rate-limited) that a script found corrupt state; "" when it did not. */
  corrupt: (reply: readonly unknown[], effect: string) => string;
  /** Tells the node's peers what changed. */
  announce: (announcements: Announcement[]) => void;
  /** This node's peers, as `SYNC` re-asserts them. */
  entries: () => SyncEntry[];
  /** Disconnects a local peer whose name another node took while this one was cut off. */
  kick: (name: string) => void;
  /** Another instance took the node's name: the node cannot stay. */
  fatal: () => void;
  /** Runs first on each beat, even during a resynchronisation (retries to other nodes). */
  retry: () => void;
  /** Runs on each beat outside a resynchronisation (expiries). */
  tick: () => void;
  /** Redis was lost: messages in flight to other nodes fail. */
  lost: () => void;
}

/** A node's heartbeat, outage and resynchronisation. */
export class ClusterHeartbeat {
  readonly #host: HeartbeatHost;
  #up = false;
  #upSince = 0;
  #expirePending = false;
  #syncing: Promise<void> | null = null;
  #timer?: ReturnType<typeof setInterval>;

  /** @param host The node around it. */
  constructor(host: HeartbeatHost) {
    this.#host = host;
  }

  /** Whether this node can reach Redis and is in sync with it. */
  get up(): boolean {
    return this.#up;
  }

  /** The resynchronisation running, if one is. */
  get syncing(): Promise<void> | null {
    return this.#syncing;
  }

  /** Beats every `beatMs` until {@linkcode ClusterHeartbeat.stop}. */
  start(): void {
    this.#timer = setInterval(() => this.#beat(), this.#host.timing.beatMs);
  }

  /** Stops beating. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Claims the node name, waiting out the heartbeat of an earlier instance of this node.
   *
   * @param where The cluster, for messages.
   * @throws {Error} When the live nodes speak another protocol or a live node has the name.
   */
  async hello(where: string): Promise<void> {
    const { timing, node } = this.#host;
    const deadline = this.#host.now() + timing.ttlMs + 2 * timing.beatMs;
    while (true) {
      const reply = asList(
        await this.#host.link().run(
          HELLO,
          this.#host.args(String(timing.ttlMs), String(CLUSTER_PROTOCOL)),
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
      if (this.#host.now() > deadline) {
        throw new Error(
          `Cannot join ${where}: another live node is named "${node}"; give each node its own --node`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, timing.beatMs));
    }
  }

  #beat() {
    if (this.#host.closed()) return;
    this.#host.retry();
    if (this.#syncing !== null) return;
    this.#host.tick();
    const replica = this.#host.replica;
    if (!this.#up || replica.gap || replica.reaped) {
      this.resync();
      return;
    }
    const timing = this.#host.timing;
    const settled = this.#host.now() - this.#upSince >= timing.graceMs;
    if (settled && this.#expirePending) {
      this.#expirePending = false;
      this.#host.announce(replica.expire());
    }
    const args = this.#host.args(
      String(timing.ttlMs),
      String(CLUSTER_PROTOCOL),
      settled ? "1" : "0",
    );
    this.#host.link().run(BEAT, args).then(
      (reply) => {
        const list = asList(reply);
        let state = list[0];
        if (state === "CORRUPT") {
          this.#host.corrupt(list, "nodes that stop are not taken offline until then");
          state = list[6];
        }
        if (state === "TAKEN") this.#host.fatal();
        else if (state === "LAPSED") this.down("this node's heartbeat lapsed");
      },
      (error) => this.down(errorText(error)),
    );
  }

  /**
   * The node lost Redis: peers elsewhere show as unreachable until the next resynchronisation.
   *
   * @param cause Why, for the log.
   */
  down(cause: string): void {
    if (!this.#up || this.#host.closed()) return;
    this.#up = false;
    this.#host.log(`cluster: lost Redis (${cause}); peers on other nodes are unreachable`);
    this.#host.announce(this.#host.replica.lost());
    this.#host.lost();
  }

  /** Starts a resynchronisation unless one runs; failures leave the node down until the next beat. */
  resync(): void {
    if (this.#host.closed() || this.#syncing !== null || !this.#host.link().ready) return;
    this.sync().catch((error) => {
      const line = `cluster: cannot resynchronise yet: ${errorText(error)}`;
      if (!(isCorruptState(error))) return this.#host.log(line);
      const once = this.#host.corruptLog.line(line, error.message);
      if (once !== undefined) this.#host.log(once);
    });
  }

  /**
   * Re-asserts this node's peers and reads the presence table back (see `SYNC`).
   *
   * @throws {PeerstreamError} `INTERNAL` when a script found corrupt state, or Redis's error.
   */
  sync(): Promise<void> {
    const wasUp = this.#up;
    const replica = this.#host.replica;
    const run = async () => {
      replica.hold();
      const entries = this.#host.entries();
      let reply: unknown[];
      try {
        reply = asList(
          await this.#host.link().run(
            SYNC,
            this.#host.args(
              String(this.#host.timing.ttlMs),
              String(CLUSTER_PROTOCOL),
              JSON.stringify(entries),
            ),
          ),
        );
      } catch (error) {
        replica.unhold();
        throw error;
      }
      if (reply[0] === "TAKEN") return this.#host.fatal();
      if (reply[0] === "CORRUPT") {
        replica.unhold();
        throw corruptState(describeCorrupt(reply)!);
      }
      this.#applySync(reply);
      if (!wasUp) this.#host.log("cluster: connected to Redis; presence is in sync");
    };
    this.#syncing = run().finally(() => this.#syncing = null);
    return this.#syncing;
  }

  #applySync(reply: unknown[]) {
    const conflicts = parseJsonList(reply[1]);
    for (const name of conflicts) this.#host.kick(name);
    const entries: PresenceEntry[] = [];
    for (const raw of asList(reply[3])) {
      try {
        entries.push(checkEntry(JSON.parse(String(raw))));
      } catch (error) {
        this.#host.log(`cluster: skipped a bad presence entry: ${errorText(error)}`);
      }
    }
    const liveNodes = asList(reply[4]).map(String);
    this.#up = true;
    this.#upSince = this.#host.now();
    this.#expirePending = true;
    this.#host.announce(
      this.#host.replica.snapshot({ seq: Number(reply[2]), entries, liveNodes }),
    );
  }
}

/**
 * A script found a value in Redis it cannot use: `INTERNAL` (the cluster's state, not the
 * client's request, is at fault); the message names the key (see `describeCorrupt`).
 */
function corruptState(message: string): PeerstreamError {
  return new PeerstreamError("INTERNAL", message);
}

/**
 * Whether an error is a script's complaint about corrupt state.
 *
 * @param error What was thrown.
 */
export function isCorruptState(error: unknown): error is PeerstreamError {
  return error instanceof PeerstreamError && error.code === "INTERNAL";
}

/**
 * A Redis array reply, or an error when the reply is not one.
 *
 * @throws {TypeError} When it is not a list.
 */
export function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError("Unexpected reply from Redis: expected a list");
  return reply;
}

/** A JSON list of names from a script (cjson writes an empty one as `{}`). */
function parseJsonList(raw: unknown): string[] {
  const value: unknown = JSON.parse(String(raw));
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}
