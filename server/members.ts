/**
 * The connections the server serves, from greeting to leave: each one counted, greeted and read
 * (its messages to the hello flow before `welcome`, to the dispatcher after, within its message
 * rate), its deadlines checked once a second, its place given up when the server is full and it
 * has not registered, and its leave told to the community and the log.
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";
import type { ClientMessage, Message } from "../protocol/messages.ts";
import { isClientMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { within } from "./_async.ts";
import type { Community } from "./community/community.ts";
import type { NameSaver } from "./community/name_store.ts";
import { type Deadline, deadlineOf } from "./deadlines.ts";
import { dispatch } from "./dispatch.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import type { Admission, Admit } from "./door/admission.ts";
import { Connection, isProtocolViolation } from "./door/connection.ts";
import type { Evictable } from "./door/gate.ts";
import type { Arriving } from "./door/tcp_door.ts";
import type { Transport } from "./door/transport.ts";
import { WebSocketTransport } from "./door/ws_transport.ts";
import { HelloFlow } from "./hello_flow.ts";
import type { ServerLimits } from "./limits.ts";
import { newClient, type ServerClient } from "./member.ts";
import { sendReleased } from "./community/community_events.ts";
import type { ServerLog } from "./ops/server_log.ts";
import { limitOfCode, type ServerStats } from "./ops/server_stats.ts";
import { readLoop } from "./read_loop.ts";
import { logKey, Replies, requestIdOf } from "./replies.ts";

/** The version string sent in `server-hello`. */
export const SERVER_SOFTWARE = "peerstream/0.1.0";

/** How a transport came to be served. */
export interface ServeOptions {
  /** Counted from its accept by its door; called to release it when it is evicted. */
  admitted?: () => void;
  /** When it was accepted, ms: the handshake deadline counts from then. @default {now} */
  since?: number;
  /** Its connection number, given at accept. @default {the next one} */
  id?: number;
}

/** Options for {@linkcode Members}. */
export interface MembersOptions {
  /** The limits. */
  limits: ServerLimits;
  /** The log. */
  log: ServerLog;
  /** The counters of `--metrics`. */
  stats: ServerStats;
  /** The counts per address (released at leave) and the hello and new-name rates. */
  admission: Admission;
  /** Counts a transport not counted at its accept (see `Gate.admit`). */
  admit: (host: string | undefined, who: Arriving) => Admit;
  /** The community now (it changes once, when the server joins its cluster). */
  community: () => Community<ServerClient>;
  /** What the dispatcher works with now. */
  context: () => DispatchContext;
  /** Names bound before the rules tightened, usable by their keys (this process only). */
  bindings?: ReadonlyMap<string, string>;
  /** Saves new bindings in the background. */
  nameSaver?: NameSaver;
  /** The TCP port speaks TLS (the metrics' door of its connections). @default {false} */
  tls?: boolean;
}

/** Every connection the server serves. */
export class Members {
  readonly #options: MembersOptions;
  readonly #limits: ServerLimits;
  readonly #log: ServerLog;
  readonly #replies: Replies;
  readonly #helloFlow: HelloFlow;
  readonly #clients = new Set<ServerClient>();
  /** Clients still in their handshake, oldest first. */
  readonly #greeting = new Set<ServerClient>();
  /** Clients counted from their accept (see `admitConnection`), and their releases. */
  readonly #admitted = new Map<ServerClient, () => void>();
  #nextId = 1;

  /** @param options Limits, log, counters, admission, the community and the dispatcher's parts. */
  constructor(options: MembersOptions) {
    this.#options = options;
    this.#limits = options.limits;
    this.#log = options.log;
    this.#replies = new Replies({ stats: options.stats, log: options.log });
    this.#helloFlow = new HelloFlow({
      ...options,
      replies: this.#replies,
      registered: (client) => this.#greeting.delete(client),
    });
  }

  /** Every connection served now, in the order they came. */
  all(): Iterable<ServerClient> {
    return this.#clients;
  }

  /** The registered clients. */
  *registered(): Iterable<ServerClient> {
    for (const client of this.#clients) if (client.state === "registered") yield client;
  }

  /**
   * The next connection number.
   *
   * @returns A number no connection had before.
   */
  nextId(): number {
    return this.#nextId++;
  }

  /**
   * Sends a client an error (see {@linkcode Replies.reject}).
   *
   * @param client To whom.
   * @param error The code and message.
   */
  reject(client: ServerClient, error: { code: ErrorCode; message: string }): void {
    this.#replies.reject(client, error.code, error.message);
  }

  /**
   * Serves one transport: counts it (unless `admitted`), greets it and runs its read loop.
   *
   * @param socket The client's byte stream; served until it ends.
   * @param options `admitted`: counted from its accept by its door (see `admitConnection`);
   * `since` and `id`: accepted by the TCP listener at `since` (the handshake deadline counts
   * from then), as connection `id`.
   */
  async serve(socket: Transport, options: ServeOptions = {}): Promise<void> {
    const conn = new Connection(socket, {
      maxQueuedControlBytes: this.#limits.maxQueuedControlBytes,
    });
    const { admitted } = options;
    const id = options.id ?? this.nextId();
    if (
      admitted === undefined &&
      this.#options.admit(conn.remoteHost, { id, remote: conn.remote }) !== "ok"
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
      await readLoop(client, (member, message) => this.#receive(member, message));
    } catch (error) {
      if (!isProtocolViolation(error)) throw error;
      client.closeWhy = `${error.code}: ${error.message}`;
      this.#options.stats.refuse(error.code);
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
   * The clients that may be evicted to make room: greeted, and not verifying a hello now.
   *
   * @returns Each with how to drop it.
   */
  *evictable(): Iterable<Evictable> {
    for (const client of this.#greeting) {
      if (client.verifying) continue;
      yield {
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
      };
    }
  }

  /**
   * Checks and handles one message; a failure goes back to the client as an error.
   *
   * @returns A promise when the handling awaits, to be awaited before the next message.
   */
  #receive(client: ServerClient, message: Message): Promise<void> | undefined {
    if (client.state === "greeting") return this.#helloFlow.greet(client, message);
    if (!isClientMessage(message)) {
      this.#replies.reject(
        client,
        "BAD_MESSAGE",
        `Message "${message.type}" is not for the server`,
      );
      return undefined;
    }
    if (!confirmsDelivery(client, message) && !client.bucket.take(performance.now())) {
      this.#options.stats.limit("messages_per_connection");
      this.#replies.reject(
        client,
        "RATE_LIMITED",
        `Message dropped: over ${this.#limits.messagesPerSecond} messages per second; slow down`,
        requestIdOf(message),
      );
      return undefined;
    }
    try {
      const pending = dispatch(client, message, this.#options.context());
      // A room change awaits its signature check; its refusal is answered like a throw.
      return pending?.catch((error) => this.#replies.fail(client, message, error));
    } catch (error) {
      this.#replies.fail(client, message, error);
    }
    return undefined;
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
    if (!this.#admitted.delete(client)) this.#options.admission.release(client.host);
    // Its bytes leave the live sum of the metrics: count them among the ended connections'.
    this.#options.stats.endedBytes += client.conn.bytesWritten;
    const why = client.closeWhy ?? client.conn.closeReason ?? "the client closed the connection";
    const suppressed = this.#log.forget(client.id);
    const note = suppressed > 0 ? `; ${suppressed} log lines suppressed` : "";
    // Also takes a connection whose join is still in flight (in a cluster) offline again.
    if (this.#options.community().leave(client, client.leaveReason)) {
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

  /**
   * Applies the deadlines once: closes stalled writers, drops connections past the handshake or
   * idle time, pings quiet ones, lets a stalled lead backlog go, and fails relayed messages whose
   * recipient's client has not confirmed them within the receipt deadline.
   *
   * @param now The time, ms (performance.now()).
   */
  tick(now: number): void {
    for (const client of this.#clients) {
      client.stream?.releaseStalledBacklog(now, this.#limits.leadBacklogStallMs);
      this.#unconfirmed(client, now);
      const due = deadlineOf({
        state: client.state,
        connectedAt: client.connectedAt,
        lastReadAt: client.conn.lastReadAt,
        writeStalledMs: client.conn.writeStalledFor(now),
      }, { now, limits: this.#limits });
      if (due !== undefined) this.#overdue(client, due);
    }
  }

  /**
   * Ends the deliveries a client was sent and has not confirmed within the receipt deadline as if
   * its client had refused them (`PEER_UNREACHABLE`, said to be unconfirmed), and sends the next
   * ones in their places (issue 16). The sender's node tells the sender, here or in the cluster.
   */
  #unconfirmed(client: ServerClient, now: number) {
    if (client.state !== "registered" || client.outbox.inFlight === 0) return;
    const unconfirmedMs = this.#limits.receiptTimeoutMs;
    const { late, released } = client.outbox.overdue(now, unconfirmedMs);
    if (late.length === 0) return;
    Connection.batch(() => {
      sendReleased(client, released);
      const community = this.#options.community();
      for (const { rid } of late) {
        community.receipt(client, { rid, ok: false, code: "PEER_UNREACHABLE", unconfirmedMs });
      }
    });
    this.#log.limited(
      client.id,
      `unconfirmed #${client.id}: ${late.length} messages not confirmed within ${unconfirmedMs} ms`,
      { event: "unconfirmed", level: "warn", fields: { id: client.id, messages: late.length } },
    );
  }

  #overdue(client: ServerClient, due: Deadline) {
    if (due === "slow-consumer") {
      // It stopped reading: nothing more can reach it, so close without a goodbye.
      client.leaveReason = "timeout";
      client.closeWhy = `SLOW_CONSUMER: no write progress for ${this.#limits.maxWriteStallMs} ms`;
      this.#options.stats.limit("slow_consumer");
      client.conn.close(client.closeWhy);
      this.#leave(client);
    } else if (due === "handshake-timeout") {
      this.#drop(client, "HANDSHAKE_TIMEOUT", "no welcome within the handshake time of connecting");
    } else if (due === "idle-timeout") {
      this.#drop(client, "IDLE_TIMEOUT", "no data within the idle time");
    } else {
      client.conn.send({ type: "ping", id: ++client.pingId });
    }
  }

  /** Tells a client why, then forgets it and closes once the error is flushed. */
  #drop(client: ServerClient, code: ErrorCode, why: string) {
    const limit = code === "SERVER_FULL" ? "connections" : limitOfCode(code);
    if (limit !== undefined) this.#options.stats.limit(limit);
    client.conn.send({ type: "error", code, message: `Closing connection: ${why}; reconnect` });
    client.leaveReason = "timeout";
    client.closeWhy = `${code}: ${why}`;
    this.#leave(client);
  }
}

/**
 * Whether a message is the receipt for a delivery in the client's window: it is not counted
 * against the client's message rate. The server chose to send that delivery, so such receipts
 * come at most as fast as it releases them, a window at a time; and a receipt dropped would hold
 * its place in the window for good: a recipient confirming over 2,000 deliveries a second (a
 * flood of messages it refuses at once) lost some, and once its window was all lost ones nothing
 * reached it again (issue 16). Receipts that match nothing still count.
 */
function confirmsDelivery(client: ServerClient, message: ClientMessage): boolean {
  return message.type === "receipt" && client.outbox.holds(message.rid);
}
