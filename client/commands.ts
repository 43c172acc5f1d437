/**
 * The client's command language: one typed line to a {@linkcode Command}. Pure.
 * @module
 */

import type { Quality } from "../protocol/messages.ts";
import { GRANDFATHERED_HINT, GRANDFATHERED_MARK } from "../protocol/shown_name.ts";
import { quoteWord, scanWords, splitWords } from "./shell_words.ts";

export { quoteWord, splitWords };

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
  const verb = _ALIASES.get(upper) ?? upper;
  const rest = trimmed.slice(word.length);
  // MESSAGE keeps its text exactly as typed (an apostrophe is not a quote there).
  const args = verb === "MESSAGE"
    ? rest.trim().split(/\s+/).filter((w) => w !== "")
    : splitWords(rest);
  const parse = _VERBS.get(verb);
  if (parse === undefined) {
    throw new SyntaxError(`Unknown command "${word}"; type HELP for the list`);
  }
  return parse(args, rest);
}

/**
 * One verb's parser.
 *
 * @param args The words after the verb (for MESSAGE split at blanks only).
 * @param rest The line after the verb, as typed.
 */
type _VerbParser = (args: readonly string[], rest: string) => Command;

/** Other spellings of verbs (upper case), and the verb each stands for. */
const _ALIASES: ReadonlyMap<string, string> = new Map([
  ["LS", "LIST"],
  ["MSG", "MESSAGE"],
  ["KEYS", "WHO"],
  ["?", "HELP"],
  ["EXIT", "QUIT"],
]);

/** A verb that takes no arguments (any typed after it are ignored). */
function _bare(kind: "list" | "stop" | "pause" | "resume" | "who" | "rooms" | "help" | "quit") {
  return (): Command => ({ kind });
}

/** A room change verb: `#room`, then a peer for those that take one. */
function _change(op: RoomCommandOp): _VerbParser {
  return (args) => _roomCommand(op, args);
}

/** Every verb (upper case, as in {@linkcode COMMAND_WORDS} but KEYS) and its parser. */
const _VERBS: ReadonlyMap<string, _VerbParser> = new Map<string, _VerbParser>([
  ["LIST", _bare("list")],
  ["PLAY", _play],
  ["STOP", _bare("stop")],
  ["PAUSE", _bare("pause")],
  ["RESUME", _bare("resume")],
  ["SEEK", _seek],
  ["QUALITY", _quality],
  ["MESSAGE", _message],
  ["WHO", _bare("who")],
  ["VERIFY", _verify],
  ["ACCEPT", _accept],
  ["WATCH", _watch],
  ["ROOM", _roomVerb],
  ["ROOMS", _bare("rooms")],
  ["INVITE", _change("invite")],
  ["DECLINE", _change("decline")],
  ["LEAVE", _change("leave")],
  ["REMOVE", _change("remove")],
  ["HANDOVER", _change("handover")],
  ["HELP", _bare("help")],
  ["QUIT", _bare("quit")],
]);

/** `PLAY <title> [quality]`. */
function _play(args: readonly string[]): Command {
  if (args.length === 0) throw new SyntaxError("Usage: PLAY <title> [720p|auto]; run LIST");
  if (args.length > 2) {
    throw new SyntaxError(
      'Invalid PLAY: too many words; quote a title with spaces: PLAY "my film" [720p|auto]',
    );
  }
  return { kind: "play", title: args[0], quality: _playQuality(args) };
}

/** `SEEK <1:30|+10|-10>`. */
function _seek(args: readonly string[]): Command {
  if (args.length !== 1) throw new SyntaxError("Usage: SEEK <1:30|+10|-10>");
  return { kind: "seek", target: parseSeekTarget(args[0]) };
}

/** `QUALITY <720p|auto>`. */
function _quality(args: readonly string[]): Command {
  if (args.length !== 1) throw new SyntaxError("Usage: QUALITY <720p|auto>");
  return { kind: "quality", quality: parseQuality(args[0]) };
}

/** `MESSAGE [<peer> [<text>]]` or `MESSAGE #room [<text>]`: the text exactly as typed. */
function _message(args: readonly string[], rest: string): Command {
  if (args.length === 0) return { kind: "message" };
  const to = args[0];
  // The text after the peer name and the whitespace that follows it.
  const text = rest.slice(rest.indexOf(to) + to.length).replace(/^\s+/, "");
  if (to.startsWith("#")) {
    const room = _room(to, "MESSAGE #room <text>");
    return { kind: "room-message", room, ...(text === "" ? {} : { text }) };
  }
  return text === "" ? { kind: "message", to } : { kind: "message", to, text };
}

/** `VERIFY <peer> [yes]` or `VERIFY #room`. */
function _verify(args: readonly string[]): Command {
  if (args.length === 1 && args[0].startsWith("#")) {
    return { kind: "room-verify", room: _room(args[0], "VERIFY #room") };
  }
  if (args.length < 1 || args.length > 2 || (args[1] && args[1].toLowerCase() !== "yes")) {
    throw new SyntaxError("Usage: VERIFY <peer> [yes]");
  }
  return { kind: "verify", peer: args[0], confirm: args[1] !== undefined };
}

/** `ACCEPT <peer>` (a changed key) or `ACCEPT #room` (an invitation). */
function _accept(args: readonly string[]): Command {
  if (args.length !== 1) throw new SyntaxError("Usage: ACCEPT <peer>, or ACCEPT #room");
  if (args[0].startsWith("#")) return _roomCommand("accept", args);
  return { kind: "accept", peer: args[0] };
}

/** `ROOM CREATE <name>`, `ROOM CHECK #room`, `ROOM STOP #room`, `ROOM CONTROL #room host|all`. */
function _roomVerb(args: readonly string[]): Command {
  const sub = args[0]?.toUpperCase();
  if (args.length === 2 && sub === "CHECK") {
    return { kind: "room-check", room: _room(args[1], "ROOM CHECK #room") };
  }
  if (args.length === 2 && sub === "STOP") {
    return { kind: "room-stop", room: _room(args[1], "ROOM STOP #room") };
  }
  if (sub === "CONTROL") return _roomControl(args);
  if (args.length !== 2 || sub !== "CREATE") {
    throw new SyntaxError(
      "Usage: ROOM CREATE <name>, ROOM CHECK #room, ROOM STOP #room or ROOM CONTROL #room host|all",
    );
  }
  return { kind: "room-create", room: args[1].startsWith("#") ? args[1].slice(1) : args[1] };
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
  const scan = scanWords(trimmed.slice(first.length));
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
