/**
 * A connection before its `welcome`: only `hello` (rate-limited per address) and `quit` are
 * allowed; a hello is verified against the connection's challenge, then the community claims the
 * name and admits the client. A refused hello may be retried up to `maxRefusedHellos` times.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { ClientMessage, HelloMessage, Message } from "../protocol/messages.ts";
import { nameKeys } from "../protocol/names.ts";
import type { Community, Welcome } from "./community/community.ts";
import type { NameSaver } from "./community/name_store.ts";
import type { Admission } from "./door/admission.ts";
import { allowedBeforeWelcome, type VerifiedHello, verifyHello } from "./door/handshake.ts";
import type { ServerLimits } from "./limits.ts";
import { closeAfterFlush, type ServerClient } from "./member.ts";
import type { ServerLog } from "./ops/server_log.ts";
import type { ServerStats } from "./ops/server_stats.ts";
import { type Replies, requestIdOf } from "./replies.ts";
import { sendRoomsList } from "./room_requests.ts";
import { sendTimelines } from "./watch_requests.ts";
import type { DispatchContext } from "./dispatch_context.ts";

/** Options for {@linkcode HelloFlow}. */
export interface HelloFlowOptions {
  /** The hello and new-name rates per address. */
  admission: Admission;
  /** The limits. */
  limits: Pick<
    ServerLimits,
    "hellosPerAddressPerSecond" | "maxSealedBytes" | "maxRefusedHellos"
  >;
  /** Counts refusals. */
  stats: ServerStats;
  /** Where joins go. */
  log: ServerLog;
  /** Sends errors. */
  replies: Replies;
  /** The community now (it changes once, when the server joins its cluster). */
  community: () => Community<ServerClient>;
  /** Names bound before the rules tightened, usable by their keys (this process only). */
  bindings?: ReadonlyMap<string, string>;
  /** Saves new bindings in the background. */
  nameSaver?: NameSaver;
  /** Told when a client is registered, before its welcome is sent. */
  registered: (client: ServerClient) => void;
  /**
   * The dispatcher's parts now: their rooms (none in cluster mode) are listed to each client right
   * after its `welcome`.
   */
  context?: () => DispatchContext;
}

/** The handshake of a connection after the server's greeting. */
export class HelloFlow {
  readonly #options: HelloFlowOptions;

  /** @param options Rates, limits, the community and where to report. */
  constructor(options: HelloFlowOptions) {
    this.#options = options;
  }

  /**
   * Handles a message from a client still greeting; anything but `hello` and `quit` closes.
   *
   * @param client The client, in state `greeting`.
   * @param message What it sent.
   * @returns A promise while a hello is verified and joined, to await before its next message.
   */
  greet(client: ServerClient, message: Message): Promise<void> | undefined {
    const { replies, limits } = this.#options;
    if (message.type === "quit") {
      closeAfterFlush(client, "quit before registering", { reason: "quit" });
      return undefined;
    }
    if (!allowedBeforeWelcome(message.type)) {
      replies.reject(
        client,
        "NOT_REGISTERED",
        `Cannot handle "${message.type}" before registering: send hello first; closing`,
        requestIdOf(message),
      );
      closeAfterFlush(client, `NOT_REGISTERED: "${message.type}" before hello`);
      return undefined;
    }
    if (!this.#options.admission.takeHello(client.host, performance.now())) {
      this.#options.stats.limit("hellos_per_address");
      replies.reject(
        client,
        "RATE_LIMITED",
        `Cannot register: over ${limits.hellosPerAddressPerSecond} hellos per second from your address; wait and reconnect`,
      );
      closeAfterFlush(client, "RATE_LIMITED: hellos from its address");
      return undefined;
    }
    return this.#hello(client, message as HelloMessage).catch((error) =>
      replies.fail(client, message as ClientMessage, error)
    );
  }

  async #hello(client: ServerClient, message: HelloMessage) {
    try {
      let hello: VerifiedHello;
      client.verifying = true;
      try {
        // Names bound before the rules tightened stay usable by their keys (this process only).
        const bindings = this.#options.bindings;
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
      await this.#options.community().join({
        name: hello.name,
        lookalikes: nameKeys(hello.name),
        keys: hello.keys,
        conn: client,
        ephemeral: hello.ephemeral,
        canBind: () => this.#options.admission.takeNewName(client.host, performance.now()),
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
    if (welcome.newBinding) this.#options.nameSaver?.request();
    client.name = hello.name;
    client.state = "registered";
    this.#options.registered(client);
    client.conn.send({
      type: "welcome",
      name: hello.name,
      peers: welcome.peers,
      maxSealedBytes: this.#options.limits.maxSealedBytes,
      ...(welcome.unreachable.length > 0 ? { unreachable: welcome.unreachable } : {}),
    });
    // Before what waited for it offline: a queued room message finds its room's head known.
    const context = this.#options.context?.();
    if (context !== undefined) {
      sendRoomsList(client, { rooms: context.rooms, ctx: context });
      sendTimelines(client, { rooms: context.rooms, ctx: context });
    }
    const log = this.#options.log;
    log.line(
      `join #${client.id} ${log.name(hello.name)} key ${hello.fingerprint.slice(0, 16)}${
        hello.ephemeral ? " (ephemeral)" : ""
      }`,
      { event: "join", fields: { id: client.id } },
    );
  }

  /** A refused hello: the connection may try again, up to `maxRefusedHellos` in all. */
  #refuseHello(client: ServerClient, error: PeerstreamError) {
    const replies = this.#options.replies;
    if (error.code === "VERSION_MISMATCH") {
      replies.reject(client, error.code, error.message);
      closeAfterFlush(client, error.code);
      return;
    }
    const max = this.#options.limits.maxRefusedHellos;
    const last = ++client.refusedHellos >= max;
    replies.reject(
      client,
      error.code,
      last
        ? `${error.message}; closing after ${max} refused hellos, reconnect to try again`
        : error.message,
    );
    if (last) closeAfterFlush(client, `${max} refused hellos, the last ${error.code}`);
  }
}
