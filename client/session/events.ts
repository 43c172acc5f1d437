/**
 * What a client session tells its user (the terminal, a page, a test), and the options it opens
 * with.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import type {
  LeaveReason,
  PeerReachability,
  RoomPlaybackMessage,
  SegmentMessage,
  StreamEndMessage,
  VideoSummary,
} from "../../protocol/messages.ts";
import type { ReplayStorage } from "../../protocol/replay.ts";
import type { KnownPeers } from "../known_peers.ts";
import type { SessionClock } from "./clock.ts";
import type { ConnectionEnd } from "./connection.ts";
import type { GreetingContext } from "./greeting.ts";
import type { IncomingMessage } from "./inbox.ts";
import type { ClientLimits } from "./limits.ts";
import type { RoomEntry } from "../../protocol/room_chain.ts";
import type { IncomingRoomMessage, RoomStorage, RoomView } from "./rooms.ts";

/** How the connection ended, for {@linkcode SessionEvents.closed}. */
export type ClosedInfo = ConnectionEnd;

/** Callbacks for what the server tells the client. */
export interface SessionEvents {
  /** A peer joined. */
  joined?(name: string): void;
  /** A peer left. */
  left?(name: string, reason: LeaveReason): void;
  /**
   * Peers online on another server of a cluster became unreachable (that server lost contact with
   * the others; they have not left), or reachable again.
   */
  peerState?(names: string[], state: PeerReachability): void;
  /** A message arrived and was verified. */
  message?(message: IncomingMessage): void;
  /**
   * Something arrived that must not be shown as genuine (bad signature, replay, changed key, a
   * look-alike name), or the server misbehaved. `from` names the sender, as the server gave it,
   * when the warning is about a message (a flood of them is summarised per sender).
   */
  warning?(text: string, code: ErrorCode, from?: string): void;
  /** A segment of the current stream began. */
  segment?(segment: SegmentMessage): void;
  /** The current stream ended. */
  streamEnd?(end: StreamEndMessage): void;
  /** The server is shutting down. */
  shutdown?(message: string): void;
  /**
   * A message this client (maybe in an earlier session) queued for an offline peer was opened by
   * them (`delivered`), or expired unread on the server (`expired`).
   */
  queueNotice?(kind: "delivered" | "expired", to: string, qseq: number): void;
  /** An error the server sent that answers no request. */
  serverError?(code: ErrorCode, message: string): void;
  /**
   * The server pushed the list: a title this client asked to play while it was being prepared is
   * ready now (or failed). It comes as a `videos` answering that `play` again.
   */
  videos?(videos: VideoSummary[]): void;
  /**
   * The connection closed; `expected` after QUIT. `broken` is set when the server broke the
   * protocol beyond repair (a frame over the size cap): a whole `Cannot …` sentence to show as it
   * is, rather than as a lost connection.
   */
  closed?(info: ClosedInfo): void;
  /**
   * A change to a room, checked against this client's chain, in words ("bob invited carol"),
   * with the checked entry for a user interface that words it its own way (none for the line
   * that sums up a long history's earlier changes).
   */
  roomChange?(room: RoomView, words: string, entry?: RoomEntry): void;
  /**
   * The server listed this client's rooms (right after `welcome`); their chains are being checked
   * (`session.rooms.idle` resolves once they are).
   */
  roomsListed?(): void;
  /**
   * A member's client opened a room message this client sent (its receipt): `re` is the
   * `room-send` request's id, as in `RoomSendOutcome.re`.
   */
  roomDelivered?(re: number, to: string): void;
  /**
   * A member a room message this client sent was handed to through the cluster (listed under
   * `relayed`) was offline, so it is queued for them: their receipt comes later by
   * `roomDelivered`. `re` is the `room-send` request's id, as in `RoomSendOutcome.re`.
   */
  roomQueued?(re: number, to: string, qseq: number): void;
  /** A room message arrived and was verified against the room's checked chain. */
  roomMessage?(message: IncomingRoomMessage): void;
  /**
   * A peer in the known-peers table came online with another key than the one remembered (checked
   * when it joins, or is online at welcome; peers never seen before cost no key lookup).
   */
  keyChanged?(name: string): void;
  /**
   * A room's shared playback changed (or its state after `welcome` and a join), watching together
   * (issue 21): `room` is the room's id. The answer to this client's own `room-control` comes here
   * too.
   */
  roomPlayback?(message: RoomPlaybackMessage): void;
}

/** Options for `ClientSession.open`. */
export interface SessionOptions {
  /** How long to wait for the server's greeting, ms. @default {5000} */
  timeoutMs?: number;
  /** Callbacks. */
  events?: SessionEvents;
  /** Trust-on-first-use store; in memory when absent. */
  knownPeers?: KnownPeers;
  /**
   * Where the replay guard's state persists, so replays are caught after a restart (a file for
   * the terminal, see `identity.ts`; IndexedDB in a page); in memory when absent.
   */
  replay?: ReplayStorage;
  /**
   * Where the rooms' furthest points seen (and the message counters) persist, so that a rollback
   * is caught after a restart too; in memory when absent.
   */
  rooms?: RoomStorage;
  /** Bounds on what the server can make this client hold; see `CLIENT_LIMITS`. */
  limits?: Partial<ClientLimits>;
  /**
   * How a failed greeting names the server and what it tells the person to try, e.g.
   * `{ server: "host:7878", remedy: "if it uses TLS, add --tls" }`.
   * @default {{ server: "the server", remedy: "check that it is a peerstream server" }}
   */
  greeting?: GreetingContext;
  /** The clock keepalive and request timeouts run on. @default {SYSTEM_CLOCK} */
  clock?: SessionClock;
}
