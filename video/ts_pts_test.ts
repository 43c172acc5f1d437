import assert from "node:assert/strict";
import { firstVideoPts } from "./ts_pts.ts";
import { concat } from "../protocol/e2e.ts";

/** One TS packet with a PES header of `streamId` and a PTS, optionally after an adaptation field. */
function pesPacket(streamId: number, pts: number | null, options: { adaptation?: number } = {}) {
  const packet = new Uint8Array(188).fill(0xff);
  packet.set([0x47, 0x41, 0x00]);
  const adaptation = options.adaptation ?? -1;
  let at = 4;
  if (adaptation >= 0) {
    packet[3] = 0x30;
    packet[4] = adaptation;
    at = 5 + adaptation;
  } else packet[3] = 0x10;
  packet.set([0, 0, 1, streamId, 0, 0, 0x80, pts === null ? 0x00 : 0x80, 5], at);
  if (pts !== null) {
    const hi = Math.floor(pts / 2 ** 30) & 0x7;
    const mid = Math.floor(pts / 2 ** 15) & 0x7fff;
    const lo = pts & 0x7fff;
    packet.set([
      0x21 | (hi << 1),
      mid >> 7,
      ((mid & 0x7f) << 1) | 1,
      lo >> 7,
      ((lo & 0x7f) << 1) | 1,
    ], at + 9);
  }
  return packet;
}

Deno.test("firstVideoPts() reads the first video PES's PTS, skipping audio, adaptation fields and PES without PTS", () => {
  const table: readonly [Uint8Array, number | null][] = [
    [new Uint8Array(0), null],
    [pesPacket(0xe0, 90_000 * 5.48), 5.48],
    [pesPacket(0xe0, 0), 0],
    // The top bit of the 33: past 2^32 ticks.
    [pesPacket(0xe0, 2 ** 32 + 90), (2 ** 32 + 90) / 90_000],
    [concat([pesPacket(0xc0, 90_000 * 5.405), pesPacket(0xe0, 90_000 * 5.48)]), 5.48],
    [concat([pesPacket(0xe0, null), pesPacket(0xe1, 90_000)]), 1],
    [pesPacket(0xe0, 90_000 * 2, { adaptation: 7 }), 2],
    [pesPacket(0xc0, 90_000), null],
    // A partial packet is not read.
    [pesPacket(0xe0, 90_000).subarray(0, 100), null],
  ];
  for (const [bytes, expected] of table) {
    const got = firstVideoPts(bytes);
    if (expected === null) assert.equal(got, null);
    else assert.ok(got !== null && Math.abs(got - expected) < 1e-9, `${got} != ${expected}`);
  }
});

Deno.test("firstVideoPts() agrees with ffprobe on a real segment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_pts_" });
  try {
    const path = `${dir}/clip.ts`;
    const made = await new Deno.Command("ffmpeg", {
      args: ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"]
        .concat(["-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-bf", "2"])
        .concat(["-c:a", "aac", "-f", "mpegts", path]),
    }).output();
    assert.equal(made.code, 0);
    const probe = await new Deno.Command("ffprobe", {
      args: ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time"]
        .concat(["-of", "csv=p=0", path]),
      stdout: "piped",
    }).output();
    const expected = Number(new TextDecoder().decode(probe.stdout).trim().split("\n")[0]);
    const got = firstVideoPts(await Deno.readFile(path));
    assert.ok(got !== null && Math.abs(got - expected) < 1e-6, `${got} != ${expected}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
