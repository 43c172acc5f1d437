/**
 * Big-endian length and counter fields, as the sealed envelopes (`e2e.ts`, `room_envelope.ts`)
 * write them. Private to `protocol/`.
 * @module
 */

/**
 * A 16-bit big-endian field.
 *
 * @param n 0 to 65535.
 * @returns Two fresh bytes.
 */
export function u16(n: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, n);
  return out;
}

/**
 * A 32-bit big-endian field.
 *
 * @param n 0 to 2^32 - 1.
 * @returns Four fresh bytes.
 */
export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
