/**
 * Shared support of the `tests/robustness_*_test.ts` suites: a few identities reused across
 * connections (RSA key generation is slow) and a media sink that records when media arrives.
 * @module
 */

import type { MediaSink } from "../client/session/stream_receiver.ts";
import { generateIdentity, type Identity } from "../protocol/e2e.ts";

// RSA key generation costs 0.1-1 s: rows share a few identities (one key may own many names).
let ids: Identity[] = [];
let nextId = 0;
/** One of two shared identities, in turn (one key may own many names). */
export async function identity(): Promise<Identity> {
  if (ids.length === 0) ids = await Promise.all([generateIdentity(), generateIdentity()]);
  return ids[nextId++ % ids.length];
}

/** What a {@linkcode timingSink} recorded: bytes, how the stream ended, arrival times. */
export interface TimingRecord {
  bytes: number;
  ended: string;
  arrivals: number[];
}

/**
 * A sink that records when media arrives.
 * @returns the record and an `open` to pass to `play` as its sink
 */
export function timingSink(): { sink: TimingRecord; open: () => MediaSink } {
  const sink = { bytes: 0, ended: "" as string, arrivals: [] as number[] };
  return {
    sink,
    open: () => ({
      write(data: Uint8Array) {
        sink.bytes += data.length;
        sink.arrivals.push(performance.now());
      },
      close(reason: string) {
        sink.ended = reason;
      },
    }),
  };
}
