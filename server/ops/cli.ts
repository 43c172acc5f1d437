/**
 * The folder `server/ops/`: what an operator runs and sees: the `serve` command line, the log and
 * its JSON form, and `--metrics` with its health endpoints.
 *
 * `peerstream serve`: flags, help and the process around {@linkcode PeerstreamServer}.
 * @module
 */

import { cacheDir, dataDir } from "../../cli/paths.ts";
import { fileQueueStorage } from "../community/offline_store.ts";
import { fileRoomStorage } from "../community/room_store.ts";
import { PeerstreamServer } from "../server.ts";
import { DEFAULT_LIMITS, LIMITS_ENV, remoteTimeoutOf, type ServerLimits } from "../limits.ts";
import { fileNameStore } from "../community/name_store.ts";
import { grandfatheredLines } from "../community/name_admin.ts";
import { VideoLibrary } from "../../video/video_library.ts";
import { PosterFiles } from "../door/posters.ts";
import type { VideoCodec } from "../../video/prepared_title.ts";
import { certificateFingerprint, WebServer } from "../door/web.ts";
import { loadOrMakeSelfSigned, serverNames } from "../door/self_signed.ts";
import { clusterSettings } from "../community/cluster_options.ts";
import { ServeOutput } from "./serve_output.ts";
import { METRICS_DEFAULT_HOST, startMetrics } from "./serve_metrics.ts";
import { release, releaseInCluster, rename, renameInCluster } from "./name_commands.ts";
import {
  limitsFrom,
  parseServeFlags,
  SERVE_HELP,
  type ServeValues,
  webAddress,
  webUrl,
} from "./serve_flags.ts";

export { SERVE_HELP };

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
  const { values, port, codec, logFormat, renameTo } = parseServeFlags(args);
  if (values.help) {
    io.out(SERVE_HELP.trimEnd());
    return 0;
  }
  const cluster = clusterSettings(values);
  const metricsAt = values.metrics === undefined
    ? undefined
    : webAddress(values.metrics, METRICS_DEFAULT_HOST, "metrics");
  if (values.release !== undefined && cluster.redis !== undefined) {
    return await releaseInCluster(cluster.redis.url, values.release, io);
  }
  if (values["list-grandfathered"] && cluster.redis !== undefined) {
    const { clusterBoundNames } = await import("../community/cluster_admin.ts");
    for (const line of grandfatheredLines(await clusterBoundNames(cluster.redis.url))) {
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
  const limits = limitsFrom(values, Deno.env.get(LIMITS_ENV));
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
    rooms: cluster.redis === undefined
      ? fileRoomStorage(`${values.data ?? dataDir()}/rooms`)
      : undefined,
    tls,
    limits,
    cluster: cluster.redis === undefined ? undefined : {
      ...cluster.redis,
      timing: {
        ttlMs: limits.clusterTtlMs ?? DEFAULT_LIMITS.clusterTtlMs,
        beatMs: limits.clusterBeatMs ?? DEFAULT_LIMITS.clusterBeatMs,
        remoteTimeoutMs: remoteTimeoutOf(limits),
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
  values: ServeValues,
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
