/**
 * The request table: each request gets an id and waits for an answer of the types it takes (an
 * `error` answers any), within a time limit on an injected clock. A wrong answer or none rejects
 * with a clear error, and the session goes on.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { ClientMessage, ServerMessage } from "../../protocol/messages.ts";
import type { SessionClock } from "./clock.ts";

/** Which answers each request takes (an `error` answers any). */
export const ANSWERS = {
  list: ["videos"],
  key: ["key-info"],
  send: ["delivered", "queued"],
  play: ["stream-start"],
  stop: ["stream-end"],
  quality: ["ok", "stream-seek"],
  pause: ["ok"],
  resume: ["ok"],
  seek: ["stream-seek"],
  "room-create": ["room-entries"],
  "room-change": ["room-entries"],
  "room-chain": ["room-entries"],
  "room-send": ["room-sent"],
  time: ["time-is"],
  "room-control": ["room-playback"],
} as const satisfies Partial<Record<ClientMessage["type"], readonly ServerMessage["type"][]>>;

/** A request type that takes an answer. */
export type Requested = keyof typeof ANSWERS;

/** The answers a request of type `R` takes. */
export type AnswerTo<R extends Requested> = Extract<
  ServerMessage,
  { type: typeof ANSWERS[R][number] }
>;

/** A request message, its id to be set by the table. */
export type RequestMessage = Extract<ClientMessage, { type: Requested; id: number }>;

interface Pending {
  type: Requested;
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
  cancelTimer: () => void;
}

/** Options for {@linkcode RequestTable}. */
export interface RequestTableOptions {
  /** Longest wait for an answer, ms. */
  timeoutMs: number;
  /** The clock the time limit runs on. */
  clock: SessionClock;
  /** Sends a message to the server. */
  send(message: ClientMessage): void;
}

/** Requests waiting for their answers, by id. */
export class RequestTable {
  readonly #options: RequestTableOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  /** @param options The time limit, the clock, and how to send. */
  constructor(options: RequestTableOptions) {
    this.#options = options;
  }

  /**
   * Takes the next id, for a message that needs one but waits for no answer (ping, stop).
   *
   * @returns 1, 2, 3, … shared with the requests.
   */
  nextId(): number {
    return this.#nextId++;
  }

  /** How many requests wait. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Sends a request with the next id and waits for its answer.
   *
   * @param message The request; its `id` is set here.
   * @returns The answer, of a type the request takes.
   * @throws {PeerstreamError} The server's error; `BAD_MESSAGE` for an answer of another type;
   * `UNAVAILABLE` when none comes within the limit.
   */
  request<M extends RequestMessage>(message: M): Promise<AnswerTo<M["type"]>> {
    const id = this.nextId();
    message.id = id;
    const type = message.type;
    const answer = new Promise<ServerMessage>((resolve, reject) => {
      const ms = this.#options.timeoutMs;
      const cancelTimer = this.#options.clock.after(ms, () => {
        this.#pending.delete(id);
        reject(
          new PeerstreamError(
            "UNAVAILABLE",
            `The server did not answer "${type}" within ${
              ms / 1000
            } s; it may be overloaded or misbehaving`,
          ),
        );
      });
      this.#pending.set(id, { type, resolve, reject, cancelTimer });
    });
    this.#options.send(message);
    return answer as Promise<AnswerTo<M["type"]>>;
  }

  /**
   * The type of a waiting request.
   *
   * @param id The request's id (an answer's `re`).
   * @returns Its type, or undefined when none waits with that id.
   */
  typeOf(id: number): Requested | undefined {
    return this.#pending.get(id)?.type;
  }

  /**
   * Answers a waiting request: resolves it with a message of a type it takes, or rejects it.
   *
   * @param re The id the answer refers to.
   * @param message The answer.
   * @returns False when no request waits with that id (the answer is not for one).
   */
  answer(re: number, message: ServerMessage): boolean {
    const pending = this.#settle(re);
    if (pending === undefined) return false;
    const expected: readonly string[] = ANSWERS[pending.type];
    if (expected.includes(message.type)) {
      pending.resolve(message);
    } else {
      pending.reject(
        new PeerstreamError(
          "BAD_MESSAGE",
          `The server answered "${pending.type}" with "${message.type}"; it may be misbehaving or of another version`,
        ),
      );
    }
    return true;
  }

  /**
   * Fails a waiting request.
   *
   * @param re Its id.
   * @param error What it rejects with.
   * @returns False when no request waits with that id.
   */
  fail(re: number, error: Error): boolean {
    const pending = this.#settle(re);
    pending?.reject(error);
    return pending !== undefined;
  }

  /**
   * Fails every waiting request (the connection is gone).
   *
   * @param error What they reject with.
   */
  failAll(error: Error): void {
    for (const pending of this.#pending.values()) {
      pending.cancelTimer();
      pending.reject(error);
    }
    this.#pending.clear();
  }

  /** Takes a pending request out of the table, its timer stopped. */
  #settle(re: number): Pending | undefined {
    const pending = this.#pending.get(re);
    if (pending === undefined) return undefined;
    this.#pending.delete(re);
    pending.cancelTimer();
    return pending;
  }
}
