/**
 * What the page says, in words for people: every error code and connection state mapped to a
 * sentence that speaks of the page's own controls (Verify, Accept new key, Play, Join, Reconnect
 * now), never of terminal commands. Wire codes and the client's terminal-worded messages go to the
 * console only ({@linkcode consoleDetail}); the page shows these sentences.
 * @module
 */

import { type ErrorCode, isErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import { showName } from "../../protocol/shown_name.ts";

/** What a sentence is about. */
export interface WordsContext {
  /** The peer concerned (a recipient, a sender). */
  peer?: string;
  /** The title concerned. */
  title?: string;
}

/** Each code in page words; `{peer}` and `{title}` are filled in. */
const CODE_WORDS: Record<ErrorCode, string> = {
  BAD_FRAME: "the server sent something this page cannot read; it may be another version",
  FRAME_TOO_LARGE: "it was larger than the server allows",
  BAD_MESSAGE: "the server or the other side sent something malformed",
  VERSION_MISMATCH: "the server runs another version of peerstream; reload the page",
  NOT_REGISTERED: "this page has not joined yet; wait until it says Joined",
  ALREADY_REGISTERED: "this page has joined already",
  NAME_TAKEN:
    "this name is online elsewhere, or belongs to someone else; leave there first, or pick another name",
  NAME_INVALID: "this name cannot be used; pick another one with letters, digits, - or _",
  NAME_CONFUSABLE: "this name looks too much like someone else's; pick another name",
  NAME_LIMIT: "this server takes no new names from here today; use a name you had before",
  KEY_INVALID: "the keys of this browser were refused; use Forget this browser, then join again",
  UNKNOWN_PEER: "{peer} is not here any more",
  PEER_OFFLINE: "{peer} is offline",
  PEER_UNREACHABLE: "{peer} cannot be reached right now; try again in a moment",
  MESSAGE_TOO_LARGE: "the message is too long; send it in shorter parts",
  INBOX_FULL: "{peer} has too many unread messages; try again in a moment",
  QUEUE_FULL: "Too many messages already wait for {peer}; try again when they are online",
  ROOM_NOT_FOUND: "that room does not exist any more",
  NOT_A_MEMBER: "you are not a member of that room",
  NOT_ALLOWED: "only the room's owner, or a member the room allows, can do that",
  ROOM_LIMIT: "the room, or your list of rooms, is full",
  CHAIN_INVALID: "the room's history did not check out, so the change was not used",
  BAD_SIGNATURE: "it was not signed by {peer}'s key, so it was not shown",
  REPLAYED: "it was a copy of a message already shown, so it was not shown again",
  DECRYPT_FAILED: "it could not be decrypted, so it was not shown",
  KEY_CHANGED:
    "the key of {peer} changed; compare fingerprints with Verify, then choose Accept new key",
  VIDEO_NOT_FOUND: "{title} is no longer in the library; choose Refresh",
  VIDEO_NOT_READY: "{title} is still being prepared; it plays once it says ready",
  VIDEO_FAILED: "{title} could not be prepared on the server",
  RENDITION_NOT_FOUND: "that quality is not available; choose another one",
  NOT_PLAYING: "nothing is playing",
  RATE_LIMITED: "too many requests at once; wait a moment and try again",
  SERVER_FULL: "the server is full; this page tries again by itself",
  UNAVAILABLE: "the server cannot do that right now; try again in a moment",
  HANDSHAKE_TIMEOUT: "the server did not answer in time; this page tries again by itself",
  IDLE_TIMEOUT: "the connection was idle too long; this page reconnects by itself",
  SLOW_CONSUMER: "the connection was too slow for the video; choose a lower quality",
  PAUSE_TIMEOUT: "the video was paused too long; choose Play to start again",
  SHUTTING_DOWN: "the server is restarting; this page reconnects by itself",
  INTERNAL: "something went wrong on the server; try again",
};

/**
 * The reason for a code, in page words.
 *
 * @param code An error code (an unknown one gets a general sentence).
 * @param context The peer and title to name.
 * @returns A clause, e.g. `the key of ann changed; compare fingerprints with Verify, …`.
 */
export function reasonWords(code: string, context: WordsContext = {}): string {
  const words = isErrorCode(code) ? CODE_WORDS[code] : "something went wrong; try again";
  return words
    .replaceAll("{peer}", context.peer === undefined ? "the other side" : showName(context.peer))
    .replaceAll("{title}", context.title === undefined ? "the title" : `"${context.title}"`);
}

/**
 * The code of an error, when it has one; the page words it, and the console gets the rest.
 *
 * @param error What a request rejected with.
 * @returns Its code, or `INTERNAL` for anything else (a script or network error).
 */
export function errorCode(error: unknown): ErrorCode {
  return error instanceof PeerstreamError ? error.code : "INTERNAL";
}

/**
 * A failed action, in page words.
 *
 * @param action What the person tried, e.g. `Not delivered`, `Cannot play`.
 * @param error What it failed with.
 * @param context The peer and title to name.
 * @returns For example `Not delivered: ann is offline`.
 */
export function failureWords(action: string, error: unknown, context: WordsContext = {}): string {
  return `${action}: ${reasonWords(errorCode(error), context)}`;
}

/**
 * What goes to the console beside a sentence: the code and the client's own message.
 *
 * @param error What failed.
 * @returns For example `KEY_CHANGED: Cannot send to "ann": …`.
 */
export function consoleDetail(error: unknown): string {
  if (error instanceof PeerstreamError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Warnings of the shared client that are not about one refused message. */
const WARNING_WORDS: Partial<Record<ErrorCode, string>> = {
  NAME_CONFUSABLE:
    "Someone new has a name that looks like a person you know (marked ⚠ in Online); choose Verify before you trust them",
  INBOX_FULL:
    "Messages are arriving faster than this page can open them; some were refused, and their senders were told",
  BAD_MESSAGE:
    "The server sent something unexpected, and this page ignored it; if the page misbehaves, reload it",
  INTERNAL: "The player failed and the title stopped; choose Play to try again",
  CHAIN_INVALID:
    "Something in a room did not check out against its signed history and was not shown; if the room says read-only, compare its fingerprint with a member",
};

/**
 * A warning of the shared client (a message refused, a look-alike name, a full inbox), in page
 * words.
 *
 * @param code The warning's code.
 * @returns For example `A message was not shown: it was not signed by …`.
 */
export function warningWords(code: string): string {
  if (isErrorCode(code) && WARNING_WORDS[code] !== undefined) return WARNING_WORDS[code];
  return `A message was not shown: ${reasonWords(code)}`;
}

/**
 * The notice when a peer's key changed.
 *
 * @param peer The peer.
 * @returns A sentence naming the page's buttons.
 */
export function keyChangedWords(peer: string): string {
  const name = showName(peer);
  return `Careful: the key of ${name} changed since you last talked. Messages to ${name} wait until you trust the new key: choose Verify and compare fingerprints with ${name} (in person or on a call), then choose Accept new key`;
}

/** The one-sentence explanation in the Verify dialog. */
export const VERIFY_EXPLAINED =
  "Verifying proves nobody sits between you: ask {peer} to read out the key shown on their page as theirs, and compare it with the one below; if they match, choose They match.";

/**
 * The Verify dialog's explanation for a peer.
 *
 * @param peer The peer.
 * @returns {@linkcode VERIFY_EXPLAINED} with the name.
 */
export function verifyWords(peer: string): string {
  return VERIFY_EXPLAINED.replaceAll("{peer}", showName(peer));
}

/** What the page says while it is not connected, by state. */
export const CONNECTION_WORDS = {
  connected: "Joined",
  connecting: "Reconnecting…",
  waiting: "Reconnecting…",
  stopped: "Disconnected",
  moved: "Open in another tab",
} as const;

/**
 * Why Send and Play are off while not connected.
 *
 * @param state The connection state.
 * @param waitMs The wait before the next try, when waiting.
 * @returns A sentence for the page.
 */
export function offlineWords(state: keyof typeof CONNECTION_WORDS, waitMs?: number): string {
  if (state === "moved") {
    return "This conversation moved to another tab of this browser; choose Use here to bring it back";
  }
  if (state === "stopped") return "Not connected; choose Reconnect now to try again";
  const next = waitMs === undefined
    ? ""
    : ` (next try in ${Math.max(1, Math.round(waitMs / 1000))} s)`;
  return `Reconnecting… the connection to the server was lost${next}; Send and Play come back once it is restored`;
}
