/**
 * Pure MPEG-TS helpers: packet checks and continuity counter repair for spliced segments.
 *
 * Packet layout (ISO/IEC 13818-1, 2.4.3.2): byte 0 is the sync byte 0x47; bytes 1-2 carry the
 * 13-bit PID; byte 3 carries adaptation_field_control (bits 5-4) and continuity_counter (bits 3-0).
 * @module
 */

/** Size of one MPEG-TS packet in bytes. */
export const TS_PACKET_SIZE = 188;

/** The sync byte that starts every MPEG-TS packet. */
export const TS_SYNC_BYTE = 0x47;

/** PID of null (stuffing) packets, whose continuity counter is undefined. */
export const NULL_PID = 0x1fff;

/**
 * Whether bytes form whole MPEG-TS packets: a non-zero length that is a multiple of
 * {@linkcode TS_PACKET_SIZE}, and every packet starting with {@linkcode TS_SYNC_BYTE}.
 *
 * @param bytes The segment.
 * @returns `true` when the segment is well framed.
 */
export function isValidTsSegment(bytes: Uint8Array): boolean {
  if (bytes.length === 0 || bytes.length % TS_PACKET_SIZE !== 0) return false;
  for (let i = 0; i < bytes.length; i += TS_PACKET_SIZE) {
    if (bytes[i] !== TS_SYNC_BYTE) return false;
  }
  return true;
}

/**
 * The PID of the packet starting at `offset`.
 *
 * @param bytes The packets.
 * @param offset The offset of the packet (a multiple of 188).
 * @returns The 13-bit PID.
 */
export function packetPid(bytes: Uint8Array, offset = 0): number {
  return ((bytes[offset + 1] & 0x1f) << 8) | bytes[offset + 2];
}

/**
 * What a segment does to the continuity counters, worked out once per segment object and shared by
 * every fixer: for each PID (in order of first appearance) the expected counter under which its
 * first packet needs no change, and the expected counter after the segment.
 */
interface _Continuity {
  pids: number[];
  entry: number[];
  exit: number[];
}

/**
 * Each segment's {@linkcode _Continuity}, or null when the segment is not continuous in itself
 * (every fixer scans it). Keyed by the bytes, which are never modified once shared (the segment
 * store's objects), and let go with them.
 */
const CONTINUITY = new WeakMap<Uint8Array, _Continuity | null>();

/**
 * Keeps MPEG-TS continuity counters continuous across segments that are sent one after another,
 * even when they come from different renditions (which were muxed with their own counters).
 *
 * Per PID it remembers the next expected counter. The counter advances only on packets that carry a
 * payload (adaptation_field_control `01` or `11`); packets with only an adaptation field repeat the
 * last counter; null packets (PID 0x1FFF) are left alone. A PID seen for the first time is taken as
 * it is. Use one fixer per outgoing stream.
 *
 * A segment already continuous with what went before (the usual case: the next segment of the same
 * rendition) costs a look at each of its few PIDs, not a scan of its packets: what a segment does
 * to the counters is worked out once per segment object, for every fixer (every viewer). Segments
 * must not be modified once fixed.
 *
 * @example
 * ```ts
 * const fixer = new ContinuityFixer();
 * const out = fixer.fix(segment); // `segment` itself when nothing needed fixing
 * ```
 */
export class ContinuityFixer {
  /**
   * The PIDs seen and the next expected counter of each, side by side. A stream has a handful of
   * PIDs and a server keeps one fixer per viewer: two short arrays searched in order cost each
   * viewer a few dozen bytes, where a table of every PID cost 8 KiB.
   */
  #pids: number[] = [];
  #next: number[] = [];

  /**
   * Fix the counters of one segment, updating the state for the next one.
   *
   * @param segment Whole MPEG-TS packets (see {@linkcode isValidTsSegment}), not modified later.
   * @returns The same object when its counters already continue correctly, otherwise a fixed copy.
   * @throws {RangeError} When the segment is not whole packets with sync bytes.
   */
  fix(segment: Uint8Array): Uint8Array {
    let continuity = CONTINUITY.get(segment);
    if (continuity === undefined) {
      continuity = ContinuityFixer.#continuityOf(segment);
      CONTINUITY.set(segment, continuity);
    }
    if (continuity === null || !this.#continues(continuity)) return this.#scan(segment);
    const { pids, exit } = continuity;
    for (let i = 0; i < pids.length; i++) {
      const slot = this.#pids.indexOf(pids[i]);
      if (slot < 0) {
        this.#pids.push(pids[i]);
        this.#next.push(exit[i]);
      } else {
        this.#next[slot] = exit[i];
      }
    }
    return segment;
  }

  /** Forget every PID, as at the start of a new stream. */
  reset(): void {
    this.#pids = [];
    this.#next = [];
  }

  /** Whether a segment continuous in itself continues this state unchanged. */
  #continues(continuity: _Continuity): boolean {
    const { pids, entry } = continuity;
    for (let i = 0; i < pids.length; i++) {
      const slot = this.#pids.indexOf(pids[i]);
      if (slot >= 0 && this.#next[slot] !== entry[i]) return false;
    }
    return true;
  }

  /** Fixes a segment packet by packet. */
  #scan(segment: Uint8Array): Uint8Array {
    if (segment.length % TS_PACKET_SIZE !== 0) {
      throw new RangeError(
        `Cannot fix continuity counters: segment length ${segment.length} is not a multiple of 188`,
      );
    }
    let out = segment;
    for (let i = 0; i < segment.length; i += TS_PACKET_SIZE) {
      if (segment[i] !== TS_SYNC_BYTE) {
        throw new RangeError(
          `Cannot fix continuity counters: packet at byte ${i} has no 0x47 sync byte`,
        );
      }
      const pid = packetPid(segment, i);
      if (pid === NULL_PID) continue;
      const b3 = segment[i + 3];
      const hasPayload = (b3 & 0x10) !== 0;
      const cc = b3 & 0x0f;
      let slot = this.#pids.indexOf(pid);
      if (slot < 0) {
        slot = this.#pids.push(pid) - 1;
        this.#next.push(-1);
      }
      const next = this.#next[slot];
      let want: number;
      if (next < 0) {
        want = cc;
      } else if (hasPayload) {
        want = next;
      } else {
        want = (next + 15) & 0x0f;
      }
      if (want !== cc) {
        if (out === segment) out = segment.slice();
        out[i + 3] = (b3 & 0xf0) | want;
      }
      // After a payload packet `want` is the counter just used; after one without payload it is the
      // repeated previous counter: either way the next payload packet carries `want + 1`.
      this.#next[slot] = (want + 1) & 0x0f;
    }
    return out;
  }

  /**
   * What a segment does to the counters: a fresh fixer's scan (which takes each PID's first counter
   * as it is) leaves it unchanged exactly when it is continuous in itself; each PID's first packet
   * then needs no change under the expected counter that it carries (a payload packet) or follows
   * (a packet without payload repeats the previous counter), and the scan's end state is the exit.
   *
   * @throws {RangeError} When the segment is not whole packets with sync bytes.
   */
  static #continuityOf(segment: Uint8Array): _Continuity | null {
    const probe = new ContinuityFixer();
    if (probe.#scan(segment) !== segment) return null;
    const entry = probe.#pids.map(() => -1);
    for (let i = 0, found = 0; i < segment.length && found < entry.length; i += TS_PACKET_SIZE) {
      const slot = probe.#pids.indexOf(packetPid(segment, i));
      if (slot < 0 || entry[slot] >= 0) continue;
      const b3 = segment[i + 3];
      entry[slot] = (b3 & 0x10) !== 0 ? b3 & 0x0f : ((b3 & 0x0f) + 1) & 0x0f;
      found++;
    }
    return { pids: probe.#pids, entry, exit: probe.#next };
  }
}
