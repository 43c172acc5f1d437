/**
 * `peerstream join`: flags and help. The running client is `app.ts`; the commands are
 * `handler.ts`; what it prints is `render.ts`.
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../cli/output.ts";
import { configDir } from "../cli/paths.ts";
import { runClient } from "./app.ts";
import { COMMAND_HELP } from "./commands.ts";
import { findExecutable } from "./player.ts";

/** Help for `peerstream join`. */
export const JOIN_HELP = `Usage: peerstream join --name NAME [options]

Joins a server: chat end-to-end encrypted with peers and watch the server's videos.

Options:
  --name NAME        Your name: 1-32 letters, digits, "_", "." or "-" (required)
  --server HOST:PORT Server address (default 127.0.0.1:7878)
  --player CMD       Player: mpv (default when installed: driven over its IPC,
                     one window for SEEK, QUALITY, PAUSE and new titles, exact
                     pause and seek), ffplay (default otherwise), a command fed
                     the stream on stdin, or none (check and count the stream,
                     show nothing); both need a display
  --tls              Connect with TLS
  --ca FILE          Trust this PEM certificate authority (with --tls)
  --ephemeral        Keep keys in memory only; the server holds the name only
                     while you are connected (default: keys saved per name in
                     $XDG_CONFIG_HOME/peerstream, mode 0600, and the name kept)
  -h, --help         Show this help

${COMMAND_HELP}

Keys: Tab completes, Up/Down recall history, Ctrl-C clears the line (on an empty
line it stops the video), Ctrl-D or QUIT leaves. WHO shows your own fingerprint first.
`;

/**
 * The player when `--player` is not given: mpv when it is installed (a control channel: exact
 * pause, seek and quality in one window), else ffplay.
 *
 * @param find Finds a program on PATH. @default {findExecutable}
 * @returns `mpv` or `ffplay`.
 */
export function defaultPlayer(find: (name: string) => string | null = findExecutable): string {
  return find("mpv") !== null ? "mpv" : "ffplay";
}

/**
 * Parses `HOST:PORT` (IPv6 in brackets).
 *
 * @param text The address.
 * @returns Host and port.
 * @throws {UsageError} When it is not HOST:PORT.
 */
export function parseServerAddress(text: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (match === null || port > 65535) {
    throw new UsageError(`Invalid --server "${text}": use HOST:PORT, e.g. 127.0.0.1:7878`);
  }
  return { hostname: match[1] ?? match[2], port };
}

/**
 * Runs `peerstream join`.
 *
 * @param args The arguments after `join`.
 * @returns The exit code: 0 after QUIT, 1 when the connection is lost or cannot be made.
 * @throws {UsageError} On bad flags.
 */
export async function join(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        name: { type: "string" },
        server: { type: "string" },
        player: { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
        ephemeral: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(JOIN_HELP.trimEnd());
    return 0;
  }
  if (values.name === undefined) throw new UsageError("Missing --name: choose a name to join as");
  if (values.ca && !values.tls) throw new UsageError("Option --ca needs --tls");
  const { hostname, port } = parseServerAddress(values.server ?? "127.0.0.1:7878");
  const caCerts = values.ca ? [await Deno.readTextFile(values.ca)] : undefined;
  return await runClient({
    name: values.name,
    hostname,
    port,
    tls: values.tls ? { caCerts } : undefined,
    player: values.player ?? defaultPlayer(),
    ephemeral: values.ephemeral ?? false,
    dir: configDir(),
  });
}
