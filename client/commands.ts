/**
 * The client's command language: one typed line to a {@linkcode Command}. Pure.
 * @module
 */

import type { Quality } from "../protocol/messages.ts";

/** A parsed command line. */
export type Command =
  | { kind: "list" }
  | { kind: "play"; title: string; quality: Quality }
  | { kind: "stop" }
  | { kind: "quality"; quality: Quality }
  | { kind: "message"; to?: string; text?: string }
  | { kind: "who" }
  | { kind: "verify"; peer: string; confirm: boolean }
  | { kind: "accept"; peer: string }
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "empty" };

/** Command words, for help and tab completion. */
export const COMMAND_WORDS = [
  "LIST",
  "PLAY",
  "STOP",
  "QUALITY",
  "MESSAGE",
  "WHO",
  "KEYS",
  "VERIFY",
  "ACCEPT",
  "HELP",
  "QUIT",
] as const;

/** One line per command, for HELP. */
export const COMMAND_HELP = `Commands (case does not matter):
  LIST                        Videos on the server
  PLAY <title> [720p|auto]    Play a title (auto adapts to your connection)
  STOP                        Stop playing
  QUALITY <720p|auto>         Change quality while playing
  MESSAGE [<peer> [<text>]]   Send an end-to-end encrypted message
  WHO                         Peers online, with key fingerprints (also KEYS)
  VERIFY <peer> [yes]         Show a peer's full fingerprint; "yes" marks it verified
  ACCEPT <peer>               Trust a peer's changed key
  HELP                        This help
  QUIT                        Leave`;

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
 * Parses one typed line.
 *
 * @param line The line.
 * @returns The command.
 * @throws {SyntaxError} For an unknown command or missing arguments, with a usage hint.
 */
export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  const [word, ...rest] = trimmed.split(/\s+/);
  const args = rest;
  switch (word.toUpperCase()) {
    case "LIST":
    case "LS":
      return { kind: "list" };
    case "PLAY": {
      if (args.length === 0) throw new SyntaxError("Usage: PLAY <title> [720p|auto]; run LIST");
      if (args.length > 2) {
        throw new SyntaxError("Invalid PLAY: too many words; usage: PLAY <title> [720p|auto]");
      }
      return {
        kind: "play",
        title: args[0],
        quality: args[1] === undefined ? "auto" : parseQuality(args[1]),
      };
    }
    case "STOP":
      return { kind: "stop" };
    case "QUALITY":
      if (args.length !== 1) throw new SyntaxError("Usage: QUALITY <720p|auto>");
      return { kind: "quality", quality: parseQuality(args[0]) };
    case "MESSAGE":
    case "MSG": {
      if (args.length === 0) return { kind: "message" };
      const to = args[0];
      // Keep the text exactly as typed after the peer name and the whitespace that follows it.
      const text = trimmed.slice(trimmed.indexOf(to, word.length) + to.length).replace(/^\s+/, "");
      return text === "" ? { kind: "message", to } : { kind: "message", to, text };
    }
    case "WHO":
    case "KEYS":
      return { kind: "who" };
    case "VERIFY":
      if (args.length < 1 || args.length > 2 || (args[1] && args[1].toLowerCase() !== "yes")) {
        throw new SyntaxError("Usage: VERIFY <peer> [yes]");
      }
      return { kind: "verify", peer: args[0], confirm: args[1] !== undefined };
    case "ACCEPT":
      if (args.length !== 1) throw new SyntaxError("Usage: ACCEPT <peer>");
      return { kind: "accept", peer: args[0] };
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

/**
 * Completes a partial line: command words first, then peer names or titles.
 *
 * @param line The line so far.
 * @param options Peer names and titles to offer.
 * @returns The candidates and the part of the line they replace.
 */
export function complete(
  line: string,
  options: { peers: readonly string[]; titles: readonly string[] },
): [string[], string] {
  // Leading blanks would make an empty first word and hide the command.
  const words = line.trimStart().split(/\s+/);
  const last = words[words.length - 1];
  if (words.length <= 1) {
    const hits = COMMAND_WORDS.filter((w) => w.startsWith(last.toUpperCase()));
    return [hits.map((w) => `${w} `), last];
  }
  const command = words[0].toUpperCase();
  let pool: readonly string[] = [];
  if (words.length === 2) {
    if (["MESSAGE", "MSG", "VERIFY", "ACCEPT"].includes(command)) pool = options.peers;
    else if (command === "PLAY") pool = options.titles;
    else if (command === "QUALITY") pool = ["auto", "240p", "360p", "480p", "720p", "1080p"];
  } else if (words.length === 3 && command === "PLAY") {
    pool = ["auto", "240p", "360p", "480p", "720p", "1080p"];
  }
  return [pool.filter((p) => p.startsWith(last)).map((p) => `${p} `), last];
}
