/**
 * nginx serving the bench title as HLS, side by side with peerstream: the very MPEG-TS segments
 * the bench server prepared (found in its cache folder), one media playlist per rendition, and a
 * private nginx (one worker, `sendfile on`, keep-alive) on a loopback port with its config, pid,
 * logs and temp folders in a temporary folder. No system nginx service is touched.
 * @module
 */

import { freePort, stopChild, waitForPort } from "./_daemon.ts";
import { type ProcSample, readProcs } from "./_proc.ts";

/** One rendition of a prepared title: segments as files in the server's cache. */
export interface PreparedRendition {
  /** Height in pixels. */
  height: number;
  /** Average bit rate, bits/s. */
  bitrate: number;
  /** Segments: media start and duration (seconds), size, file relative to the prepared folder. */
  segments: { start: number; duration: number; bytes: number; file: string }[];
}

/** A prepared title found in the bench server's cache. */
export interface PreparedTitle {
  /** The prepared folder. */
  dir: string;
  /** Renditions, ascending height. */
  renditions: PreparedRendition[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads a prepared folder's `manifest.json` (the server's cache format of `video/prepared_title.ts`),
 * checking every field the bench uses.
 *
 * @param text The manifest text.
 * @returns The title's name and renditions, or null when it does not have the expected shape.
 */
export function parseManifest(
  text: string,
): { name: string; renditions: PreparedRendition[] } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.name !== "string" || !Array.isArray(value.renditions)) {
    return null;
  }
  const renditions: PreparedRendition[] = [];
  for (const r of value.renditions) {
    if (!isRecord(r) || typeof r.height !== "number" || !Array.isArray(r.segments)) return null;
    const segments = [];
    for (const s of r.segments) {
      if (
        !isRecord(s) || typeof s.start !== "number" || typeof s.duration !== "number" ||
        typeof s.bytes !== "number" || typeof s.file !== "string" || s.file.includes("..")
      ) return null;
      segments.push({ start: s.start, duration: s.duration, bytes: s.bytes, file: s.file });
    }
    const bitrate = typeof r.bitrate === "number" ? r.bitrate : 0;
    renditions.push({ height: r.height, bitrate, segments });
  }
  renditions.sort((a, b) => a.height - b.height);
  return { name: value.name, renditions };
}

/**
 * Finds the segments the bench server prepared for a title: the newest
 * `${cache}/server/prepared/<key>/manifest.json` that names it.
 *
 * @param cache The bench cache folder.
 * @param title The title.
 * @returns The prepared folder and its renditions.
 * @throws {Error} When no prepared folder names the title.
 */
export async function findPrepared(cache: string, title: string): Promise<PreparedTitle> {
  const root = `${cache}/server/prepared`;
  let best: PreparedTitle | null = null;
  let bestTime = -Infinity;
  try {
    for await (const entry of Deno.readDir(root)) {
      if (!entry.isDirectory) continue;
      const file = `${root}/${entry.name}/manifest.json`;
      const text = await Deno.readTextFile(file).catch(() => null);
      const manifest = text === null ? null : parseManifest(text);
      if (manifest === null || manifest.name !== title) continue;
      const mtime = (await Deno.stat(file)).mtime?.getTime() ?? 0;
      if (mtime > bestTime) {
        bestTime = mtime;
        best = { dir: `${root}/${entry.name}`, renditions: manifest.renditions };
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (best === null) {
    throw new Error(
      `Cannot find the prepared segments of "${title}" under ${root}; run the bench once to prepare them, or update bench/_nginx.ts if the server's cache layout changed`,
    );
  }
  return best;
}

/**
 * An HLS media playlist (VOD) for one rendition.
 *
 * @param rendition The rendition.
 * @param prefix The URL path its segment files are served under.
 * @returns The playlist text.
 */
export function mediaPlaylist(rendition: PreparedRendition, prefix: string): string {
  const target = Math.ceil(Math.max(...rendition.segments.map((s) => s.duration)));
  return [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    `#EXT-X-TARGETDURATION:${target}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    ...rendition.segments.flatMap((s) => [`#EXTINF:${s.duration.toFixed(6)},`, prefix + s.file]),
    "#EXT-X-ENDLIST",
    "",
  ].join("\n");
}

/**
 * An HLS master playlist listing every rendition's media playlist.
 *
 * @param renditions The renditions.
 * @returns The playlist text.
 */
export function masterPlaylist(renditions: readonly PreparedRendition[]): string {
  return [
    "#EXTM3U",
    ...renditions.flatMap((r) => [
      `#EXT-X-STREAM-INF:BANDWIDTH=${r.bitrate},RESOLUTION=${
        Math.round((r.height * 16) / 9 / 2) * 2
      }x${r.height}`,
      `${r.height}p.m3u8`,
    ]),
    "",
  ].join("\n");
}

/** Options for {@linkcode nginxConfig}. */
export interface NginxConfigOptions {
  /** Loopback port. */
  port: number;
  /** The temporary folder: pid, error log, temp paths, and `www/` with the playlists. */
  dir: string;
  /** The prepared folder, served under `/seg/`. */
  segments: string;
  /** Whether to run the worker as root (`user root;`): only a root master can switch users. */
  asRoot: boolean;
  /** `worker_connections`. @default {20000} */
  connections?: number;
  /** More addresses to listen on, at the same port (a shaped link's host side). @default {[]} */
  listen?: readonly string[];
}

/**
 * The nginx configuration: one worker process (peerstream is one process), `sendfile on`,
 * keep-alive connections kept for the whole run, no access log, everything under `dir`.
 *
 * @param options Port, folders and user.
 * @returns The configuration text.
 */
export function nginxConfig(options: NginxConfigOptions): string {
  const { dir } = options;
  const connections = options.connections ?? 20_000;
  return `# Written by the peerstream bench; removed when the bench stops this nginx.
${options.asRoot ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile ${connections + 1000};
events {
  worker_connections ${connections};
}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 600s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types {
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
    text/html html;
    text/javascript js;
  }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${options.port};
${
    (options.listen ?? []).map((host) => `    listen ${host}:${options.port};\n`).join("")
  }    root ${dir}/www;
    location /seg/ {
      alias ${options.segments}/;
    }
  }
}
`;
}

/** A running private nginx. */
export interface NginxServer {
  /** Its port. */
  port: number;
  /** The master's process id. */
  pid: number;
  /** The media playlist path of each height, e.g. `/480p.m3u8`. */
  playlists: Map<number, string>;
  /** Master and worker process ids. */
  pids(): Promise<number[]>;
  /** Stops it (SIGQUIT, then SIGKILL after 10 s) and removes its folder. */
  stop(): Promise<void>;
}

async function childPids(pid: number): Promise<number[]> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/task/${pid}/children`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split(/\s+/).filter(Boolean).map(Number);
}

/**
 * Starts a private nginx serving `prepared` as HLS on a free loopback port, and waits until its
 * worker accepts connections.
 *
 * @param prepared The bench server's prepared title.
 * @param options The nginx executable; more addresses to listen on; more files for its root
 * (e.g. an hls.js page).
 * @returns The server.
 * @throws {Error} When nginx does not start within 10 s.
 */
export async function startNginx(
  prepared: PreparedTitle,
  options: { binary: string; listen?: readonly string[]; www?: Record<string, string> },
): Promise<NginxServer> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-bench-nginx-" });
  await Deno.mkdir(`${dir}/www`);
  for (const [name, text] of Object.entries(options.www ?? {})) {
    await Deno.writeTextFile(`${dir}/www/${name}`, text);
  }
  const playlists = new Map<number, string>();
  for (const r of prepared.renditions) {
    await Deno.writeTextFile(`${dir}/www/${r.height}p.m3u8`, mediaPlaylist(r, "/seg/"));
    playlists.set(r.height, `/${r.height}p.m3u8`);
  }
  await Deno.writeTextFile(`${dir}/www/index.m3u8`, masterPlaylist(prepared.renditions));
  // A port picked by the kernel, then freed for nginx: another process may take it in between,
  // hence the retries.
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const conf = nginxConfig({
      port,
      dir,
      segments: prepared.dir,
      asRoot: Deno.uid() === 0,
      listen: options.listen,
    });
    await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
    const child = new Deno.Command(options.binary, {
      args: ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const stop = () => stopNginx(child, dir, stderr);
    const started = await waitForPort(
      child,
      port,
      async () => (await childPids(child.pid)).length > 0,
    );
    if (started) {
      return {
        port,
        pid: child.pid,
        playlists,
        pids: async () => [child.pid, ...(await childPids(child.pid))],
        stop,
      };
    }
    // Stopped first: its stderr ends only when it exits.
    await stopNginx(child, null, stderr);
    lastError = (await stderr.catch(() => "")).trim() ||
      (await Deno.readTextFile(`${dir}/error.log`).catch(() => "")).trim();
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw new Error(
    `Cannot start nginx: ${lastError.split("\n").slice(-2).join(" / ") || "no answer within 10 s"}`,
  );
}

async function stopNginx(
  child: Deno.ChildProcess,
  dir: string | null,
  stderr: Promise<string>,
): Promise<void> {
  // SIGQUIT: graceful shutdown of master and worker; a killed master would leave its worker
  // running, so both are killed by their ids after 10 s.
  await stopChild(child, { signal: "SIGQUIT", alsoKill: await childPids(child.pid) });
  await stderr.catch(() => "");
  if (dir !== null) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * Reads nginx's CPU and memory: master plus worker, summed (peak RSS is each one's peak, summed).
 *
 * @param server The nginx.
 * @returns The sample.
 */
export async function readNginx(server: NginxServer): Promise<ProcSample> {
  return await readProcs(await server.pids());
}
