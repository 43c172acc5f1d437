/**
 * `peerstream join`: the interactive client.
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { styles, UsageError } from "../cli/output.ts";
import { configDir } from "../cli/paths.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import { formatFingerprint } from "../protocol/e2e.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { COMMAND_HELP, complete, parseCommand } from "./commands.ts";
import { escapeControls, speakerLines } from "../protocol/text.ts";
import { knownPeersFile, loadOrCreateIdentity, replayFile } from "./identity.ts";
import { KnownPeers } from "./known_peers.ts";
import { checkPlayer, playerArgs, PlayerSink, ValidatingSink } from "./player.ts";
import { ClientSession, type MediaSink } from "./session.ts";
import { Terminal } from "./terminal.ts";

/** Help for `peerstream join`. */
export const JOIN_HELP = `Usage: peerstream join --name NAME [options]

Joins a server: chat end-to-end encrypted with peers and watch the server's videos.

Options:
  --name NAME        Your name: 1-32 letters, digits, "_", "." or "-" (required)
  --server HOST:PORT Server address (default 127.0.0.1:7878)
  --player CMD       Player fed the stream on stdin: ffplay (default), "mpv -",
                     or none (check and count the stream, show nothing)
  --tls              Connect with TLS
  --ca FILE          Trust this PEM certificate authority (with --tls)
  --ephemeral        Keep keys in memory only, and the name only while connected
                     (default: saved per name in $XDG_CONFIG_HOME/peerstream, mode 0600)
  -h, --help         Show this help

${COMMAND_HELP}
`;

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

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function formatRate(bitsPerSecond: number): string {
  return bitsPerSecond >= 1e6
    ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`
    : `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
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
  const { hostname, port } = parseServerAddress(values.server ?? "127.0.0.1:7878");
  const playerSpec = values.player ?? "ffplay";
  const style = styles();
  const dir = configDir();
  const caCerts = values.ca ? [await Deno.readTextFile(values.ca)] : undefined;
  if (values.ca && !values.tls) throw new UsageError("Option --ca needs --tls");

  let session: ClientSession | undefined;
  let player: PlayerSink | undefined;
  let validator: ValidatingSink | undefined;
  let playing: StreamStartMessage | undefined;
  let lastHeight = 0;
  let lost: string | undefined;
  let titles: string[] = [];
  const term = new Terminal({
    completer: (line) => complete(line, { peers: session?.peers.names() ?? [], titles }),
  });
  const known = new KnownPeers(values.ephemeral ? undefined : knownPeersFile(values.name, dir));
  // Everything the server or a peer says is shown escaped, never replayed to the terminal.
  const show = (text: string) => escapeControls(text);

  try {
    session = await ClientSession.connect({
      hostname,
      port,
      tls: values.tls ? { caCerts } : undefined,
      knownPeers: known,
      replay: values.ephemeral ? undefined : replayFile(values.name, dir),
      events: {
        joined: (name) => term.print(style.green(`* ${show(name)} joined`)),
        left: (name, reason) =>
          term.print(
            style.yellow(`* ${show(name)} left${reason === "quit" ? "" : ` (${reason})`}`),
          ),
        message: (m) => {
          const mark = m.trust === "verified"
            ? " ✓"
            : m.trust === "changed"
            ? " !UNVERIFIED KEY"
            : m.lookalike !== undefined
            ? ` !LOOKS LIKE ${m.lookalike}`
            : "";
          const width = term.interactive ? process.stdout.columns : undefined;
          for (const line of speakerLines(`<${m.from}${mark}>`, m.text, { width })) {
            term.print(line);
          }
        },
        warning: (text) => term.error(style.red(`warning: ${show(text)}`)),
        segment: (segment) => {
          // The prompt is the status line: what plays, where, at which resolution and rate.
          term.setPrompt(
            `[${show(playing?.title ?? "stream")} ${formatDuration(segment.start)}/${
              formatDuration(playing?.duration ?? 0)
            } ${segment.height}p ${formatRate(segment.bitrate)}] > `,
          );
          if (segment.height === lastHeight) return;
          lastHeight = segment.height;
          term.print(
            style.dim(
              `* ${show(playing?.title ?? "stream")}: ${segment.height}p, ${
                formatRate(segment.bitrate)
              }`,
            ),
          );
        },
        streamEnd: (end) => {
          const title = show(playing?.title ?? "stream");
          const ending = player;
          term.setPrompt("> ");
          if (validator !== undefined) {
            const unit = validator.container === "mpegts" ? "MPEG-TS packets" : "JPEG images";
            term.print(
              `* received ${validator.bytes} bytes: ${validator.units} ${unit}, ${validator.errors} sync errors`,
            );
            validator = undefined;
          }
          playing = undefined;
          player = undefined;
          if (end.reason === "finished" && ending !== undefined) {
            term.print(`* all of "${title}" received; the player is finishing it`);
            ending.status.then(() => term.print(`* finished "${title}"`));
          } else if (end.reason === "finished") term.print(`* finished "${title}"`);
          else if (end.reason === "stopped") term.print(`* stopped "${title}"`);
          else term.error(style.red(`error: ${show(end.message ?? `Stream "${title}" failed`)}`));
        },
        shutdown: (message) => {
          term.print(style.yellow(`* server: ${show(message)}`));
          lost = "the server shut down";
        },
        serverError: (_code, message) => term.error(style.red(`error: ${show(message)}`)),
        closed: (info) => {
          if (!info.expected) lost ??= info.message;
          term.close();
        },
      },
    });
  } catch (error) {
    term.close();
    throw error;
  }

  // Register, letting the user pick another name without reconnecting.
  let name = values.name;
  while (true) {
    try {
      const { identity } = await loadOrCreateIdentity(name, { dir, ephemeral: values.ephemeral });
      const welcome = await session.register(name, identity, { ephemeral: values.ephemeral });
      const others = welcome.peers.length > 0 ? show(welcome.peers.join(", ")) : "nobody else yet";
      term.print(
        `Joined ${hostname}:${port} as ${welcome.name}. Online: ${others}. Type HELP for commands.`,
      );
      break;
    } catch (error) {
      if (
        error instanceof PeerstreamError &&
        (error.code === "NAME_TAKEN" || error.code === "NAME_INVALID" ||
          error.code === "NAME_CONFUSABLE")
      ) {
        term.error(style.red(`error: ${show(error.message)}`));
        const next = await term.read("Name: ");
        if (next === null || next.trim() === "") {
          session.close();
          return 1;
        }
        name = next.trim();
        continue;
      }
      session.close();
      term.close();
      throw error;
    }
  }

  const openSink = (info: StreamStartMessage): MediaSink => {
    playing = info;
    lastHeight = 0;
    term.print(
      `* playing "${show(info.title)}" (${formatDuration(info.duration)}, ${
        info.renditions.map((r) => `${r.height}p`).join("/")
      }, ${info.quality === "auto" ? "auto" : `${info.quality}p`})`,
    );
    const args = playerArgs(playerSpec, info);
    if (args === null) {
      validator = new ValidatingSink(info.container);
      return validator;
    }
    player = new PlayerSink(args, {
      onExit: () => {
        if (session?.playback !== "playing") return;
        term.print("* player closed; stopping");
        session.stop().catch(() => {});
      },
    });
    return player;
  };

  const s = session;
  const run = async (line: string): Promise<boolean> => {
    const command = parseCommand(line);
    switch (command.kind) {
      case "empty":
        return true;
      case "help":
        term.print(COMMAND_HELP);
        return true;
      case "quit":
        return false;
      case "list": {
        const videos = await s.list();
        titles = videos.map((v) => v.title);
        if (videos.length === 0) {
          term.print("No videos on this server");
          return true;
        }
        const width = Math.max(...videos.map((v) => show(v.title).length));
        for (const v of videos) {
          const state = v.state === "ready"
            ? ""
            : v.state === "preparing"
            ? `  preparing ${Math.round(v.progress * 100)}%`
            : "  failed";
          term.print(
            `${show(v.title).padEnd(width)}  ${v.heights.map((h) => `${h}p`).join(" ")}  ${
              formatDuration(v.duration)
            }  ${v.hasAudio ? "audio" : "no audio"}${state}`,
          );
        }
        return true;
      }
      case "play": {
        checkPlayer(playerSpec);
        await s.play(command.title, { quality: command.quality, sink: openSink });
        return true;
      }
      case "stop":
        await s.stop();
        return true;
      case "quality":
        await s.setQuality(command.quality);
        term.print(
          `* quality ${
            command.quality === "auto" ? "auto" : `${command.quality}p`
          } from the next segment`,
        );
        return true;
      case "who": {
        const names = s.peers.names();
        if (names.length === 0) term.print("Nobody else is online");
        for (const peer of names) {
          const keys = await s.peerKeys(peer);
          term.print(
            `${show(peer).padEnd(16)} ${formatFingerprint(keys.fingerprint, 4)}  ${keys.trust}`,
          );
        }
        return true;
      }
      case "verify": {
        const keys = await s.peerKeys(command.peer);
        term.print(`${command.peer}: ${formatFingerprint(keys.fingerprint)}`);
        if (command.confirm) {
          if (s.verifyKey(command.peer, keys.fingerprint)) {
            term.print(`* marked ${command.peer}'s key as verified`);
          } else {
            term.print(
              `${command.peer}'s key changed; ACCEPT ${command.peer} first, then VERIFY again`,
            );
          }
        } else {
          term.print(`Compare with ${command.peer} out of band, then: VERIFY ${command.peer} yes`);
        }
        return true;
      }
      case "accept":
        if (s.acceptKey(command.peer)) term.print(`* accepted ${command.peer}'s new key`);
        else term.print(`No changed key pending for ${command.peer}`);
        return true;
      case "message": {
        let to = command.to;
        let text = command.text;
        if (to === undefined) {
          const names = s.peers.names();
          if (names.length === 0) {
            term.print("Nobody else is online");
            return true;
          }
          term.print(`Online: ${show(names.join(", "))}`);
          const answer = await term.read("To: ");
          if (answer === null) return false;
          to = answer.trim();
          if (to === "") return true;
        }
        if (text === undefined) {
          const answer = await term.read("Message: ");
          if (answer === null) return false;
          text = answer;
        }
        const recipient = to;
        s.sendText(recipient, text).then(
          () => term.print(style.dim(`* delivered to ${recipient}`)),
          (error) => term.error(style.red(`error: ${show((error as Error).message)}`)),
        );
        return true;
      }
    }
  };

  while (true) {
    const line = await term.read();
    if (line === null) break;
    let keepGoing = true;
    try {
      keepGoing = await run(line);
    } catch (error) {
      if (error instanceof SyntaxError || error instanceof PeerstreamError) {
        term.error(style.red(`error: ${show(error.message)}`));
      } else {
        throw error;
      }
    }
    if (!keepGoing) break;
  }
  if (lost !== undefined) {
    player?.kill();
    term.error(
      `error: Lost connection to ${hostname}:${port}: ${
        show(lost)
      }; check that the server is running`,
    );
    return 1;
  }
  player?.kill();
  await s.quit();
  term.close();
  return 0;
}
