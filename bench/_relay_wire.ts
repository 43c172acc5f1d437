/**
 * What the bench says to its relay load processes (`_relay_child.ts`) and what they answer: one
 * JSON object per line on the child's stdin and stdout, checked on arrival. Also the stamp every
 * relayed body carries, and the clock the processes share.
 * @module
 */

/** The engine a load process drives. */
export type RelayEngine = "peerstream" | "nats";

/** What a load process's connections do: send, receive (and answer), or both. */
export type RelayRole = "send" | "receive" | "both";

/** Commands from the bench to a load process. */
export type RelayCommand =
  | { op: "clock" }
  | {
    op: "setup";
    engine: RelayEngine;
    role: RelayRole;
    port: number;
    /** Own connection names (peerstream names, or NATS subject suffixes). */
    names: string[];
    /** Senders: where sender i sends (receiver names). */
    targets: string[];
    /** Senders: the sealed body, base64. */
    body: string;
  }
  | { op: "arm"; start: number; end: number; correction: number; samples: boolean }
  | { op: "run"; start: number; seconds: number; rate: number; window: number; cap: number }
  | { op: "report" }
  | { op: "quit" };

/** Latency percentiles, ms. */
export interface LatencySummary {
  /** Samples. */
  n: number;
  /** Median. */
  p50: number;
  /** 99th percentile (nearest rank). */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest. */
  max: number;
}

/** Replies from a load process. */
export type RelayReply =
  | { op: "clock"; now: number }
  | { op: "ready" }
  | { op: "armed" }
  | { op: "ran"; sent: number; confirmed: number; errors: Record<string, number> }
  | {
    op: "report";
    received: number;
    duplicates: number;
    inWindow: number;
    latency: LatencySummary;
    /** Every latency, ms rounded to 1 µs, when the run was armed with `samples`. */
    samples: number[];
  }
  | { op: "failed"; message: string };

/** What a relay run counted, whoever drove it: one load thread, or two load processes. */
export interface RelayCounts {
  /** Messages sent. */
  sent: number;
  /** Distinct messages delivered to their recipient. */
  received: number;
  /** Deliveries of a message already delivered (and malformed bodies). */
  duplicates: number;
  /** Sent messages never delivered, and not refused with `INBOX_FULL` ({@linkcode lostMessages}). */
  lost: number;
  /** Confirmations the senders got (peerstream's `delivered`, a NATS reply). */
  confirmed: number;
  /** Error codes the server answered sends with, with counts. */
  errors: Record<string, number>;
  /** Deliveries per second within the window. */
  perSecond: number;
}

/**
 * Sent messages that were never delivered. A message the relay refused with `INBOX_FULL` (its
 * sender had too many unconfirmed to that recipient, or the recipient in all) is not lost: the
 * sender was told at once, and the table shows it as an error code. The load's windows stay under
 * those budgets, so a refusal means the load outran its recipients' receipts.
 *
 * @param counts Sent, distinct received, and the error codes with counts.
 * @returns The messages lost.
 */
export function lostMessages(
  counts: { sent: number; received: number; errors: Readonly<Record<string, number>> },
): number {
  return Math.max(0, counts.sent - counts.received - (counts.errors.INBOX_FULL ?? 0));
}

/** Bytes of the stamp at the start of every relayed body: sender, sequence, send time. */
export const STAMP_BYTES = 16;

/**
 * The clock shared by the bench's processes on one machine: wall-clock origin plus monotonic time,
 * ms. Each process's origin is read once at its start, so offsets between processes are measured
 * ({@linkcode clockOffset}) rather than assumed.
 *
 * @returns Milliseconds since the epoch, sub-microsecond resolution.
 */
export function sharedNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Writes the stamp: sender index, sequence number and send time.
 *
 * @param body The body (at least {@linkcode STAMP_BYTES} long), changed in place.
 * @param stamp Sender, sequence and time (shared clock, ms).
 */
export function writeStamp(
  body: Uint8Array,
  stamp: { sender: number; seq: number; at: number },
): void {
  const view = new DataView(body.buffer, body.byteOffset, STAMP_BYTES);
  view.setUint32(0, stamp.sender);
  view.setUint32(4, stamp.seq);
  view.setFloat64(8, stamp.at);
}

/**
 * Reads the stamp of a relayed body.
 *
 * @param body The body as delivered.
 * @returns Sender, sequence and send time, or null when the body is too short.
 */
export function readStamp(body: Uint8Array): { sender: number; seq: number; at: number } | null {
  if (body.length < STAMP_BYTES) return null;
  const view = new DataView(body.buffer, body.byteOffset, STAMP_BYTES);
  return { sender: view.getUint32(0), seq: view.getUint32(4), at: view.getFloat64(8) };
}

/**
 * The offset of another process's clock from ours, from round trips: the one with the shortest
 * round trip bounds the offset best (its error is at most half that round trip).
 *
 * @param samples Our send time, their clock, our receive time, per round trip.
 * @returns Their clock minus ours, and the half round trip that bounds its error, ms.
 */
export function clockOffset(
  samples: readonly { sent: number; theirs: number; received: number }[],
): { offset: number; error: number } {
  let best = samples[0];
  for (const s of samples) if (s.received - s.sent < best.received - best.sent) best = s;
  return {
    offset: best.theirs - (best.sent + best.received) / 2,
    error: (best.received - best.sent) / 2,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const strings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string");

/**
 * Checks a command line from the bench.
 *
 * @param line One JSON line.
 * @returns The command.
 * @throws {SyntaxError} When it is not a well-formed command.
 */
export function parseCommand(line: string): RelayCommand {
  const v: unknown = JSON.parse(line);
  if (!isRecord(v)) throw new SyntaxError("Invalid relay command: not an object");
  switch (v.op) {
    case "clock":
    case "report":
    case "quit":
      return { op: v.op };
    case "setup":
      if (
        (v.engine === "peerstream" || v.engine === "nats") &&
        (v.role === "send" || v.role === "receive" || v.role === "both") && num(v.port) &&
        strings(v.names) &&
        strings(v.targets) && typeof v.body === "string"
      ) {
        return {
          op: "setup",
          engine: v.engine,
          role: v.role,
          port: v.port,
          names: v.names,
          targets: v.targets,
          body: v.body,
        };
      }
      break;
    case "arm":
      if (num(v.start) && num(v.end) && num(v.correction) && typeof v.samples === "boolean") {
        return {
          op: "arm",
          start: v.start,
          end: v.end,
          correction: v.correction,
          samples: v.samples,
        };
      }
      break;
    case "run":
      if (num(v.start) && num(v.seconds) && num(v.rate) && num(v.window) && num(v.cap)) {
        return {
          op: "run",
          start: v.start,
          seconds: v.seconds,
          rate: v.rate,
          window: v.window,
          cap: v.cap,
        };
      }
      break;
  }
  throw new SyntaxError(`Invalid relay command "${line.slice(0, 80)}"`);
}

/**
 * Checks a reply line from a load process.
 *
 * @param line One JSON line.
 * @returns The reply.
 * @throws {SyntaxError} When it is not a well-formed reply.
 */
export function parseReply(line: string): RelayReply {
  const v: unknown = JSON.parse(line);
  if (!isRecord(v)) throw new SyntaxError("Invalid relay reply: not an object");
  switch (v.op) {
    case "ready":
    case "armed":
      return { op: v.op };
    case "clock":
      if (num(v.now)) return { op: "clock", now: v.now };
      break;
    case "failed":
      if (typeof v.message === "string") return { op: "failed", message: v.message };
      break;
    case "ran":
      if (
        num(v.sent) && num(v.confirmed) && isRecord(v.errors) &&
        Object.values(v.errors).every(num)
      ) {
        return {
          op: "ran",
          sent: v.sent,
          confirmed: v.confirmed,
          errors: v.errors as Record<string, number>,
        };
      }
      break;
    case "report": {
      const l = v.latency;
      if (
        num(v.received) && num(v.duplicates) && num(v.inWindow) && isRecord(l) &&
        Array.isArray(v.samples) && v.samples.every(num) &&
        num(l.n) && ["p50", "p99", "p999", "max"].every((k) => num(l[k]) || l[k] === null)
      ) {
        // JSON has no NaN: an empty run's percentiles travel as null.
        return {
          op: "report",
          received: v.received,
          duplicates: v.duplicates,
          inWindow: v.inWindow,
          latency: {
            n: l.n,
            p50: num(l.p50) ? l.p50 : NaN,
            p99: num(l.p99) ? l.p99 : NaN,
            p999: num(l.p999) ? l.p999 : NaN,
            max: num(l.max) ? l.max : NaN,
          },
          samples: v.samples,
        };
      }
      break;
    }
  }
  throw new SyntaxError(`Invalid relay reply "${line.slice(0, 120)}"`);
}
