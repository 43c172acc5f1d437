/**
 * The messages of sealed offline delivery (protocol version 3): the answer `queued` to a `send`
 * whose recipient is offline, the fields a queued `deliver` and a later `delivered` carry, and the
 * `expired` notice. Kept apart from `messages.ts`; `messages_server.ts` takes these specs into its
 * own table.
 * @module
 */

/** A `send` to an offline peer was kept, sealed, for their next join. */
export interface QueuedMessage {
  type: "queued";
  /** The `send` request this answers. */
  re: number;
  /** The recipient. */
  to: string;
  /** Its place in the recipient's queue; a later `delivered` or `expired` names it. */
  qseq: number;
}

/** A queued message waited longer than the server keeps one, and was deleted unread. */
export interface ExpiredMessage {
  type: "expired";
  /** The recipient who never came. */
  to: string;
  /** Its place in the recipient's queue, as `queued` said. */
  qseq: number;
}

/** Field checks this module needs from the message table (they live in `messages_checks.ts`). */
export interface QueueSpecChecks<Check> {
  /** A request id or sequence number. */
  id: Check;
  /** A peer's name. */
  name: Check;
  /** An optional request id or sequence number. */
  optionalId: Check;
  /** An optional boolean. */
  optionalBool: Check;
}

/** The specs {@linkcode queueSpecs} returns. */
export interface QueueSpecs<Check> {
  /** `queued`. */
  queued: Record<string, Check>;
  /** `expired`. */
  expired: Record<string, Check>;
  /** `deliver` from a queue: `queued: true` and the queue's `qseq`. */
  deliverExtra: Record<string, Check>;
  /** `delivered` of a queued message, later: its `qseq`. */
  deliveredExtra: Record<string, Check>;
}

/**
 * The field checks of the queue's messages and of the fields they add to `deliver` and
 * `delivered`.
 *
 * @param c The checks of the message table.
 * @returns Specs per message type, and the extra fields of `deliver` and `delivered`.
 */
export function queueSpecs<Check>(c: QueueSpecChecks<Check>): QueueSpecs<Check> {
  return {
    queued: { re: c.id, to: c.name, qseq: c.id },
    expired: { to: c.name, qseq: c.id },
    deliverExtra: { queued: c.optionalBool, qseq: c.optionalId },
    deliveredExtra: { qseq: c.optionalId },
  };
}
