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
import { logText } from "../protocol/text.ts";
import { PAGE_ASSETS, type PageAsset } from "../web/generated/page_assets.ts";
import type { Transport } from "./transport.ts";
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

/** Where web clients go: the peerstream server (its `serveTransport`). */
export interface TransportTarget {
  /** Takes one client's byte stream. */
  serveTransport(transport: Transport): void;
}

/** Options for {@linkcode WebServer}. */
export interface WebServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** TLS certificate and key (PEM): https and wss. */
  tls?: { cert: string; key: string };
  /** Where each WebSocket client goes. */
  target: TransportTarget;
  /** Receives one line per refused upgrade. */
  log?: (line: string) => void;
  /** What the page learns at `/server.json`: the video codec (the page plays H.264 only). */
  codec: string;
  /** The files served, by path. @default {PAGE_ASSETS} */
  assets?: Record<string, PageAsset>;
}

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

/** The page and its WebSocket endpoint. */
export class WebServer {
  readonly #options: WebServerOptions;
  readonly #assets: Record<string, PageAsset>;
  readonly #names: Set<string>;
  #server?: Deno.HttpServer<Deno.NetAddr>;

  /** @param options Address, TLS and where clients go. */
  constructor(options: WebServerOptions) {
    this.#options = options;
    this.#assets = options.assets ?? PAGE_ASSETS;
    this.#names = options.tls ? certificateNames(options.tls.cert) : new Set();
  }

  /**
   * Starts listening.
   *
   * @returns The bound address.
   */
  start(): Deno.NetAddr {
    const { hostname, port, tls } = this.#options;
    const handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      this.#respond(request, info.remoteAddr);
    const onError = (error: unknown) => {
      this.#options.log?.(`web: internal error: ${(error as Error).message}`);
      return new Response("Internal error", { status: 500, headers: SECURITY_HEADERS });
    };
    this.#server = tls
      ? Deno.serve(
        { hostname, port, cert: tls.cert, key: tls.key, onListen() {}, onError },
        handler,
      )
      : Deno.serve({ hostname, port, onListen() {}, onError }, handler);
    return this.#server.addr;
  }

  /** The bound address, once started. */
  get addr(): Deno.NetAddr {
    if (this.#server === undefined) throw new Error("Web server is not started");
    return this.#server.addr;
  }

  /** Stops listening; open WebSockets are closed by the peerstream server's shutdown. */
  async shutdown(): Promise<void> {
    await this.#server?.shutdown();
  }

  #respond(request: Request, remoteAddr: Deno.NetAddr): Response {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "Method not allowed", { allow: "GET, HEAD" });
    }
    if (url.pathname === WEBSOCKET_PATH) return this.#upgrade(request, remoteAddr);
    if (url.pathname === "/server.json") {
      return new Response(JSON.stringify({ codec: this.#options.codec }), {
        headers: { ...SECURITY_HEADERS, "content-type": "application/json" },
      });
    }
    const asset = this.#assets[url.pathname];
    if (asset === undefined) return plain(404, "Not found");
    return new Response(request.method === "HEAD" ? null : asset.body, {
      headers: { ...SECURITY_HEADERS, "content-type": asset.type },
    });
  }

  #upgrade(request: Request, remoteAddr: Deno.NetAddr): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "Expected a WebSocket upgrade", { upgrade: "websocket" });
    }
    const refusal = upgradeRefusal(request.headers, {
      secure: this.#options.tls !== undefined,
      names: this.#names,
    });
    if (refusal !== null) {
      this.#options.log?.(
        `web: refused WebSocket from ${remoteAddr.hostname}:${remoteAddr.port}: ${refusal}`,
      );
      return plain(403, "Forbidden: this page's own origin only");
    }
    // The protocol has its own keepalive and idle limits, the same as on TCP.
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    this.#options.target.serveTransport(new WebSocketTransport(socket, { remoteAddr }));
    return response;
  }
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
