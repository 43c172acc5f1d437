/**
 * `serve --web`: an HTTP(S) server that serves the page (embedded in the program, nothing read
 * from disk, nothing from the network) and a WebSocket endpoint, `/ws`, that hands each browser
 * to the peerstream server as one more {@linkcode Transport}.
 *
 * Web security: every response carries a strict Content-Security-Policy (scripts and styles only
 * from this origin, no inline script, no framing); the upgrade is refused with 403 unless `Origin`
 * is this page's own origin and `Host` is a name this server can be reached by on a LAN (an IP
 * address, `localhost`, a `.local` or single-label name, or a name in the TLS certificate), so
 * that neither another site nor a DNS-rebinding page can open a connection.
 * @module
 */

import { X509Certificate } from "node:crypto";
import { logText } from "../../protocol/text.ts";
import { PAGE_ASSETS, type PageAsset } from "../../web/generated/page_assets.ts";
import {
  type HttpAnswer,
  HttpDoor,
  type HttpHandler,
  type RequestInfo,
  type TakenSocket,
} from "./http_door.ts";
import type { RequestHead } from "./http_head.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../limits.ts";
import { ServerLog } from "../ops/server_log.ts";
import type { Transport } from "./transport.ts";
import { websocketAccept } from "./ws_frame.ts";
import { posterTitle } from "./posters.ts";
import { WebSocketTransport } from "./ws_transport.ts";

/** The path of the WebSocket endpoint. */
export const WEBSOCKET_PATH = "/ws";

/** The Content-Security-Policy of every response. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
  "cache-control": "no-cache",
};

/** Where web clients go: the peerstream server. */
export interface TransportTarget {
  /**
   * Counts a new connection against the server's limits from the moment it is accepted.
   *
   * @returns Its release, or undefined when it is refused.
   */
  admitConnection?(addr: Deno.NetAddr): (() => void) | undefined;
  /**
   * Takes one client's byte stream. With `admitted` (the release `admitConnection` gave), it is
   * counted already and released when its socket closes; the server may release it sooner.
   */
  serveTransport(transport: Transport, options?: { admitted?: () => void }): void;
}

/** Options for {@linkcode WebServer}. */
export interface WebServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** TLS certificate and key (PEM): https and wss. */
  tls?: { cert: string; key: string };
  /** Where each WebSocket client goes, and who admits connections. */
  target: TransportTarget;
  /** Receives the door's log lines (peers' mistakes rate-limited by address and reason). */
  log?: (line: string) => void;
  /** What the page learns at `/server.json`: the video codec (the page plays H.264 only). */
  codec: string;
  /** The files served, by path. @default {PAGE_ASSETS} */
  assets?: Record<string, PageAsset>;
  /** Limits; missing fields take {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<ServerLimits>;
  /**
   * More endpoints, by exact path (e.g. an operator's `/metrics`), answered before the page's
   * files; each answer is sent as it is (add the headers it needs). @default {{}}
   */
  routes?: Record<string, HttpHandler>;
  /**
   * The titles' poster frames, at `/posters/<title>.jpg` (`server/door/posters.ts`): the JPEG, or null
   * for 404. @default {none}
   */
  posters?: (title: string) => Promise<Uint8Array | null>;
}

/** How long a browser may keep a poster without asking again, s. */
export const POSTER_MAX_AGE_S = 3600;

/** Lines per second the web door may log per address and reason, sustained, and in a burst. */
const WEB_LOG_RATE = { linesPerSecond: 0.5, lineBurst: 5 };

/**
 * Whether a `Host` header names this server in a way a DNS-rebinding page cannot: an IP literal,
 * `localhost` (or a name under it), an mDNS `.local` name, a single-label LAN name, or one of
 * `names` (the DNS names of the TLS certificate).
 *
 * @param host The `Host` header, with or without a port.
 * @param names Other names allowed, lower case.
 * @returns True when allowed.
 */
export function isLanHost(host: string, names: ReadonlySet<string> = new Set()): boolean {
  let name = host.toLowerCase();
  if (name.startsWith("[")) return /^\[[0-9a-f:.]+\](:\d+)?$/.test(name);
  name = name.replace(/:\d+$/, "");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return true;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(name)) {
    return false;
  }
  name = name.replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost") || name.endsWith(".local") ||
    !name.includes(".") || names.has(name);
}

/**
 * Why a WebSocket upgrade must be refused, or null to accept it.
 *
 * @param headers The upgrade request's headers.
 * @param options Whether the server uses TLS, and the extra host names allowed.
 * @returns A reason for the log, or null.
 */
export function upgradeRefusal(
  headers: Headers,
  options: { secure: boolean; names?: ReadonlySet<string> },
): string | null {
  const host = headers.get("host");
  const origin = headers.get("origin");
  if (host === null || !isLanHost(host, options.names)) {
    return `Host ${logText(host ?? "")} is not an address or LAN name of this server`;
  }
  const expected = `${options.secure ? "https" : "http"}://${host.toLowerCase()}`;
  if (origin === null || origin.toLowerCase() !== expected) {
    return `Origin ${logText(origin ?? "")} is not ${logText(expected)}`;
  }
  return null;
}

/**
 * The DNS names of a PEM certificate's subjectAltName, lower case.
 *
 * @param pem The certificate.
 * @returns The names; none when it has none or cannot be parsed.
 */
export function certificateNames(pem: string): Set<string> {
  try {
    const alt = new X509Certificate(pem).subjectAltName ?? "";
    return new Set(
      alt.split(",").map((part) => part.trim()).filter((part) => part.startsWith("DNS:"))
        .map((part) => part.slice(4).toLowerCase()),
    );
  } catch {
    return new Set();
  }
}

/**
 * The SHA-256 fingerprint of a PEM certificate, as browsers show it (`AB:CD:…`).
 *
 * @param pem The certificate.
 * @returns The fingerprint.
 */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The page and its WebSocket endpoint, behind the web door (`http_door.ts`). */
export class WebServer {
  readonly #options: WebServerOptions;
  readonly #assets: Record<string, PageAsset>;
  readonly #names: Set<string>;
  readonly #limits: ServerLimits;
  readonly #log: ServerLog;
  readonly #door: HttpDoor;
  #pruner?: ReturnType<typeof setInterval>;

  /** @param options Address, TLS and where clients go. */
  constructor(options: WebServerOptions) {
    this.#options = options;
    this.#assets = options.assets ?? PAGE_ASSETS;
    this.#names = options.tls ? certificateNames(options.tls.cert) : new Set();
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#log = new ServerLog(options.log ?? (() => {}), {
      textChars: this.#limits.logTextChars,
      ...WEB_LOG_RATE,
    });
    const target = options.target;
    this.#door = new HttpDoor({
      hostname: options.hostname,
      port: options.port,
      tls: options.tls,
      handler: (request, info) => this.#respond(request, info),
      admit: target.admitConnection === undefined
        ? undefined
        : (addr) => target.admitConnection!(addr),
      log: this.#log,
      limits: this.#limits,
      headers: SECURITY_HEADERS,
    });
  }

  /**
   * Starts listening.
   *
   * @returns The bound address.
   */
  start(): Deno.NetAddr {
    const addr = this.#door.start();
    // Writes the counts of suppressed lines once their keys are quiet.
    this.#pruner = setInterval(() => this.#log.prune(), 1000);
    return addr;
  }

  /** The bound address, once started. */
  get addr(): Deno.NetAddr {
    return this.#door.addr;
  }

  /** Stops listening; open WebSockets are closed by the peerstream server's shutdown. */
  async shutdown(): Promise<void> {
    clearInterval(this.#pruner);
    await this.#door.shutdown();
  }

  #respond(request: RequestHead, info: RequestInfo): HttpAnswer | Promise<HttpAnswer> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "Method not allowed", { allow: "GET, HEAD" });
    }
    if (request.path === WEBSOCKET_PATH) return this.#upgrade(request, info);
    const route = this.#options.routes?.[request.path];
    if (route !== undefined && Object.hasOwn(this.#options.routes!, request.path)) {
      return route(request, info);
    }
    if (request.path === "/server.json") {
      return {
        status: 200,
        headers: { ...SECURITY_HEADERS, "content-type": "application/json" },
        body: JSON.stringify({ codec: this.#options.codec }),
      };
    }
    const poster = this.#options.posters === undefined ? null : posterTitle(request.path);
    if (poster !== null) return this.#poster(poster);
    const asset = this.#assets[request.path];
    if (asset === undefined) return plain(404, "Not found");
    return {
      status: 200,
      headers: { ...SECURITY_HEADERS, "content-type": asset.type },
      body: asset.body,
    };
  }

  /** A title's poster: cached by the browser for an hour (it changes only if the title does). */
  async #poster(title: string): Promise<HttpAnswer> {
    const bytes = await this.#options.posters!(title);
    if (bytes === null) return plain(404, "No poster for this title");
    return {
      status: 200,
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "image/jpeg",
        "cache-control": `private, max-age=${POSTER_MAX_AGE_S}`,
      },
      body: bytes,
    };
  }

  async #upgrade(request: RequestHead, info: RequestInfo): Promise<HttpAnswer> {
    const headers = request.headers;
    const from = info.remoteAddr;
    if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "Expected a WebSocket upgrade", { upgrade: "websocket" });
    }
    const refusal = upgradeRefusal(headers, { secure: info.secure, names: this.#names });
    if (refusal !== null) {
      // Keyed by the reason's kind, not the address: a storm from many addresses costs a few lines.
      this.#log.limited(
        `web refused ${refusal.split(" ")[0]}`,
        `web: refused WebSocket from ${from.hostname}:${from.port}: ${refusal}`,
      );
      return plain(403, "Forbidden: this page's own origin only");
    }
    const key = headers.get("sec-websocket-key") ?? "";
    if (
      headers.get("sec-websocket-version") !== "13" || !/^[A-Za-z0-9+/]{22}==$/.test(key) ||
      request.method !== "GET"
    ) {
      return plain(400, "Bad WebSocket upgrade: need GET, version 13 and a 16-byte key", {
        "sec-websocket-version": "13",
      });
    }
    return {
      status: 101,
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-accept": await websocketAccept(key),
      },
      takeOver: (socket) => this.#serveSocket(socket),
    };
  }

  #serveSocket(socket: TakenSocket) {
    // The protocol has its own keepalive and idle limits, the same as on TCP.
    const transport = new WebSocketTransport(socket.conn, {
      rest: socket.rest,
      firstFrameMs: this.#limits.webSocketFirstFrameMs,
      closeMs: this.#limits.webSocketCloseMs,
    });
    // Counted from accept until the socket is really gone, after its close handshake (bounded).
    transport.closed.then(socket.release);
    const target = this.#options.target;
    if (target.admitConnection === undefined) target.serveTransport(transport);
    else target.serveTransport(transport, { admitted: socket.release });
  }
}

function plain(status: number, text: string, headers: Record<string, string> = {}): HttpAnswer {
  return {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
    body: `${text}\n`,
  };
}
