/**
 * What the terminal client prints, as plain lines. Pure. Every string that came from the network
 * (names, message text, titles, error texts, the server's shutdown notice) goes through
 * `protocol/text.ts` here, so that it cannot move the cursor, recolour the screen or pass for a
 * line the client did not print: every line of a message starts with its sender, and its later
 * lines are marked as its continuation.
 * @module
 */

import { formatFingerprint } from "../protocol/e2e.ts";
import type {
  LeaveReason,
  PeerReachability,
  StreamStartMessage,
  VideoSummary,
} from "../protocol/messages.ts";
import { displayWidth, escapeControls, padColumns, speakerLines } from "../protocol/text.ts";
import { showName } from "../protocol/shown_name.ts";
import type { KeyTrust } from "./known_peers.ts";
import type { PlayerStats } from "./player.ts";
import type { IncomingMessage, IncomingRoomMessage } from "./session.ts";
import type { ViewerEvent, ViewerStatus } from "./viewer.ts";

/** Text styles; each is the identity when colour is off. */
export type Style = Record<
  "bold" | "dim" | "red" | "green" | "yellow" | "cyan",
  (text: string) => string
>;

/** No colour. */
export const PLAIN: Style = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};

/** Untrusted text on one line. */
export function safe(text: string): string {
  return escapeControls(text);
}

/** `75` → `1:15`; `3725` → `1:02:05`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const mmss = `${Math.floor(s / 60) % 60}:${String(s % 60).padStart(2, "0")}`;
  if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  return `${Math.floor(s / 3600)}:${mmss.padStart(5, "0")}`;
}

/** `2_400_000` → `2.4 Mbit/s`; `346_000` → `346 kbit/s`. */
export function formatRate(bitsPerSecond: number): string {
  return bitsPerSecond >= 1e6
    ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`
    : `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
}

/** Options for {@linkcode renderMessage}. */
export interface RenderMessageOptions {
  /** The terminal's width: longer lines are cut, each piece marked as a continuation. */
  width?: number;
}

/**
 * A verified message: every line starts with the sender and its mark (`✓` verified,
 * `!UNVERIFIED KEY` changed, `!LOOKS LIKE alice` for a new peer whose name looks like a known
 * one; the name itself shown by `showName`, so `⚠` follows a name today's rules refuse); each later line of the text, or piece of a line cut at the width, is marked as a
 * continuation (`<bob> ┆ `), so that no line of it can pass for a message from someone else.
 *
 * @param message The message.
 * @param style Colours.
 * @param options The terminal's width.
 * @returns The lines.
 */
export function renderMessage(
  message: IncomingMessage,
  style: Style = PLAIN,
  options: RenderMessageOptions = {},
): string[] {
  const mark = message.trust === "verified"
    ? " ✓"
    : message.trust === "changed"
    ? " !UNVERIFIED KEY"
    : message.lookalike !== undefined
    ? ` !LOOKS LIKE ${showName(message.lookalike)}`
    : "";
  const label = `<${showName(message.from)}${mark}>`;
  const lines = speakerLines(label, message.text, options).map((line) =>
    `${style.bold(label)}${line.slice(label.length)}`
  );
  return message.queued ? [style.dim(renderSentEarlier(message)), ...lines] : lines;
}

/**
 * A room message: `#club <alice> text`, wrapped like a 1:1 message, marked as those are.
 *
 * @param message The verified room message.
 * @param style Colours.
 * @param options The terminal's width.
 * @returns The lines to print.
 */
export function renderRoomMessage(
  message: IncomingRoomMessage,
  style: Style = PLAIN,
  options: RenderMessageOptions = {},
): string[] {
  const mark = message.trust === "verified" ? " ✓" : "";
  const label = `#${escapeControls(message.roomName)} <${showName(message.from)}${mark}>`;
  const lines = speakerLines(label, message.text, options).map((line) =>
    `${style.bold(label)}${line.slice(label.length)}`
  );
  return message.queued ? [style.dim(renderSentEarlier(message)), ...lines] : lines;
}

/**
 * `* sent earlier by alice, at 2026-12-07 12:40 UTC (it waited while you were offline)`: the line
 * before a message that was queued. The time is the sender's, from the sealed envelope.
 *
 * @param message The message (queued).
 * @returns The line.
 */
export function renderSentEarlier(message: Pick<IncomingMessage, "from" | "sentAt">): string {
  const when = new Date(message.sentAt);
  const shown = Number.isNaN(when.getTime())
    ? "an unknown time"
    : `${when.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `* sent earlier by ${
    showName(message.from)
  }, at ${shown} (it waited while you were offline)`;
}

/**
 * `* queued for bob (offline)` and, later, `* delivered to bob`.
 *
 * @param kind What happened: kept for them, confirmed by them, or expired unread.
 * @param to The recipient.
 * @returns The line.
 */
export function renderQueueState(kind: "queued" | "delivered" | "expired", to: string): string {
  const name = showName(to);
  return kind === "queued"
    ? `* queued for ${name} (offline)`
    : kind === "delivered"
    ? `* delivered to ${name}`
    : `* expired unread: a message queued for ${name} waited longer than the server keeps one`;
}

/** `* bob joined`. */
export function renderJoined(name: string, style: Style = PLAIN): string {
  return style.green(`* ${showName(name)} joined`);
}

/** `* bob left (timeout)`. */
export function renderLeft(name: string, reason: LeaveReason, style: Style = PLAIN): string {
  return style.yellow(`* ${showName(name)} left${reason === "quit" ? "" : ` (${reason})`}`);
}

/**
 * The one-line notice when peers on another server of a cluster become unreachable (they have not
 * left) or reachable again: `* bob, carol unreachable: their server lost contact; messages to them
 * fail until it is back`. At most five names, then a count.
 */
export function renderPeerState(
  names: readonly string[],
  state: PeerReachability,
  style: Style = PLAIN,
): string {
  const shown = names.slice(0, 5).map(showName).join(", ");
  const who = names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
  return state === "unreachable"
    ? style.yellow(
      `* ${who} unreachable: their server lost contact; messages to them fail until it is back`,
    )
    : style.green(`* ${who} reachable again`);
}

/** The warning when a known peer comes online with another key. */
export function renderKeyChanged(name: string, style: Style = PLAIN): string {
  const who = showName(name);
  return style.red(
    `warning: ${who}'s key changed since you last talked; messages to ${who} are refused until you run VERIFY ${who} and ACCEPT ${who}`,
  );
}

/**
 * `warning: ...` on one line: the text often carries a server's or a peer's words, so its line
 * breaks show escaped (`\n`) and no part of it can pass for a line of its own.
 */
export function renderWarning(text: string, style: Style = PLAIN): string {
  return style.red(`warning: ${safe(text)}`);
}

/** `error: ...` on one line, line breaks escaped like {@linkcode renderWarning}'s. */
export function renderError(text: string, style: Style = PLAIN): string {
  return style.red(`error: ${safe(text)}`);
}

/** The server's shutdown notice. */
export function renderShutdown(message: string, style: Style = PLAIN): string {
  return style.yellow(`* server: ${safe(message)}`);
}

/** LIST: one line per title. */
export function renderVideos(videos: readonly VideoSummary[]): string[] {
  if (videos.length === 0) return ["No videos on this server"];
  const width = Math.max(...videos.map((v) => displayWidth(safe(v.title))));
  return videos.map((v) => {
    const state = v.state === "ready"
      ? ""
      : v.state === "preparing"
      ? `  preparing ${Math.round(v.progress * 100)}%`
      : "  failed";
    return `${padColumns(safe(v.title), width)}  ${v.heights.map((h) => `${h}p`).join(" ")}  ${
      formatDuration(v.duration)
    }  ${v.hasAudio ? "audio" : "no audio"}${state}`;
  });
}

/** One line of WHO. */
export function renderWhoLine(
  name: string,
  fingerprint: string,
  trust: KeyTrust | "you",
): string {
  return `${padColumns(showName(name), 16)} ${formatFingerprint(fingerprint, 4)}  ${trust}`;
}

/** `* playing "testcard" (0:12, 240p/480p/720p, auto)`. */
export function renderPlaying(info: StreamStartMessage): string {
  const from = info.position > 0 ? ` from ${formatDuration(info.position)}` : "";
  return `* playing "${safe(info.title)}"${from} (${formatDuration(info.duration)}, ${
    info.renditions.map((r) => `${r.height}p`).join("/")
  }, ${info.quality === "auto" ? "auto" : `${info.quality}p`})`;
}

function _stats(stats: PlayerStats | undefined): string[] {
  if (stats === undefined) return [];
  const unit = stats.container === "mpegts" ? "MPEG-TS packets" : "JPEG images";
  return [`* received ${stats.bytes} bytes: ${stats.units} ${unit}, ${stats.errors} sync errors`];
}

/**
 * A viewer event as lines for stdout (`out`) and stderr (`err`).
 *
 * @param event What happened.
 * @param style Colours.
 * @returns The lines.
 */
export function renderViewerEvent(
  event: ViewerEvent,
  style: Style = PLAIN,
): { out: string[]; err: string[] } {
  switch (event.kind) {
    case "playing":
      return { out: [renderPlaying(event.info)], err: [] };
    case "rendition":
      return {
        out: [style.dim(`* ${safe(event.title)}: ${event.height}p, ${formatRate(event.bitrate)}`)],
        err: [],
      };
    case "moved":
      return {
        out: [
          `* ${safe(event.title)} from ${formatDuration(event.position)}${
            event.paused ? " (paused; RESUME to continue)" : ""
          }`,
        ],
        err: [],
      };
    case "finished":
      return { out: [..._stats(event.stats), `* finished "${safe(event.title)}"`], err: [] };
    case "stopped":
      return { out: [..._stats(event.stats), `* stopped "${safe(event.title)}"`], err: [] };
    case "player-closed":
      return {
        out: [
          event.why === undefined
            ? "* player closed; stopping"
            : `* player closed (${safe(event.why)}); stopping`,
        ],
        err: [],
      };
    case "failed":
      return { out: _stats(event.stats), err: [renderError(event.message, style)] };
    case "held":
      return {
        out: [
          style.dim(
            `* the player is not taking "${
              safe(event.title)
            }" (paused in its window?); holding the stream until it does`,
          ),
        ],
        err: [],
      };
    case "released":
      return {
        out: [style.dim(`* the player takes "${safe(event.title)}" again; continuing`)],
        err: [],
      };
  }
}

/**
 * The prompt: what is on screen, where, at which resolution and rate; `> ` when nothing plays.
 *
 * @param status From the viewer's tick.
 * @returns The prompt.
 */
export function renderPrompt(status: ViewerStatus | null): string {
  if (status === null) return "> ";
  const where = `${formatDuration(status.position)}/${formatDuration(status.duration)}`;
  const what = status.height > 0 ? ` ${status.height}p ${formatRate(status.bitrate)}` : "";
  const state = status.paused ? " paused" : status.waiting ? " waiting for the player" : "";
  return `[${safe(status.title)} ${where}${what}${state}] > `;
}
