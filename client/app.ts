/**
 * The running `peerstream join`: connects and registers (asking for another name, on a new
 * connection, when the server refuses one), then wires the session, the viewer, the command
 * handler and the terminal together until QUIT, Ctrl-D or a lost connection.
 * @module
 */

import { WarningDigest } from "./warning_digest.ts";
import { styles } from "../cli/output.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import { normalizeName } from "../protocol/names.ts";
import { showName } from "../protocol/shown_name.ts";
import { complete } from "./commands.ts";
import { connectSession } from "./connect.ts";
import { CommandHandler } from "./handler.ts";
import { knownPeersFile, loadIdentity, replayFile, roomsFile } from "./identity.ts";
import { KnownPeers } from "./known_peers.ts";
import {
  checkDisplay,
  checkPlayer,
  type Player,
  playerArgs,
  PlayerProcess,
  type PlayerStart,
  ValidatingPlayer,
} from "./player.ts";
import { isMpv, MpvPlayers } from "./mpv.ts";
import {
  renderError,
  renderJoined,
  renderKeyChanged,
  renderLeft,
  renderMessage,
  renderPeerState,
  renderPrompt,
  renderQueueState,
  renderRoomMessage,
  renderShutdown,
  renderViewerEvent,
  renderWarning,
  safe,
  type Style,
} from "./render.ts";
import { RoomReceipts } from "./room_receipts.ts";
import type { ClientSession, SessionEvents } from "./session.ts";
import { Terminal } from "./terminal.ts";
import { Viewer, type ViewerEvent } from "./viewer.ts";
import type { RoomPlaybackMessage, StreamStartMessage } from "../protocol/messages.ts";
import { Watching } from "./watch/watching.ts";

/** What `join` was asked to do. */
export interface ClientConfig {
  /** The name to register. */
  name: string;
  /** Server host. */
  hostname: string;
  /** Server port. */
  port: number;
  /** TLS, with extra trusted certificates. */
  tls?: { caCerts?: string[] };
  /** The `--player` value. */
  player: string;
  /** Keep keys in memory only; the server holds the name only while connected. */
  ephemeral: boolean;
  /** The config folder (identities, known peers). */
  dir: string;
}

/** Codes after which the user may pick another name. */
const RETRY_CODES = new Set(["NAME_TAKEN", "NAME_INVALID", "NAME_CONFUSABLE", "NAME_LIMIT"]);

/** How often the status line and the on-screen rendition are refreshed, ms. */
const TICK_MS = 250;

interface Context {
  config: ClientConfig;
  term: Terminal;
  style: Style;
  session?: ClientSession;
  handler?: CommandHandler;
  lost?: string;
  /** Warnings about messages, summarised per sender (a flood costs a line or two per 10 s). */
  warnings: WarningDigest;
  /** The whole error when the server broke the protocol (see `ClosedInfo.broken`). */
  broken?: string;
  /** The session's mpv, when the player is mpv: one window for every stream. */
  mpv?: MpvPlayers;
  /** Room members' receipts of messages this client sent, summed up. */
  receipts: RoomReceipts;
  /** Watching together, once the session runs. */
  watching?: Watching;
  /** Rooms' timelines pushed before it does (right after `welcome`). */
  early: RoomPlaybackMessage[];
}

/**
 * Runs the client until QUIT, the end of input, or a lost connection.
 *
 * @param config The flags.
 * @returns The exit code: 0 after QUIT or Ctrl-D, 1 when the connection was lost or no name
 * was registered.
 * @throws {PeerstreamError} When the server cannot be reached.
 */
export async function runClient(config: ClientConfig): Promise<number> {
  const ctx: Context = {
    config,
    style: styles(),
    term: new Terminal({
      completer: (line) => complete(line, ctx.handler?.completion() ?? { peers: [], titles: [] }),
      onInterrupt: (hadText) => {
        if (!hadText) ctx.handler?.interrupt().catch(() => {});
      },
    }),
    warnings: new WarningDigest(),
    receipts: new RoomReceipts(),
    early: [],
  };
  _watchSignals(ctx);
  // What a finished interval held back is said even when no further warning comes.
  const summaries = setInterval(() => {
    for (const line of ctx.warnings.flush(performance.now())) {
      ctx.term.error(renderWarning(line, ctx.style));
    }
  }, 1000);
  try {
    const session = await _register(ctx);
    if (session === null) return 1;
    return await _run(ctx, session);
  } finally {
    clearInterval(summaries);
    ctx.term.close();
  }
}

/** Registers a name, on a new connection for each attempt, until one is accepted. */
async function _register(ctx: Context): Promise<ClientSession | null> {
  const { config, term } = ctx;
  let name = config.name;
  while (true) {
    let problem: string | undefined;
    try {
      name = normalizeName(name);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem === undefined) {
      const session = await _connect(ctx, name);
      try {
        const loaded = await loadIdentity(name, { dir: config.dir, ephemeral: config.ephemeral });
        const welcome = await session.register(name, loaded.identity, {
          ephemeral: config.ephemeral,
        });
        // Only now: a refused name leaves no identity file behind.
        await loaded.save();
        const others = welcome.peers.length > 0
          ? welcome.peers.map(showName).join(", ")
          : "nobody else yet";
        term.print(
          `Joined ${config.hostname}:${config.port} as ${
            showName(welcome.name)
          }. Online: ${others}. Type HELP for commands.`,
        );
        return session;
      } catch (error) {
        session.close();
        if (!(error instanceof PeerstreamError && RETRY_CODES.has(error.code))) throw error;
        problem = error.message;
      }
    }
    term.error(renderError(problem, ctx.style));
    const next = await term.read("Name: ");
    if (next === null || next.trim() === "") return null;
    name = next.trim();
  }
}

function _connect(ctx: Context, name: string): Promise<ClientSession> {
  const { config } = ctx;
  let session: ClientSession | undefined;
  const connecting = connectSession({
    hostname: config.hostname,
    port: config.port,
    tls: config.tls,
    knownPeers: new KnownPeers(config.ephemeral ? undefined : knownPeersFile(name, config.dir)),
    // What the replay guard has seen survives a restart (an ephemeral identity has no restart).
    replay: config.ephemeral ? undefined : replayFile(name, config.dir),
    // So is the furthest entry of each room seen: a server's rollback is caught after a restart.
    rooms: config.ephemeral ? undefined : roomsFile(name, config.dir),
    events: _sessionEvents(ctx, () => session),
  });
  return connecting.then((s) => session = s);
}

function _sessionEvents(ctx: Context, self: () => ClientSession | undefined): SessionEvents {
  const { term, style } = ctx;
  return {
    joined: (name) => term.print(renderJoined(name, style)),
    left: (name, reason) => term.print(renderLeft(name, reason, style)),
    peerState: (names, state) => term.print(renderPeerState(names, state, style)),
    message: (message) =>
      renderMessage(message, style, { width: term.columns }).forEach((line) => term.print(line)),
    warning: (text, code, from) => {
      for (const line of ctx.warnings.add({ text, code, from }, performance.now())) {
        term.error(renderWarning(line, style));
      }
    },
    keyChanged: (name) => term.error(renderKeyChanged(name, style)),
    roomChange: (room, words) => term.print(`* #${safe(room.name)}: ${words}`),
    roomMessage: (message) =>
      renderRoomMessage(message, style, { width: term.columns }).forEach((line) =>
        term.print(line)
      ),
    roomDelivered: (re, to) => {
      for (const line of ctx.receipts.delivered(re, to, performance.now())) {
        term.print(style.dim(line));
      }
    },
    roomQueued: (re, to) => {
      for (const line of ctx.receipts.queued(re, to)) {
        term.print(style.dim(line));
      }
    },
    queueNotice: (kind, to) => term.print(style.dim(renderQueueState(kind, to))),
    serverError: (_code, message) => term.error(renderError(message, style)),
    videos: (videos) => ctx.handler?.videosPushed(videos),
    roomPlayback: (message) => {
      if (ctx.watching !== undefined) ctx.watching.playback(message);
      else if (ctx.early.length < 1_000) ctx.early.push(message);
    },
    shutdown: (message) => {
      term.print(renderShutdown(message, style));
      if (ctx.session === self()) ctx.lost = "the server shut down";
    },
    closed: (info) => {
      // A connection closed after a refused name is not the client's connection.
      if (ctx.session === undefined || ctx.session !== self()) return;
      if (!info.expected) ctx.lost ??= info.message;
      if (info.broken !== undefined) ctx.broken ??= info.broken;
      term.close();
    },
  };
}

/** The command loop of a registered session. */
async function _run(ctx: Context, session: ClientSession): Promise<number> {
  const { config, term, style } = ctx;
  ctx.session = session;
  const viewer = new Viewer({
    session,
    openPlayer: (info, start) => _openPlayer(ctx, info, start),
    onEvent: (event) => _showViewerEvent(ctx, event),
  });
  const checkPlayerNow = () => {
    checkPlayer(config.player);
    checkDisplay(config.player, Deno.env);
  };
  const watching = new Watching({
    session,
    viewer,
    canRate: isMpv(config.player),
    print: (l) => term.print(l),
    error: (l) => term.error(renderError(l, style)),
    checkPlayer: checkPlayerNow,
  });
  ctx.watching = watching;
  for (const message of ctx.early.splice(0)) watching.playback(message);
  ctx.handler = new CommandHandler({
    io: { print: (l) => term.print(l), error: (l) => term.error(l), read: (p) => term.read(p) },
    session,
    viewer,
    style,
    checkPlayer: checkPlayerNow,
    receipts: ctx.receipts,
    watching,
  });
  const ticker = setInterval(() => {
    term.setPrompt(renderPrompt(viewer.tick()));
    // Room receipts held back within their second are counted once it is up.
    for (const line of ctx.receipts.flush(performance.now())) term.print(style.dim(line));
  }, TICK_MS);
  try {
    while (ctx.lost === undefined && !session.closed) {
      const line = await term.read();
      if (line === null || !(await ctx.handler.run(line))) break;
    }
  } finally {
    clearInterval(ticker);
    watching.close();
    await viewer.close();
    await ctx.mpv?.close();
  }
  if (ctx.broken !== undefined) {
    term.close();
    term.error(renderError(ctx.broken, style));
    return 1;
  }
  if (ctx.lost !== undefined) {
    term.close();
    term.error(
      `error: Lost connection to ${config.hostname}:${config.port}: ${
        safe(ctx.lost)
      }; is \`peerstream serve\` still running there? join again once it is`,
    );
    return 1;
  }
  await session.quit();
  return 0;
}

function _showViewerEvent(ctx: Context, event: ViewerEvent) {
  // A stream that fails because the connection was lost is reported once, as the lost connection.
  if (event.kind === "failed" && ctx.session?.closed) return;
  const lines = renderViewerEvent(event, ctx.style);
  for (const line of lines.out) ctx.term.print(line);
  for (const line of lines.err) ctx.term.error(line);
}

function _openPlayer(ctx: Context, info: StreamStartMessage, start: PlayerStart): Player {
  const spec = ctx.config.player;
  if (isMpv(spec)) return (ctx.mpv ??= new MpvPlayers(spec)).open(info, start);
  const args = playerArgs(spec, info);
  return args === null ? new ValidatingPlayer(info.container) : new PlayerProcess(args);
}

/**
 * SIGTERM and SIGHUP (and SIGINT when not on a terminal) end the client cleanly. The listeners
 * stay until the process exits (they do not keep it alive): one removed while the client was
 * still leaving let a SIGTERM in that moment kill it (exit 143 instead of 0, seen on a busy
 * machine after the end of input).
 */
function _watchSignals(ctx: Context): void {
  const signals: Deno.Signal[] = ["SIGTERM", "SIGHUP"];
  if (!ctx.term.interactive) signals.push("SIGINT");
  const leave = () => ctx.term.close();
  for (const signal of signals) Deno.addSignalListener(signal, leave);
}
