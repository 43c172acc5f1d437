/**
 * The client's command language: one typed line to a {@linkcode Command}. Pure.
 * @module
 */

import type { Quality } from "../protocol/messages.ts";
import { GRANDFATHERED_HINT, GRANDFATHERED_MARK } from "../protocol/shown_name.ts";

/** A parsed command line. */
export type Command =
  | { kind: "list" }
  | { kind: "play"; title: string; quality: Quality }
  | { kind: "stop" }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "seek"; target: SeekTarget }
  | { kind: "quality"; quality: Quality }
  | { kind: "message"; to?: string; text?: string }
  | { kind: "who" }
  | { kind: "verify"; peer: string; confirm: boolean }
  | { kind: "accept"; peer: string }
  | { kind: "room-create"; room: string }
  | { kind: "room-change"; op: RoomCommandOp; room: string; peer?: string }
  | { kind: "rooms" }
  | { kind: "room-verify"; room: string }
  | { kind: "room-check"; room: string }
  | { kind: "room-message"; room: string; text?: string }
  | { kind: "watch"; room: string; title?: string; quality?: Quality }
  | { kind: "room-stop"; room: string }
  | { kind: "room-control"; room: string; control: "all" | "host" }
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "empty" };

/** A room change typed as a command: whom it takes, if anyone. */
export type RoomCommandOp = "invite" | "accept" | "decline" | "leave" | "remove" | "handover";

/** Where SEEK goes: a time from the start of the title, or seconds from the current position. */
export type SeekTarget = { absolute: number } | { relative: number };

/** Command words, for help and tab completion. */
export const COMMAND_WORDS = [
  "LIST",
  "PLAY",
  "STOP",
  "PAUSE",
  "RESUME",
  "SEEK",
  "QUALITY",
  "WATCH",
  "MESSAGE",
  "WHO",
  "KEYS",
  "VERIFY",
  "ACCEPT",
  "ROOM",
  "ROOMS",
  "INVITE",
  "DECLINE",
  "LEAVE",
  "REMOVE",
  "HANDOVER",
  "HELP",
  "QUIT",
] as const;

/** One line per command, for HELP. */
export const COMMAND_HELP = `Commands (case does not matter):
  LIST                        Videos on the server
  PLAY <title> [720p|auto]    Play a title (auto adapts); quote one with spaces: "my film"
  STOP                        Stop playing (Ctrl-C on an empty line too)
  PAUSE / RESUME              Freeze the picture and hold the stream; continue
  SEEK <1:30|+10|-10>         Jump to a time, or seconds forward or back
  QUALITY <720p|auto>         Change quality while playing (720p: at once; auto adapts)
  MESSAGE [<peer> [<text>]]   Send an end-to-end encrypted message
  WHO                         You and the peers online, with key fingerprints (also KEYS)
  VERIFY <peer> [yes]         Show a peer's full fingerprint (or yours); "yes" marks it verified
  ACCEPT <peer>               Trust a peer's changed key

Rooms (end-to-end group chat; a room is typed as #name):
  ROOM CREATE <name>          Create a room; you own it
  ROOMS                       Your rooms and invitations, with members and fingerprint
  VERIFY #room                The room's full fingerprint, to compare with a member
  ROOM CHECK #room            Fetch a read-only room's history again; usable if it extends yours
  INVITE #room <peer>         Invite a peer (they ACCEPT or DECLINE)
  ACCEPT #room / DECLINE #room  Answer an invitation
  MESSAGE #room <text>        Send to every member (sealed once, to the members you checked)
  LEAVE #room                 Leave (the owner hands over first)
  REMOVE #room <peer>         Remove a member (owner only)
  HANDOVER #room <peer>       Make a member the owner (owner only)

Watching together (a title plays for the whole room; each member in their own quality):
  WATCH #room <title> [720p|auto]  Start a title for everyone in the room and watch it
  WATCH #room                 Join what the room plays, at its position
  PAUSE / RESUME / SEEK       While watching: for the whole room (who did it is shown)
  QUALITY <720p|auto>         Yours alone
  STOP                        Stop watching yourself; the room plays on
  ROOM STOP #room             Stop the title for everyone
  ROOM CONTROL #room host|all  Who controls playback: only you, the host, or every member

  HELP                        This help
  QUIT                        Leave (Ctrl-D too)

Marks after a name:
  ✓                           You verified the peer's key (VERIFY)
  !UNVERIFIED KEY             The peer's key changed since you last talked
  !LOOKS LIKE <peer>          A new peer whose name looks like one you know
  ${GRANDFATHERED_MARK}                           ${GRANDFATHERED_HINT}
Invisible characters in names and messages show as escapes, e.g. \\u200b.`;

/**
 * Parses a quality: `720p`, `720` or `auto`.
 *
 * @param text The word.
 * @returns The quality.
 * @throws {SyntaxError} For anything else.
 */
export function parseQuality(text: string): Quality {
  const lower = text.toLowerCase();
  if (lower === "auto") return "auto";
  // A height of 0 ("00p") means nothing; refuse it like any other non-height.
  const match = /^([1-9]\d{1,3})p?$/.exec(lower);
  if (match === null) {
    throw new SyntaxError(`Invalid quality "${text}": use a height such as 480p, or auto`);
  }
  return Number(match[1]);
}

/**
 * Parses a SEEK argument: `1:30` or `1:02:03` (a time), `90` (seconds), `+10` or `-10` (seconds
 * from the current position; `+1:00` works too).
 *
 * @param text The word.
 * @returns Where to go.
 * @throws {SyntaxError} For anything else.
 */
export function parseSeekTarget(text: string): SeekTarget {
  // Hours or minutes, then ":MM" or ":MM:SS" parts of two digits under 60, then a fraction.
  const match = /^([+-]?)(\d{1,5})((?::[0-5]\d){0,2})(\.\d{1,3})?$/.exec(text);
  if (match === null) {
    throw new SyntaxError(`Invalid time "${text}": use 1:30, 90, +10 or -10`);
  }
  let seconds = Number(match[2]);
  for (const part of match[3].split(":").slice(1)) seconds = seconds * 60 + Number(part);
  seconds += Number(match[4] ?? 0);
  if (match[1] === "") return { absolute: seconds };
  return { relative: match[1] === "-" ? -seconds : seconds };
}

/** Words of a line as the parser reads them, and how the last one was typed. */
interface _Scan {
  /** The words, unquoted. */
  words: string[];
  /** The last word as typed (with its quotes); empty after trailing blanks. */
  rawLast: string;
  /** The quote left open at the end, if any. */
  open: "'" | '"' | null;
  /** A backslash ends the line. */
  escape: boolean;
}

/**
 * Reads words the way a shell does: blanks separate words; `"..."` keeps blanks, and a backslash
 * in it escapes `"` or `\`; `'...'` keeps everything as typed; a backslash outside quotes keeps
 * the next character (`my\ film`). Quotes may join parts (`"my "film`).
 */
function _scan(text: string): _Scan {
  const words: string[] = [];
  let word = "";
  let started = false;
  let rawStart = 0;
  let open: "'" | '"' | null = null;
  let escape = false;
  const chars = [...text];
  let offset = 0;
  for (const ch of chars) {
    const at = offset;
    offset += ch.length;
    if (escape) {
      // In double quotes only \" and \\ are escapes; elsewhere the backslash stays.
      if (open === '"' && ch !== '"' && ch !== "\\") word += "\\";
      word += ch;
      escape = false;
    } else if (open === "'") {
      if (ch === "'") open = null;
      else word += ch;
    } else if (ch === "\\") {
      if (!started) rawStart = at;
      started = true;
      escape = true;
    } else if (open === '"') {
      if (ch === '"') open = null;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      if (!started) rawStart = at;
      started = true;
      open = ch;
    } else if (/\s/.test(ch)) {
      if (started) words.push(word);
      word = "";
      started = false;
      rawStart = offset;
    } else {
      if (!started) rawStart = at;
      started = true;
      word += ch;
    }
  }
  if (started) words.push(word);
  return { words, rawLast: started ? text.slice(rawStart) : "", open, escape };
}

/**
 * Splits the arguments of a command line into words, honouring quotes and backslashes as
 * {@linkcode quoteWord} writes them: `"my film"`, `'l’été'`, `my\ film`.
 *
 * @param text The arguments.
 * @returns The words, unquoted.
 * @throws {SyntaxError} On a quote left open or a backslash at the end.
 */
export function splitWords(text: string): string[] {
  const scan = _scan(text);
  if (scan.open !== null) {
    throw new SyntaxError(
      `Invalid line: the quote ${scan.open} is not closed; close it, e.g. PLAY "my film"`,
    );
  }
  if (scan.escape) {
    throw new SyntaxError("Invalid line: it ends with a backslash; remove it or quote the word");
  }
  return scan.words;
}

/**
 * Writes a word so that {@linkcode splitWords} reads it back unchanged: as it is when it has no
 * blanks, quotes or backslashes, else in double quotes with `"` and `\` escaped.
 *
 * @param word A title or a name.
 * @returns The word as typed.
 * @example
 * ```ts
 * quoteWord("my film"); // '"my film"'
 * ```
 */
export function quoteWord(word: string): string {
  if (word !== "" && !/[\s"'\\]/.test(word)) return word;
  return `"${word.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** PLAY's quality word; one that is not a quality is likely the rest of an unquoted title. */
function _playQuality(args: readonly string[]): Quality {
  if (args[1] === undefined) return "auto";
  try {
    return parseQuality(args[1]);
  } catch (error) {
    throw new SyntaxError(
      `${(error as Error).message}; quote a title with spaces: PLAY ${quoteWord(args.join(" "))}`,
    );
  }
}

/**
 * Parses one typed line.
 *
 * @param line The line.
 * @returns The command.
 * @throws {SyntaxError} For an unknown command or missing arguments, with a usage hint.
 */
export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  const word = trimmed.split(/\s/, 1)[0];
  const upper = word.toUpperCase();
  // MESSAGE keeps its text exactly as typed (an apostrophe is not a quote there).
  const args = upper === "MESSAGE" || upper === "MSG"
    ? trimmed.slice(word.length).trim().split(/\s+/).filter((w) => w !== "")
    : splitWords(trimmed.slice(word.length));
  switch (upper) {
    case "LIST":
    case "LS":
      return { kind: "list" };
    case "PLAY": {
      if (args.length === 0) throw new SyntaxError("Usage: PLAY <title> [720p|auto]; run LIST");
      if (args.length > 2) {
        throw new SyntaxError(
          'Invalid PLAY: too many words; quote a title with spaces: PLAY "my film" [720p|auto]',
        );
      }
      return { kind: "play", title: args[0], quality: _playQuality(args) };
    }
    case "STOP":
      return { kind: "stop" };
    case "PAUSE":
      return { kind: "pause" };
    case "RESUME":
      return { kind: "resume" };
    case "SEEK":
      if (args.length !== 1) throw new SyntaxError("Usage: SEEK <1:30|+10|-10>");
      return { kind: "seek", target: parseSeekTarget(args[0]) };
    case "QUALITY":
      if (args.length !== 1) throw new SyntaxError("Usage: QUALITY <720p|auto>");
      return { kind: "quality", quality: parseQuality(args[0]) };
    case "MESSAGE":
    case "MSG": {
      if (args.length === 0) return { kind: "message" };
      const to = args[0];
      if (to.startsWith("#")) {
        const text = trimmed.slice(trimmed.indexOf(to, word.length) + to.length).replace(
          /^\s+/,
          "",
        );
        return {
          kind: "room-message",
          room: _room(to, "MESSAGE #room <text>"),
          ...(text === "" ? {} : { text }),
        };
      }
      // Keep the text exactly as typed after the peer name and the whitespace that follows it.
      const text = trimmed.slice(trimmed.indexOf(to, word.length) + to.length).replace(/^\s+/, "");
      return text === "" ? { kind: "message", to } : { kind: "message", to, text };
    }
    case "WHO":
    case "KEYS":
      return { kind: "who" };
    case "VERIFY":
      if (args.length === 1 && args[0].startsWith("#")) {
        return { kind: "room-verify", room: _room(args[0], "VERIFY #room") };
      }
      if (args.length < 1 || args.length > 2 || (args[1] && args[1].toLowerCase() !== "yes")) {
        throw new SyntaxError("Usage: VERIFY <peer> [yes]");
      }
      return { kind: "verify", peer: args[0], confirm: args[1] !== undefined };
    case "ACCEPT":
      if (args.length !== 1) throw new SyntaxError("Usage: ACCEPT <peer>, or ACCEPT #room");
      if (args[0].startsWith("#")) return _roomCommand("accept", args);
      return { kind: "accept", peer: args[0] };
    case "WATCH":
      return _watch(args);
    case "ROOM":
      if (args.length === 2 && args[0].toUpperCase() === "CHECK") {
        return { kind: "room-check", room: _room(args[1], "ROOM CHECK #room") };
      }
      if (args.length === 2 && args[0].toUpperCase() === "STOP") {
        return { kind: "room-stop", room: _room(args[1], "ROOM STOP #room") };
      }
      if (args[0]?.toUpperCase() === "CONTROL") return _roomControl(args);
      if (args.length !== 2 || args[0].toUpperCase() !== "CREATE") {
        throw new SyntaxError(
          "Usage: ROOM CREATE <name>, ROOM CHECK #room, ROOM STOP #room or ROOM CONTROL #room host|all",
        );
      }
      return { kind: "room-create", room: args[1].startsWith("#") ? args[1].slice(1) : args[1] };
    case "ROOMS":
      return { kind: "rooms" };
    case "INVITE":
    case "DECLINE":
    case "LEAVE":
    case "REMOVE":
    case "HANDOVER":
      return _roomCommand(upper.toLowerCase() as RoomCommandOp, args);
    case "HELP":
    case "?":
      return { kind: "help" };
    case "QUIT":
    case "EXIT":
      return { kind: "quit" };
    default:
      throw new SyntaxError(`Unknown command "${word}"; type HELP for the list`);
  }
}

/** `WATCH #room [<title> [quality]]`. */
function _watch(args: readonly string[]): Command {
  const usage = "WATCH #room [<title> [720p|auto]]";
  if (args.length === 0 || args.length > 3) {
    throw new SyntaxError(
      `Usage: ${usage}; quote a title with spaces: WATCH #club "my film"`,
    );
  }
  const room = _room(args[0], usage);
  if (args.length === 1) return { kind: "watch", room };
  return { kind: "watch", room, title: args[1], quality: _playQuality(args.slice(1)) };
}

/** `ROOM CONTROL #room host|all`. */
function _roomControl(args: readonly string[]): Command {
  const usage = "ROOM CONTROL #room host|all";
  const control = args[2]?.toLowerCase();
  if (args.length !== 3 || (control !== "host" && control !== "all")) {
    throw new SyntaxError(`Usage: ${usage}`);
  }
  return { kind: "room-control", room: _room(args[1], usage), control };
}

/** The usage of each room command, by op. */
const ROOM_USAGE: Record<RoomCommandOp, string> = {
  invite: "INVITE #room <peer>",
  accept: "ACCEPT #room",
  decline: "DECLINE #room",
  leave: "LEAVE #room",
  remove: "REMOVE #room <peer>",
  handover: "HANDOVER #room <peer>",
};

/** A room command's arguments: `#room`, then a peer for those that take one. */
function _roomCommand(op: RoomCommandOp, args: readonly string[]): Command {
  const usage = ROOM_USAGE[op];
  const wantsPeer = usage.endsWith("<peer>");
  if (args.length !== (wantsPeer ? 2 : 1)) throw new SyntaxError(`Usage: ${usage}`);
  const room = _room(args[0], usage);
  return wantsPeer
    ? { kind: "room-change", op, room, peer: args[1] }
    : { kind: "room-change", op, room };
}

/** `#name` to `name`. */
function _room(word: string, usage: string): string {
  if (!word.startsWith("#") || word.length < 2) {
    throw new SyntaxError(`Invalid room "${word}": type a room as #name; usage: ${usage}`);
  }
  return word.slice(1);
}

/** A title as completion sees it: its name and the heights it has. */
export interface TitleChoice {
  /** The title. */
  title: string;
  /** Its renditions' heights. */
  heights: readonly number[];
}

/** What completion may offer. */
export interface CompletionSources {
  /** Peers online. */
  peers: readonly string[];
  /** Titles from the last LIST. */
  titles: readonly TitleChoice[];
  /** Heights of what plays now, for QUALITY. @default {[]} */
  playing?: readonly number[];
  /** Rooms this client is in or invited to, without `#`. @default {[]} */
  rooms?: readonly string[];
}

/** Commands whose first argument is a room. */
const ROOM_FIRST = ["INVITE", "DECLINE", "LEAVE", "REMOVE", "HANDOVER", "WATCH"];

function _qualities(heights: readonly number[]): string[] {
  return ["auto", ...[...heights].sort((a, b) => a - b).map((h) => `${h}p`)];
}

/**
 * Completes a partial line: command words first, then peer names, titles, or the resolutions the
 * title (or what plays) has.
 *
 * @param line The line so far.
 * @param sources Peer names, titles with their heights, and the heights of what plays.
 * @returns The candidates and the part of the line they replace.
 */
export function complete(line: string, sources: CompletionSources): [string[], string] {
  // Leading blanks would make an empty first word and hide the command.
  const trimmed = line.trimStart();
  const first = /^\S*/.exec(trimmed)![0];
  if (first.length === trimmed.length) {
    const hits = COMMAND_WORDS.filter((w) => w.startsWith(first.toUpperCase()));
    return [hits.map((w) => `${w} `), first];
  }
  const command = first.toUpperCase();
  const scan = _scan(trimmed.slice(first.length));
  // The word being typed is the last one, or a new empty one after blanks.
  const args = scan.rawLast === "" ? [...scan.words, ""] : scan.words;
  const last = args[args.length - 1];
  let pool: readonly string[] = [];
  const rooms = (sources.rooms ?? []).map((r) => `#${r}`);
  if (args.length === 1) {
    if (ROOM_FIRST.includes(command)) pool = rooms;
    else if (["MESSAGE", "MSG", "ACCEPT"].includes(command)) pool = [...rooms, ...sources.peers];
    else if (command === "VERIFY") pool = [...sources.peers, ...rooms];
    else if (command === "PLAY") pool = sources.titles.map((t) => t.title);
    else if (command === "QUALITY") pool = _qualities(sources.playing ?? []);
  } else if (args.length === 2 && ["INVITE", "REMOVE", "HANDOVER"].includes(command)) {
    pool = sources.peers;
  } else if (args.length === 2 && command === "WATCH") {
    pool = sources.titles.map((t) => t.title);
  } else if (args.length === 2 && command === "PLAY") {
    const title = sources.titles.find((t) => t.title === args[0]);
    pool = title === undefined ? ["auto"] : _qualities(title.heights);
  }
  // Candidates are written as the parser reads them: a title with spaces comes quoted.
  return [pool.filter((p) => p.startsWith(last)).map((p) => `${quoteWord(p)} `), scan.rawLast];
}
