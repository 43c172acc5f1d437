/**
 * Small helpers shared by the test files: a seeded PRNG, byte helpers, a deadline, a socket write
 * loop, a socket pair and a frame reader. Unit tests beside the code import this too, so it must
 * not start processes or depend on anything but the platform, the protocol and the connection.
 * @module
 */

import { FrameDecoder } from "../protocol/frame.ts";
import { decodeMessage, type Message } from "../protocol/messages.ts";
import { isPeerGone } from "../server/door/connection.ts";

/**
 * A small seeded PRNG (mulberry32), so that random cuts and fuzz cases are reproducible.
 *
 * @param seed Any 32-bit number.
 * @returns A function giving numbers in [0, 1).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Concatenates byte arrays into a fresh buffer (the protocol's own helper). */
export { concat as concatBytes } from "../protocol/e2e.ts";

/**
 * Where `needle` first occurs in `haystack`.
 *
 * @param haystack The bytes to search.
 * @param needle The bytes to find.
 * @returns Its index, or -1.
 */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * Rejects when `promise` does not settle within `ms`; clears its timer either way.
 *
 * @param promise What to wait for.
 * @param ms The deadline. @default {15000}
 * @param what What was awaited, for the error message.
 * @returns What `promise` resolved to.
 */
export async function deadline<T>(promise: Promise<T>, ms = 15_000, what?: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        const suffix = what === undefined ? "" : `: ${what}`;
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms${suffix}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes every byte to `conn` (a single `write` may take only part).
 *
 * @param conn The socket.
 * @param bytes What to write.
 */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/**
 * Seeded random cut points for splitting `length` bytes into chunks.
 *
 * @param length The number of bytes to cut.
 * @param random A generator from {@linkcode prng}.
 * @param options How many cuts at least and at most (drawn uniformly).
 * @returns Sorted cut offsets in [0, length]; repeats give empty chunks.
 */
export function randomCuts(
  length: number,
  random: () => number,
  options: { min?: number; max?: number } = {},
): number[] {
  const min = options.min ?? 0;
  const max = options.max ?? 7;
  const count = min + Math.floor(random() * (max - min + 1));
  const cuts: number[] = [];
  for (let i = 0; i < count; i++) cuts.push(Math.floor(random() * (length + 1)));
  return cuts.sort((a, b) => a - b);
}

/**
 * Cut points that split `length` bytes one byte at a time.
 *
 * @param length The number of bytes.
 * @returns 0, 1, …, length - 1.
 */
export function byteCuts(length: number): number[] {
  return Array.from({ length }, (_, i) => i);
}

/**
 * The chunks `bytes` falls into when cut at `cuts`.
 *
 * @param bytes The bytes.
 * @param cuts Sorted offsets, as from {@linkcode randomCuts} or {@linkcode byteCuts}.
 * @returns Views of `bytes`, one per chunk, in order (the last runs to the end).
 */
export function chunksAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const end of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  return chunks;
}

/**
 * Whether `needle` occurs in `haystack`.
 *
 * @param haystack The bytes to search.
 * @param needle The bytes to find.
 * @returns True when found.
 */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return indexOfBytes(haystack, needle) >= 0;
}

/**
 * A connected pair of TCP sockets on 127.0.0.1, for tests of socket adapters.
 *
 * @returns The accepted (server) and connecting (client) ends; the caller closes both.
 */
export async function socketPair(): Promise<{ server: Deno.TcpConn; client: Deno.TcpConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [server, client] = await Promise.all([
      listener.accept(),
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    ]);
    return { server, client };
  } finally {
    listener.close();
  }
}

/**
 * Reads and decodes frames from a raw socket until EOF (or the peer resets).
 *
 * @param conn The socket.
 * @returns Every message, in order.
 */
export async function readUntilEof(conn: Deno.Conn): Promise<Message[]> {
  const decoder = new FrameDecoder();
  const buffer = new Uint8Array(16 * 1024);
  const out: Message[] = [];
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (error) {
      if (isPeerGone(error)) break;
      throw error;
    }
    if (n === null) break;
    for (const frame of decoder.push(buffer.subarray(0, n))) out.push(decodeMessage(frame));
  }
  return out;
}

/**
 * PIDs of processes whose command line matches `pattern` (`pgrep -f`).
 *
 * @param pattern An extended regular expression.
 * @param options `parents`: only children of these processes (`pgrep -P`).
 * @returns The PIDs.
 */
export async function pgrep(
  pattern: string,
  options: { parents?: readonly number[] } = {},
): Promise<number[]> {
  const parents = options.parents ?? [];
  const { stdout } = await new Deno.Command("pgrep", {
    args: [...(parents.length > 0 ? ["-P", parents.join(",")] : []), "-f", pattern],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).map(Number);
}

/**
 * A process's state letter from `ps` (`S` sleeping, `R` running, `T` stopped), or "" when gone.
 *
 * @param pid The process.
 * @returns The letter.
 */
export async function processState(pid: number): Promise<string> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).trim().slice(0, 1);
}

/** Options for {@linkcode until}. */
export interface UntilOptions {
  /** The longest wait, ms: generous, since a busy machine may be several times slower. */
  ms: number;
  /** What was awaited, for the message (a function is called only on timeout, with late state). */
  what: string | (() => string | Promise<string>);
  /** How often to check, ms (longer where a check is itself costly, e.g. a request). @default {25} */
  everyMs?: number;
  /** How long past `ms` one call of `check` may run before it counts as hung. @default {15_000} */
  hangMs?: number;
}

/**
 * The one waiting helper of the tests: polls `check` (every 25 ms) until it holds, and throws
 * when it did not hold within `ms`. It never returns a verdict to be forgotten: a timeout is a
 * failure, and a check that never returns (a hung subprocess) fails too, 15 s past the deadline.
 * Prove that something did *not* happen by waiting for a later event that closes the
 * window (a marker message, an answer, a state), not with this or a sleep.
 *
 * @param check The condition (may be async).
 * @param options The deadline and what was awaited.
 * @throws {Error} "Timed out after N ms waiting for WHAT" when it never held.
 * @example
 * ```ts
 * await until(() => seen.length === 3, { ms: 10_000, what: "three messages" });
 * ```
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  options: UntilOptions,
): Promise<void> {
  const end = performance.now() + options.ms;
  const timedOut = async (hung: string) => {
    const what = typeof options.what === "function" ? await options.what() : options.what;
    return new Error(`Timed out after ${options.ms} ms waiting for ${what}${hung}`);
  };
  for (;;) {
    const held = await bounded(check(), end - performance.now() + (options.hangMs ?? 15_000));
    if (held === undefined) throw await timedOut(" (a check never returned)");
    if (held) return;
    if (performance.now() > end) throw await timedOut("");
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 25));
  }
}

/** The check's verdict, or undefined when it did not settle within `ms`. */
async function bounded(
  check: boolean | Promise<boolean>,
  ms: number,
): Promise<boolean | undefined> {
  if (typeof check === "boolean") return check;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(ms, 0));
  });
  try {
    return await Promise.race([check, late]);
  } finally {
    clearTimeout(timer);
  }
}
