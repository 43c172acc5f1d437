/**
 * Pure: the presentation time of the first video frame in MPEG-TS bytes, so that a player that
 * reports the stream's own timestamps (mpv with `--rebase-start-time=no`) can be told where a
 * media time is, whatever the muxer's offset and the audio that starts before the video.
 *
 * A PES packet starts in a TS packet with payload_unit_start_indicator set (ISO/IEC 13818-1,
 * 2.4.3.2); after the adaptation field, its header is `00 00 01 stream_id`, and with
 * PTS_DTS_flags `1x` the 33-bit PTS (90 kHz) follows at byte 9 (2.4.3.7). Video streams have
 * stream_id 0xE0-0xEF. The first video PES of a segment is its keyframe, the earliest frame shown.
 * @module
 */

import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "./ts_packet.ts";

/** The PTS clock rate, Hz. */
export const PTS_HZ = 90_000;

/**
 * The PTS of the first video PES that starts in `bytes`, in seconds.
 *
 * @param bytes Whole TS packets from a packet boundary (a trailing partial packet is ignored).
 * @returns Seconds (PTS / 90 kHz), or null when no video PES with a PTS starts in them.
 */
export function firstVideoPts(bytes: Uint8Array): number | null {
  for (let at = 0; at + TS_PACKET_SIZE <= bytes.length; at += TS_PACKET_SIZE) {
    if (bytes[at] !== TS_SYNC_BYTE || (bytes[at + 1] & 0x40) === 0) continue;
    const control = (bytes[at + 3] >> 4) & 0x3;
    if ((control & 0x1) === 0) continue;
    const payload = control === 0x3 ? at + 5 + bytes[at + 4] : at + 4;
    const end = at + TS_PACKET_SIZE;
    if (payload + 14 > end) continue;
    if (bytes[payload] !== 0 || bytes[payload + 1] !== 0 || bytes[payload + 2] !== 1) continue;
    if ((bytes[payload + 3] & 0xf0) !== 0xe0) continue;
    if ((bytes[payload + 7] & 0x80) === 0) continue;
    const p = payload + 9;
    // 33 bits: 3 + 15 + 15, each group followed by a marker bit.
    const pts = ((bytes[p] >> 1) & 0x07) * 2 ** 30 +
      ((bytes[p + 1] << 7) | (bytes[p + 2] >> 1)) * 2 ** 15 +
      ((bytes[p + 3] << 7) | (bytes[p + 4] >> 1));
    return pts / PTS_HZ;
  }
  return null;
}
