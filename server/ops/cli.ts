/**
 * The folder `server/ops/`: what an operator runs and sees: the `serve` command line, the log and
 * its JSON form, and `--metrics` with its health endpoints.
 *
 * `peerstream serve`: flags, help and the process around {@linkcode PeerstreamServer}.
 * @module
 */

import { parseArgs } from "node:util";
import { cacheDir, dataDir } from "../../cli/paths.ts";
import { fileQueueStorage } from "../community/offline_store.ts";
import { UsageError } from "../../cli/output.ts";
import { PeerstreamServer } from "../server.ts";
import { DEFAULT_LIMITS, LIMITS_ENV, parseLimits, type ServerLimits } from "../limits.ts";
import { fileNameStore, type NameStore } from "../community/name_store.ts";
import { delay } from "../_async.ts";
import { escapeControls, escapeName } from "../../protocol/text.ts";
import { nameKeys, normalizeName } from "../../protocol/names.ts";
import { grandfatheredLines, planRename, type RenamePlan } from "../community/name_admin.ts";
import { VideoLibrary } from "../../video/video_library.ts";
import { PosterFiles } from "../door/posters.ts";
import type { VideoCodec } from "../../video/prepared_title.ts";
import { certificateFingerprint, WebServer } from "../door/web.ts";
import { loadOrMakeSelfSigned, serverNames } from "../door/self_signed.ts";
import { CLUSTER_FLAGS, CLUSTER_HELP, clusterSettings } from "../community/cluster_options.ts";
import { LOG_FORMATS, type LogFormat } from "./log_format.ts";
import { ServeOutput } from "./serve_output.ts";
import { METRICS_DEFAULT_HOST, startMetrics } from "./serve_metrics.ts";

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

/** Options to run `serve` in-process (tests); the CLI fills them from flags. */
export interface ServeIo {
  /** Writes a log line. */
  out: (line: string) => void;
  /** Writes an error line. */
  err: (line: string) => void;
  /** Resolves when the server should stop; the CLI uses SIGINT and SIGTERM. */
  stopSignal: Promise<string>;
}

/**
 * Runs `peerstream serve`.
 *
 * @param args The arguments after `serve`.
 * @param io Output and the stop trigger.
 * @returns The exit code.
 * @throws {UsageError} On bad flags.
 */
export async function serve(args: string[], io: ServeIo): Promise<number> {
  const { values, positionals } = parseFlags(args);
  if (values.help) {
    io.out(SERVE_HELP.trimEnd());
    return 0;
  }
  const renameTo = checkPositionals(values.rename, positionals);
  const { port, codec, logFormat } = checkServeFlags(values);
  const cluster = clusterSettings(values);
  const metricsAt = values.metrics === undefined
    ? undefined
    : webAddress(values.metrics, METRICS_DEFAULT_HOST, "metrics");
  if (values.release !== undefined && cluster.redis !== undefined) {
    return await releaseInCluster(cluster.redis.url, values.release, io);
  }
  if (values["list-grandfathered"] && cluster.redis !== undefined) {
    const { RedisCommunity } = await import("../community/redis_community.ts");
    for (const line of grandfatheredLines(await RedisCommunity.boundNames(cluster.redis.url))) {
      io.out(line);
    }
    return 0;
  }
  if (values.rename !== undefined && cluster.redis !== undefined) {
    return await renameInCluster(cluster.redis.url, { from: values.rename, to: renameTo! }, io);
  }
  const names = fileNameStore(`${values.data ?? dataDir()}/names.json`);
  if (values.release !== undefined) return await release(names, values.release, io);
  if (values["list-grandfathered"]) {
    for (const line of grandfatheredLines(names.load().keys())) io.out(line);
    return 0;
  }
  if (values.rename !== undefined) {
    return await rename(names, { from: values.rename, to: renameTo! }, io);
  }
  const limits = limitsFrom(values);
  const output = new ServeOutput(io, {
    format: logFormat,
    limits: { ...DEFAULT_LIMITS, ...limits },
  });
  const tls = await tlsFiles(values, output);
  let fatal: (why: string) => void = () => {};
  const fatalSignal = new Promise<string>((resolve) => fatal = resolve);
  const server = new PeerstreamServer({
    hostname: values.host ?? "0.0.0.0",
    port,
    logger: output.log,
    names,
    queue: cluster.redis === undefined
      ? fileQueueStorage(`${values.data ?? dataDir()}/queue`)
      : undefined,
    tls,
    limits,
    cluster: cluster.redis === undefined ? undefined : {
      ...cluster.redis,
      timing: {
        ttlMs: limits.clusterTtlMs ?? DEFAULT_LIMITS.clusterTtlMs,
        beatMs: limits.clusterBeatMs ?? DEFAULT_LIMITS.clusterBeatMs,
      },
      onFatal: (message) => {
        output.problem(message, "cluster-fatal");
        fatal("cluster");
      },
    },
    trustedProxies: cluster.trustedProxies,
    reusePort: cluster.reusePort,
  });
  // The titles' poster frames, served on the web page once the library is open.
  const posters = new PosterFiles();
  const addr = await listen(server, { port, cluster: cluster.redis !== undefined, output });
  if (addr === null) return 1;
  output.notice(`Listening on ${addr.hostname}:${addr.port}${tls ? " (TLS)" : ""}`, "listening");
  const web = values.web === undefined
    ? undefined
    : startWeb(values.web, { host: values.host, tls, server, output, codec, io, limits, posters });
  if (web === null) {
    await server.shutdown();
    return 1;
  }
  const inCluster = cluster.redis !== undefined;
  const metrics = metricsAt === undefined
    ? undefined
    : await startMetrics(metricsAt, { server, cluster: inCluster, output });
  if (metrics === null) {
    await server.shutdown();
    await web?.shutdown();
    return 1;
  }
  if (tls !== undefined) {
    output.notice(`TLS certificate SHA-256 ${certificateFingerprint(tls.cert)}`, "tls");
  }
  // Chat works at once; videos appear as the library is scanned and prepared.
  const library = openLibrary(server, {
    dir: values.videos,
    cache: values.cache,
    codec,
    output,
    posters,
  });
  const why = await Promise.race([io.stopSignal, fatalSignal]);
  await library.close();
  output.log.line(`${why}: shutting down`, { event: "shutdown" });
  await server.shutdown("Server is shutting down");
  await web?.shutdown();
  await metrics?.close();
  output.log.line("stopped", { event: "stopped" });
  return why === "cluster" ? 1 : 0;
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
 * Starts the server; says why not when the port is taken or the cluster cannot be joined.
 *
 * @returns The bound address, or null after saying why it cannot start.
 */
async function listen(
  server: PeerstreamServer,
  options: { port: number; cluster: boolean; output: ServeOutput },
): Promise<Deno.NetAddr | null> {
  try {
    return await server.start();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      options.output.cannotStart(
        `Cannot listen on port ${options.port}: it is in use; pick another with --port`,
        "port-in-use",
      );
      return null;
    }
    // Cannot join the cluster: the message says why and what to do.
    if (options.cluster && !(error instanceof Deno.errors.PermissionDenied)) {
      options.output.cannotStart((error as Error).message, "cluster-failed");
      return null;
    }
    throw error;
  }
}

/**
 * Opens the video library in the background and hands it to the server (or its error).
 *
 * @returns How to stop opening it, once the server stops.
 */
function openLibrary(
  server: PeerstreamServer,
  options: {
    dir?: string;
    cache?: string;
    codec: VideoCodec;
    output: ServeOutput;
    posters: PosterFiles;
  },
): { close(): Promise<void> } {
  const abort = new AbortController();
  const opening = VideoLibrary.open({
    dir: options.dir,
    cacheDir: options.cache ?? cacheDir(),
    codec: options.codec,
    onLog: (line) => options.output.log.line(line, { event: "video" }),
    signal: abort.signal,
  }).then(
    (videos) => {
      server.setVideos(videos);
      options.posters.setLibrary(videos);
    },
    (error) => {
      if (abort.signal.aborted) return;
      const message = (error as Error).message;
      server.setVideosError(message);
      options.output.problem(`Cannot open the video library: ${message}`, "video-failed");
    },
  );
  return {
    close: async () => {
      abort.abort();
      await opening;
    },
  };
}

/**
 * The limits: the environment's overrides (tests shorten timeouts and windows through it), then
 * the flags given.
 */
function limitsFrom(
  values: {
    "max-connections"?: string;
    "max-per-address"?: string;
    "queue-messages"?: string;
    "queue-bytes"?: string;
    "queue-days"?: string;
  },
): Partial<ServerLimits> {
  const limits = parseLimits(Deno.env.get(LIMITS_ENV));
  if (values["queue-messages"] !== undefined) {
    limits.queueMessages = intFlag("queue-messages", values["queue-messages"], 1);
  }
  if (values["queue-bytes"] !== undefined) {
    limits.queueBytes = intFlag("queue-bytes", values["queue-bytes"], 1);
  }
  if (values["queue-days"] !== undefined) {
    limits.queueMaxAgeMs = intFlag("queue-days", values["queue-days"], 1) * 86_400_000;
  }
  if (values["max-connections"] !== undefined) {
    limits.maxConnections = intFlag("max-connections", values["max-connections"], 0);
  }
  if (values["max-per-address"] !== undefined) {
    limits.maxConnectionsPerAddress = intFlag("max-per-address", values["max-per-address"], 0);
  }
  return limits;
}

/** How long `serve --release` waits for a running server to apply the release, ms. */
const RELEASE_CONFIRM_MS = 5000;

/**
 * `serve --release NAME`: removes the binding from the file, then, when a server runs on the same
 * folder, waits until it has read the change (it looks every second), so that a join right after
 * the command finds the name free.
 */
async function release(names: NameStore, raw: string, io: ServeIo): Promise<number> {
  const name = raw.normalize("NFC");
  const shown = escapeControls(raw);
  const bindings = names.load();
  if (!bindings.delete(name)) {
    io.err(`error: Cannot release "${shown}": no key owns that name`);
    return 1;
  }
  await names.save(bindings);
  const applied = await awaitApplied(names);
  if (applied === "none") {
    io.out(
      `Released "${shown}": any key may register it now; no server runs on this folder, the next one started honours it`,
    );
    return 0;
  }
  if (typeof applied === "number") {
    // A save of the server's own at that very moment can write the name back.
    const state = names.load().has(name)
      ? "the server saved its bindings at the same moment and kept the name; run --release again"
      : "the file no longer binds the name, so the server applies it once it notices, or at its next start";
    io.err(
      `error: Cannot confirm the release of "${shown}": the server running on this folder (pid ${applied}) did not apply it within ${
        RELEASE_CONFIRM_MS / 1000
      } s; ${state}`,
    );
    return 1;
  }
  io.out(
    `Released "${shown}": the running server (pid ${applied.pid}) applied it; any key may register it now`,
  );
  return 0;
}

/**
 * After a change to the store: waits until the server running on this folder, if any, has read
 * it (it looks every second).
 *
 * @returns `none` when no server runs, `{ pid }` once it applied the change, or its pid when it
 * did not within {@linkcode RELEASE_CONFIRM_MS}.
 */
async function awaitApplied(names: NameStore): Promise<"none" | { pid: number } | number> {
  const version = names.version?.() ?? null;
  const running = runningServer(names);
  if (running === undefined) return "none";
  const deadline = Date.now() + RELEASE_CONFIRM_MS;
  while (names.acknowledged?.()?.version !== version) {
    if (Date.now() > deadline || runningServer(names) === undefined) return running;
    await delay(100);
  }
  return { pid: running };
}

/**
 * `serve --rename OLD NEW`: moves OLD's binding to NEW in the file, then, like `--release`, waits
 * for the server running on the same folder to apply it.
 */
async function rename(
  names: NameStore,
  request: { from: string; to: string },
  io: ServeIo,
): Promise<number> {
  const bindings = names.load();
  let plan: RenamePlan;
  try {
    plan = planRename(bindings, request);
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
  bindings.delete(plan.from);
  bindings.set(plan.to, plan.key);
  await names.save(bindings);
  const what = `"${escapeName(plan.from)}" to "${plan.to}"`;
  const applied = await awaitApplied(names);
  if (typeof applied === "number") {
    const now = names.load();
    const state = now.get(plan.to) === plan.key && !now.has(plan.from)
      ? "the file holds the new binding, so the server applies it once it notices, or at its next start"
      : "the server saved its bindings at the same moment; run --list-grandfathered and --rename again";
    io.err(
      `error: Cannot confirm the rename of ${what}: the server running on this folder (pid ${applied}) did not apply it within ${
        RELEASE_CONFIRM_MS / 1000
      } s; ${state}`,
    );
    return 1;
  }
  const where = applied === "none"
    ? "no server runs on this folder, the next one started honours it"
    : `the running server (pid ${applied.pid}) applied it`;
  io.out(`Renamed ${what}: its key joins as "${plan.to}" now; ${where}`);
  return 0;
}

/** `serve --rename OLD NEW --redis URL`: the same in the cluster's Redis, for every node. */
async function renameInCluster(
  url: string,
  request: { from: string; to: string },
  io: ServeIo,
): Promise<number> {
  const from = request.from.normalize("NFC");
  const what = `"${escapeName(from)}" to "${escapeName(request.to)}"`;
  let to: string;
  try {
    to = normalizeName(request.to);
  } catch (error) {
    io.err(
      `error: Cannot rename ${what}: the new name breaks today's rules (${
        (error as Error).message
      })`,
    );
    return 1;
  }
  const { RedisCommunity } = await import("../community/redis_community.ts");
  const answer = await RedisCommunity.renameName(url, { from, to, lookalikes: nameKeys(to) });
  const why: Record<string, string> = {
    NOOLD:
      "no key owns the old name in the cluster; --list-grandfathered lists the names to migrate",
    BOUND: "another key owns the new name; pick another, or --release it first",
    MINE: "the same key already owns the new name; release the old one with --release",
    TAKEN: "the new name is online with another key; pick another",
  };
  if (answer === "OK") {
    io.out(`Renamed ${what} in the cluster: its key joins as "${to}" now, on every node`);
    return 0;
  }
  const confusable = /^CONFUSABLE (.*)$/s.exec(answer);
  const reason = confusable !== null
    ? `it looks like "${
      escapeName(confusable[1])
    }", a name of another key; pick a name that looks different`
    : why[answer] ?? answer;
  io.err(`error: Cannot rename ${what}: ${reason}`);
  return 1;
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

/** `serve --release NAME --redis URL`: frees the name in the cluster's Redis, for every node. */
async function releaseInCluster(url: string, raw: string, io: ServeIo): Promise<number> {
  const shown = escapeControls(raw);
  const { RedisCommunity } = await import("../community/redis_community.ts");
  if (!(await RedisCommunity.releaseName(url, raw.normalize("NFC")))) {
    io.err(`error: Cannot release "${shown}": no key owns that name in the cluster`);
    return 1;
  }
  io.out(`Released "${shown}" in the cluster: any key may register it now, on every node`);
  return 0;
}

/** The process id of the server running on this store (its heartbeat is recent), if any. */
function runningServer(names: NameStore): number | undefined {
  return names.acknowledged?.()?.pid;
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
 * Starts the web page's server beside the peerstream server and prints its URL.
 *
 * @returns The web server, or null when its port is taken (said on stderr).
 */
function startWeb(
  flag: string,
  options: {
    host?: string;
    tls?: { cert: string; key: string };
    server: PeerstreamServer;
    output: ServeOutput;
    codec: string;
    io: ServeIo;
    limits: Partial<ServerLimits>;
    posters: PosterFiles;
  },
): WebServer | null {
  const where = webAddress(flag, options.host ?? "0.0.0.0");
  const web = new WebServer({
    ...where,
    tls: options.tls,
    target: options.server,
    log: (line) => options.output.web(line),
    codec: options.codec,
    limits: options.limits,
    posters: (title) => options.posters.read(title),
  });
  try {
    web.start();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    options.output.cannotStart(
      `Cannot serve the web page on port ${where.port}: it is in use; pick another`,
      "port-in-use",
    );
    return null;
  }
  options.output.notice(
    `Web page at ${webUrl(web.addr, options.tls !== undefined)}`,
    "web-listening",
  );
  return web;
}

/**
 * The TLS certificate and key: the person's own files, a self-signed certificate the server
 * keeps, or none.
 */
async function tlsFiles(
  values: ReturnType<typeof parseFlags>["values"],
  output: ServeOutput,
): Promise<{ cert: string; key: string } | undefined> {
  if (values["tls-cert"] !== undefined && values["tls-key"] !== undefined) {
    return {
      cert: await Deno.readTextFile(values["tls-cert"]),
      key: await Deno.readTextFile(values["tls-key"]),
    };
  }
  if (!values["tls-self-signed"]) return undefined;
  const made = await loadOrMakeSelfSigned(
    `${values.data ?? dataDir()}/tls`,
    serverNames(values.host ?? "0.0.0.0"),
  );
  output.notice(
    `${made.created ? "Made" : "Using"} the self-signed certificate ${made.certFile}: people ` +
      "compare its SHA-256 fingerprint (below) with what their browser shows before accepting " +
      `it; terminal clients join with --tls --ca ${made.certFile}`,
    "tls",
  );
  return { cert: made.cert, key: made.key };
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
