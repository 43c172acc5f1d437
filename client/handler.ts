/**
 * The command handler of `peerstream join`: one typed line in, what to do and what to print out.
 * Its input and output, the session and the viewer are injected, so it runs in tests without a
 * terminal, a socket or a player.
 * @module
 */

import { formatFingerprint } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Quality, StreamStartMessage, VideoSummary } from "../protocol/messages.ts";
import {
  COMMAND_HELP,
  type CompletionSources,
  parseCommand,
  quoteWord,
  type SeekTarget,
  type TitleChoice,
} from "./commands.ts";
import type { KeyTrust } from "./known_peers.ts";
import { isConnectionLost, type RoomBook, type SendOutcome } from "./session.ts";
import { roomCommand } from "./room_commands.ts";
import type { RoomReceipts } from "./room_receipts.ts";
import { showName } from "../protocol/shown_name.ts";
import { escapeName } from "../protocol/text.ts";
import { normalizePlayArgument } from "../video/catalog.ts";
import type { PlaybackState } from "./playback.ts";
import {
  PLAIN,
  renderError,
  renderQueueState,
  renderVideos,
  renderWhoLine,
  safe,
  type Style,
} from "./render.ts";

/** Where the handler reads and writes. */
export interface HandlerIo {
  /** Prints a line on stdout, above the line being typed. */
  print(line: string): void;
  /** Prints an error or warning on stderr. */
  error(line: string): void;
  /** Asks for a line with a prompt; null at the end of input. */
  read(prompt: string): Promise<string | null>;
}

/** What the handler needs of a session (a `ClientSession` has it). */
export interface HandlerSession {
  /** The registered name. */
  readonly name: string | undefined;
  /** Who is online. */
  readonly peers: { names(): string[]; has(name: string): boolean };
  /** LIST. */
  list(): Promise<VideoSummary[]>;
  /** A peer's key fingerprint and trust. */
  peerKeys(name: string): Promise<{ fingerprint: string; trust: KeyTrust }>;
  /** Whether a peer's key is remembered. */
  knows(name: string): boolean;
  /** ACCEPT. */
  acceptKey(name: string): boolean;
  /** VERIFY ... yes. */
  verifyKey(name: string, fingerprint: string): boolean;
  /** Seals and sends; resolves when delivered, or queued for an offline peer. */
  sendText(to: string, text: string): Promise<SendOutcome>;
  /** This client's own fingerprint. */
  fingerprint(): Promise<string>;
  /** The rooms; absent, the room commands say rooms are not available. */
  readonly rooms?: HandlerRooms;
}

/** What the handler needs of the rooms (a `RoomBook` has it). */
export type HandlerRooms = Pick<
  RoomBook,
  "list" | "names" | "find" | "create" | "change" | "sendText" | "check"
>;

/** What the handler needs of the viewer (a `Viewer` has it). */
export interface HandlerViewer {
  /** Where playback stands. */
  readonly state: PlaybackState;
  /** What plays. */
  readonly playing: StreamStartMessage | undefined;
  /** PLAY. */
  play(title: string, quality: Quality): Promise<void>;
  /** STOP. */
  stop(): Promise<void>;
  /** PAUSE; false when already paused. */
  pause(): boolean;
  /** RESUME; false when not paused. */
  resume(): boolean;
  /** SEEK. */
  seek(target: SeekTarget): Promise<number>;
  /** QUALITY. */
  setQuality(quality: Quality): Promise<"now" | "next">;
}

/** What the handler needs of watching together (a `Watching` has it). */
export interface HandlerWatching {
  /** The room watched now. */
  readonly room: string | undefined;
  /** WATCH. */
  watch(room: string, options: { title?: string; quality?: Quality }): Promise<void>;
  /** PAUSE or RESUME for the watched room; false when none is watched. */
  control(action: "pause" | "resume"): Promise<boolean>;
  /** SEEK for the watched room; false when none is watched. */
  seek(target: SeekTarget): Promise<boolean>;
  /** STOP watching; false when none is watched. */
  stopWatching(): Promise<boolean>;
  /** ROOM STOP. */
  roomStop(room: string): Promise<void>;
  /** QUALITY, kept for what the room starts later. */
  noteQuality(quality: Quality): void;
}

/** Options for {@linkcode CommandHandler}. */
export interface CommandHandlerOptions {
  /** Input and output. */
  io: HandlerIo;
  /** The session. */
  session: HandlerSession;
  /** The viewer. */
  viewer: HandlerViewer;
  /** Colours. @default {PLAIN} */
  style?: Style;
  /** Checks, before PLAY, that the player can run (it exists, it has a display). */
  checkPlayer?: () => void;
  /** Sums up room members' receipts; without it, none are shown. */
  receipts?: RoomReceipts;
  /** Watching together; without it, WATCH says it is not available. */
  watching?: HandlerWatching;
}

/** Runs typed commands. */
export class CommandHandler {
  readonly #io: HandlerIo;
  readonly #session: HandlerSession;
  readonly #viewer: HandlerViewer;
  readonly #style: Style;
  readonly #checkPlayer: () => void;
  readonly #receipts: RoomReceipts | undefined;
  readonly #watching: HandlerWatching | undefined;
  #titles: TitleChoice[] = [];
  /** Titles PLAY found still being prepared: the server says when they are ready. */
  readonly #waiting = new Set<string>();

  /** @param options Input and output, the session, the viewer. */
  constructor(options: CommandHandlerOptions) {
    this.#io = options.io;
    this.#session = options.session;
    this.#viewer = options.viewer;
    this.#style = options.style ?? PLAIN;
    this.#checkPlayer = options.checkPlayer ?? (() => {});
    this.#receipts = options.receipts;
    this.#watching = options.watching;
  }

  /** What Tab may offer now: peers, the titles of the last LIST, the heights of what plays. */
  completion(): CompletionSources {
    return {
      peers: this.#session.peers.names(),
      titles: this.#titles,
      playing: this.#viewer.playing?.renditions.map((r) => r.height) ?? [],
      rooms: this.#session.rooms?.names() ?? [],
    };
  }

  /**
   * Runs one typed line; a refused command prints its error and the client carries on.
   *
   * @param line The line.
   * @returns False to leave (QUIT, or the end of input at a prompt).
   */
  async run(line: string): Promise<boolean> {
    try {
      return await this.#run(line);
    } catch (error) {
      // A command cut short by the lost connection: the client reports the loss once, as it leaves.
      if (isConnectionLost(error)) return true;
      if (error instanceof SyntaxError || error instanceof PeerstreamError) {
        this.#error(error.message);
        return true;
      }
      throw error;
    }
  }

  /** Ctrl-C on an empty line: stops the video if one plays, else says how to leave. */
  async interrupt(): Promise<void> {
    if (this.#viewer.state === "idle") {
      this.#io.print("Type QUIT or press Ctrl-D to leave");
      return;
    }
    await this.run("STOP");
  }

  async #run(line: string): Promise<boolean> {
    const command = parseCommand(line);
    switch (command.kind) {
      case "empty":
        return true;
      case "help":
        for (const l of COMMAND_HELP.split("\n")) this.#io.print(l);
        return true;
      case "quit":
        return false;
      case "list":
        return await this.#list();
      case "who":
        return await this.#who();
      case "verify":
        return await this.#verify(command.peer, command.confirm);
      case "accept":
        return this.#accept(command.peer);
      case "message":
        return await this.#message(command.to, command.text);
      case "room-create":
      case "room-change":
      case "rooms":
      case "room-verify":
      case "room-check":
      case "room-message":
      case "room-control":
        return await roomCommand(command, {
          io: this.#io,
          rooms: this.#session.rooms,
          style: this.#style,
          me: this.#session.name ?? "",
          error: (message) => this.#error(message),
          receipts: this.#receipts,
        });
      case "watch":
      case "room-stop":
        return await this.#watch(command);
      default:
        return await this.#playback(command);
    }
  }

  /** WATCH and ROOM STOP (`client/watch/watching.ts`). */
  async #watch(
    command: Extract<ReturnType<typeof parseCommand>, { kind: "watch" | "room-stop" }>,
  ): Promise<boolean> {
    const watching = this.#watching;
    if (watching === undefined) {
      throw new PeerstreamError("UNAVAILABLE", "Cannot watch together: this client has no rooms");
    }
    if (command.kind === "room-stop") await watching.roomStop(command.room);
    else {
      await watching.watch(command.room, {
        ...(command.title === undefined ? {} : { title: command.title }),
        ...(command.quality === undefined ? {} : { quality: command.quality }),
      });
    }
    return true;
  }

  /** PAUSE, RESUME, SEEK and STOP go to the watched room when there is one. */
  async #roomPlayback(command: ReturnType<typeof parseCommand>): Promise<boolean> {
    const watching = this.#watching;
    if (watching?.room === undefined) return false;
    switch (command.kind) {
      case "pause":
      case "resume":
        return await watching.control(command.kind);
      case "seek":
        return await watching.seek(command.target);
      case "stop":
        return await watching.stopWatching();
      case "play":
        // A title of one's own ends watching the room.
        await watching.stopWatching();
        return false;
      default:
        return false;
    }
  }

  async #playback(command: ReturnType<typeof parseCommand>): Promise<boolean> {
    if (await this.#roomPlayback(command)) return true;
    switch (command.kind) {
      case "play":
        this.#checkPlayer();
        try {
          await this.#viewer.play(command.title, command.quality);
        } catch (error) {
          if (!(error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY")) throw error;
          this.#waiting.add(command.title);
          this.#error(`${error.message}; you will be told when it is ready`);
        }
        return true;
      case "stop":
        await this.#viewer.stop();
        return true;
      case "pause":
        this.#io.print(
          this.#viewer.pause()
            ? "* paused; RESUME to continue"
            : "Already paused; RESUME to continue",
        );
        return true;
      case "resume":
        this.#io.print(this.#viewer.resume() ? "* resumed" : "Not paused; PAUSE first");
        return true;
      case "seek":
        await this.#viewer.seek(command.target);
        return true;
      case "quality": {
        const when = await this.#viewer.setQuality(command.quality);
        this.#watching?.noteQuality(command.quality);
        this.#io.print(
          when === "next"
            ? "* quality auto from the next segment"
            : `* switching to ${command.quality}p`,
        );
        return true;
      }
      default:
        return true;
    }
  }

  /**
   * The server pushed the list because a title PLAY found being prepared is ready (or failed):
   * says so for each title waited on, and keeps the list for Tab.
   *
   * @param videos The list as it is now.
   */
  videosPushed(videos: readonly VideoSummary[]): void {
    this.#titles = videos.map((v) => ({ title: v.title, heights: v.heights }));
    for (const asked of [...this.#waiting]) {
      const video = videos.find((v) => v.title === asked) ??
        videos.find((v) => v.title === normalizePlayArgument(asked)?.title);
      if (video?.state === "preparing") continue;
      this.#waiting.delete(asked);
      const name = safe(video?.title ?? asked);
      if (video === undefined) {
        this.#error(`Cannot play "${name}": the server has no such title; run LIST to see titles`);
      } else if (video.state === "ready") {
        this.#io.print(`* "${name}" is ready; PLAY ${safe(quoteWord(video.title))}`);
      } else this.#error(`Cannot play "${name}": its preparation failed; see the server log`);
    }
  }

  async #list(): Promise<boolean> {
    const videos = await this.#session.list();
    this.#titles = videos.map((v) => ({ title: v.title, heights: v.heights }));
    for (const line of renderVideos(videos)) this.#io.print(line);
    return true;
  }

  /** WHO: yourself first (your fingerprint, for peers to compare), then the peers online. */
  async #who(): Promise<boolean> {
    const me = this.#session.name ?? "";
    this.#io.print(renderWhoLine(me, await this.#session.fingerprint(), "you"));
    const names = this.#session.peers.names();
    if (names.length === 0) this.#io.print("Nobody else is online");
    for (const peer of names) {
      const keys = await this.#session.peerKeys(peer);
      this.#io.print(renderWhoLine(peer, keys.fingerprint, keys.trust));
    }
    return true;
  }

  async #verify(peer: string, confirm: boolean): Promise<boolean> {
    const name = escapeName(peer);
    if (peer === this.#session.name) {
      this.#io.print(`${name} (you): ${formatFingerprint(await this.#session.fingerprint())}`);
      this.#io.print(`Read it to your peer out of band; they run: VERIFY ${name} yes`);
      return true;
    }
    const keys = await this.#session.peerKeys(peer);
    this.#io.print(`${name}: ${formatFingerprint(keys.fingerprint)}`);
    if (!confirm) {
      this.#io.print(`Compare with ${name} out of band, then: VERIFY ${name} yes`);
    } else if (this.#session.verifyKey(peer, keys.fingerprint)) {
      this.#io.print(`* marked ${name}'s key as verified`);
    } else {
      this.#io.print(`${name}'s key changed; ACCEPT ${name} first, then VERIFY again`);
    }
    return true;
  }

  #accept(peer: string): boolean {
    const name = escapeName(peer);
    if (this.#session.acceptKey(peer)) {
      this.#io.print(`* accepted ${name}'s new key`);
    } else if (!this.#session.knows(peer) && !this.#session.peers.has(peer)) {
      this.#error(`Cannot accept "${name}": no such peer is known; WHO lists the peers online`);
    } else {
      this.#io.print(`${name}'s key has not changed; nothing to accept`);
    }
    return true;
  }

  /** MESSAGE, asking for the recipient (online) and then the text when they are missing. */
  async #message(to?: string, text?: string): Promise<boolean> {
    if (to === undefined) {
      const names = this.#session.peers.names();
      if (names.length === 0) {
        this.#io.print("Nobody else is online");
        return true;
      }
      this.#io.print(`Online: ${names.map(showName).join(", ")}`);
      const answer = await this.#io.read("To: ");
      if (answer === null) return false;
      to = answer.trim();
      if (to === "") return true;
    }
    if (text === undefined) {
      // Check before asking for the text, so that nobody types a message that cannot go: a
      // name the server knows may be queued for (protocol version 3), an unknown one not.
      if (!this.#session.peers.has(to)) {
        try {
          await this.#session.peerKeys(to);
        } catch (error) {
          if (!isConnectionLost(error)) this.#error((error as Error).message);
          return true;
        }
        this.#io.print(
          this.#style.dim(`* ${showName(to)} is offline; the server keeps the message if it can`),
        );
      }
      const answer = await this.#io.read("Message: ");
      if (answer === null) return false;
      text = answer;
    }
    if (text.trim() === "") {
      this.#error(`Cannot send to "${safe(to)}": the message is empty; type some text`);
      return true;
    }
    const recipient = to;
    this.#session.sendText(recipient, text).then(
      (sent) =>
        this.#io.print(
          this.#style.dim(renderQueueState(sent.queued ? "queued" : "delivered", recipient)),
        ),
      (error) => {
        if (!isConnectionLost(error)) this.#error((error as Error).message);
      },
    );
    return true;
  }

  #error(message: string) {
    this.#io.error(renderError(message, this.#style));
  }
}
