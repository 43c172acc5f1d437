/**
 * The flags of `peerstream serve` (pure): its help, parsing with the checks that need no I/O
 * (which flags go together, numbers in range, `[HOST:]PORT` addresses), and the limits the flags
 * and the environment's overrides set.
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../../cli/output.ts";
import { escapeName } from "../../protocol/text.ts";
import type { VideoCodec } from "../../video/prepared_title.ts";
import { CLUSTER_FLAGS, CLUSTER_HELP } from "../community/cluster_options.ts";
import { DEFAULT_LIMITS, parseLimits, type ServerLimits } from "../limits.ts";
import { LOG_FORMATS, type LogFormat } from "./log_format.ts";

/** Help for `peerstream serve`. */
export const SERVE_HELP = `Usage: peerstream serve [options]

Runs the server: the directory of peers, the encrypted message relay and the video streams.

Options:
  --host HOST          Address to listen on (default 0.0.0.0: every interface)
  --port PORT          TCP port; 0 picks a free one (default 7878)
  --videos DIR         Folder of NAME_RESOLUTIONp.ext videos (default: built-in samples)
  --codec CODEC        h264 (default) or mjpeg (no audio; for players without H.264)
  --cache DIR          Prepared segments and samples (default $XDG_CACHE_HOME/peerstream)
  --data DIR           Name-to-key bindings and offline queues (default
                       $XDG_DATA_HOME/peerstream)
  --release NAME       Free NAME from the key that owns it, then exit; with a server
                       running on the same --data, once that server applied it;
                       with --redis, in the whole cluster at once
  --list-grandfathered List the bound names today's rules refuse (kept by their keys from
                       before the rules tightened; shown marked ⚠), then exit
  --rename OLD NEW     Move OLD's binding to NEW (same key; NEW must follow today's rules
                       and look like no other key's name), then exit; like --release with
                       a running server or --redis. Its owner then joins as NEW
  --web [HOST:]PORT    Also serve the web page and its WebSocket on PORT (off by default;
                       HOST defaults to --host); browsers join like terminal clients
  --tls-cert FILE      PEM certificate; with --tls-key, serve TLS (and the page over https)
  --tls-key FILE       PEM private key
  --tls-self-signed    Serve TLS (and https) with a certificate the server makes and keeps in
                       DATA/tls/; it prints the SHA-256 fingerprint for people to compare
  --queue-messages N   Messages kept for one offline peer (default ${DEFAULT_LIMITS.queueMessages})
  --queue-bytes N      Bytes of messages kept for one offline peer (default ${DEFAULT_LIMITS.queueBytes})
  --queue-days N       Days a message waits for an offline peer (default ${
  DEFAULT_LIMITS.queueMaxAgeMs / 86_400_000
})
  --room-members N     Members plus pending invitees of one room (default ${DEFAULT_LIMITS.roomMembers})
  --rooms-per-person N Rooms one person may be a member of (default ${DEFAULT_LIMITS.roomsPerPerson})
  --max-connections N  Connections at once (default ${DEFAULT_LIMITS.maxConnections})
  --max-per-address N  Connections from one address (default ${DEFAULT_LIMITS.maxConnectionsPerAddress}; behind a NAT
                       or load balancer every client shares one address: raise it,
                       or use --trust-proxy)
  --log-format FORMAT  text (default) or json: one JSON object per line for log
                       collectors; repeated lines are summarised either way
  --metrics [HOST:]PORT
                       Serve Prometheus metrics at /metrics, and /healthz and
                       /readyz, on PORT (off by default; HOST defaults to 127.0.0.1)
${CLUSTER_HELP}
  -h, --help           Show this help

Ctrl-C or SIGTERM tells every client and shuts down cleanly.
`;

/** The flags as parsed, before the checks. */
export type ServeValues = ReturnType<typeof parseFlags>["values"];

/** `serve`'s flags, parsed and checked. */
export interface ServeFlags {
  /** Every flag as given. */
  values: ServeValues;
  /** The port. */
  port: number;
  /** The codec. */
  codec: VideoCodec;
  /** The log's format. */
  logFormat: LogFormat;
  /** The NEW of `--rename OLD NEW`. */
  renameTo?: string;
}

/**
 * Parses and checks `serve`'s arguments.
 *
 * @param args The arguments after `serve`.
 * @returns The flags, the port, codec and log format, and the NEW of `--rename`.
 * @throws {UsageError} On an unknown flag, a bad value, flags that do not go together, or an
 * unexpected argument.
 */
export function parseServeFlags(args: string[]): ServeFlags {
  const { values, positionals } = parseFlags(args);
  if (values.help) return { values, port: 0, codec: "h264", logFormat: "text" };
  const renameTo = checkPositionals(values.rename, positionals);
  return { values, renameTo, ...checkServeFlags(values) };
}

/** The flags that must agree with each other, checked; the port and the codec. */
function checkServeFlags(
  values: ReturnType<typeof parseFlags>["values"],
): { port: number; codec: VideoCodec; logFormat: LogFormat } {
  const port = intFlag("port", values.port, 7878, 65535);
  const codec = values.codec ?? "h264";
  if (codec !== "h264" && codec !== "mjpeg") {
    throw new UsageError(`Invalid --codec "${codec}": use h264 or mjpeg`);
  }
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("Options --tls-cert and --tls-key go together");
  }
  if (values["tls-self-signed"] && values["tls-cert"] !== undefined) {
    throw new UsageError("Options --tls-self-signed and --tls-cert are alternatives; pick one");
  }
  const logFormat = values["log-format"] ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new UsageError(`Invalid --log-format "${logFormat}": use text or json`);
  }
  return { port, codec, logFormat: logFormat as LogFormat };
}

/**
 * The limits: the environment's overrides (tests shorten timeouts and windows through it), then
 * the flags given.
 *
 * @param values The flags.
 * @param env The environment's overrides (`PEERSTREAM_LIMITS`), if set.
 * @returns The limits set; the others take their defaults.
 * @throws {UsageError} When a number is out of range.
 */
export function limitsFrom(
  values: {
    "max-connections"?: string;
    "max-per-address"?: string;
    "queue-messages"?: string;
    "queue-bytes"?: string;
    "queue-days"?: string;
    "room-members"?: string;
    "rooms-per-person"?: string;
  },
  env: string | undefined,
): Partial<ServerLimits> {
  const limits = parseLimits(env);
  if (values["queue-messages"] !== undefined) {
    limits.queueMessages = intFlag("queue-messages", values["queue-messages"], 1);
  }
  if (values["queue-bytes"] !== undefined) {
    limits.queueBytes = intFlag("queue-bytes", values["queue-bytes"], 1);
  }
  if (values["queue-days"] !== undefined) {
    limits.queueMaxAgeMs = intFlag("queue-days", values["queue-days"], 1) * 86_400_000;
  }
  if (values["room-members"] !== undefined) {
    // A room-sent answer lists at most 1,000 members; a room envelope counts them in a u16.
    limits.roomMembers = intFlag("room-members", values["room-members"], 1, 1000);
  }
  if (values["rooms-per-person"] !== undefined) {
    // The `rooms` list after welcome holds at most 1,000 rooms, invitations included.
    limits.roomsPerPerson = intFlag("rooms-per-person", values["rooms-per-person"], 1, 500);
  }
  if (values["max-connections"] !== undefined) {
    limits.maxConnections = intFlag("max-connections", values["max-connections"], 0);
  }
  if (values["max-per-address"] !== undefined) {
    limits.maxConnectionsPerAddress = intFlag("max-per-address", values["max-per-address"], 0);
  }
  return limits;
}

/** The new name of `--rename OLD NEW`, the only positional argument `serve` takes. */
function checkPositionals(rename: string | undefined, positionals: string[]): string | undefined {
  if (rename === undefined) {
    if (positionals.length > 0) {
      throw new UsageError(
        `Unexpected argument "${escapeName(positionals[0])}": serve takes options only`,
      );
    }
    return undefined;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Option --rename takes two names: --rename OLD NEW");
  }
  return positionals[0];
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      // Only the NEW of --rename OLD NEW (checkPositionals).
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        videos: { type: "string" },
        codec: { type: "string" },
        cache: { type: "string" },
        data: { type: "string" },
        release: { type: "string" },
        rename: { type: "string" },
        "list-grandfathered": { type: "boolean" },
        web: { type: "string" },
        "tls-self-signed": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "max-connections": { type: "string" },
        "max-per-address": { type: "string" },
        "queue-messages": { type: "string" },
        "queue-bytes": { type: "string" },
        "queue-days": { type: "string" },
        "room-members": { type: "string" },
        "rooms-per-person": { type: "string" },
        "log-format": { type: "string" },
        metrics: { type: "string" },
        ...CLUSTER_FLAGS,
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Parses `--web [HOST:]PORT` (or another such flag).
 *
 * @param value The flag's text.
 * @param defaultHost The host when the flag names only a port.
 * @param flag The flag's name, for the message. @default {"web"}
 * @returns Where the server listens.
 * @throws {UsageError} When the text is not `[HOST:]PORT`.
 */
export function webAddress(
  value: string,
  defaultHost: string,
  flag = "web",
): { hostname: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]+):)?(\d+)$/.exec(value);
  if (match === null) {
    throw new UsageError(
      `Invalid --${flag} "${value}": expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080`,
    );
  }
  const hostname = (match[1] ?? defaultHost).replace(/^\[(.*)\]$/, "$1");
  return { hostname, port: intFlag(flag, match[2], 0, 65535) };
}

/**
 * The URL to print for the web page: a wildcard address is shown as `localhost`.
 *
 * @param addr The bound address.
 * @param secure Whether it serves https.
 * @returns The URL.
 */
export function webUrl(addr: Deno.NetAddr, secure: boolean): string {
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${secure ? "https" : "http"}://${host}:${addr.port}/`;
}

/**
 * Parses an integer flag.
 *
 * @param name The flag, for the message.
 * @param value Its text, if given.
 * @param fallback The default.
 * @param max The largest value allowed.
 * @returns The number.
 * @throws {UsageError} When the text is not an integer from 0 to `max`.
 */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  max = 1e9,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) {
    throw new UsageError(`Invalid --${name} "${value}": expected a whole number from 0 to ${max}`);
  }
  return n;
}
