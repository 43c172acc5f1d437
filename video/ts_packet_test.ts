import assert from "node:assert/strict";
import {
  ContinuityFixer,
  isValidTsSegment,
  NULL_PID,
  packetPid,
  TS_PACKET_SIZE,
} from "./ts_packet.ts";
import { runTool } from "./ffmpeg.ts";
import { ladderArgs } from "./ffmpeg_args.ts";
import { parseHlsPlaylist } from "./ffmpeg_parse.ts";
import { makeClip, pipeThrough } from "./_test_media.ts";
import { prng } from "../tests/_util.ts";

/** One packet: PID, continuity counter, adaptation_field_control (1 payload, 2 AF only, 3 both). */
function packet(pid: number, cc: number, afc = 1): Uint8Array {
  const p = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  p[0] = 0x47;
  p[1] = (pid >> 8) & 0x1f;
  p[2] = pid & 0xff;
  p[3] = (afc << 4) | (cc & 0x0f);
  return p;
}

function segment(...packets: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(packets.length * TS_PACKET_SIZE);
  packets.forEach((p, i) => out.set(p, i * TS_PACKET_SIZE));
  return out;
}

function counters(seg: Uint8Array): number[] {
  const out = [];
  for (let i = 0; i < seg.length; i += TS_PACKET_SIZE) out.push(seg[i + 3] & 0x0f);
  return out;
}

Deno.test("`isValidTsSegment()` checks length and sync bytes", () => {
  assert.equal(isValidTsSegment(new Uint8Array(0)), false);
  assert.equal(isValidTsSegment(packet(0x100, 0)), true);
  assert.equal(isValidTsSegment(segment(packet(0, 0), packet(0x100, 0))), true);
  assert.equal(isValidTsSegment(packet(0x100, 0).subarray(0, 187)), false);
  const long = new Uint8Array(189);
  long.set(packet(0x100, 0));
  assert.equal(isValidTsSegment(long), false);
  const bad = segment(packet(0, 0), packet(0x100, 0));
  bad[188] = 0x48;
  assert.equal(isValidTsSegment(bad), false);
});

Deno.test("`packetPid()` reads the 13-bit PID", () => {
  assert.equal(packetPid(packet(0x1fff, 0)), 0x1fff);
  assert.equal(packetPid(packet(0x0100, 0)), 0x100);
  assert.equal(packetPid(segment(packet(0, 0), packet(0x123, 0)), 188), 0x123);
});

Deno.test("`ContinuityFixer.fix()` returns the same object when counters continue", () => {
  const fixer = new ContinuityFixer();
  const a = segment(packet(0x100, 14), packet(0x100, 15), packet(0x101, 3));
  const b = segment(packet(0x100, 0), packet(0x101, 4), packet(0x100, 1));
  assert.equal(fixer.fix(a), a);
  assert.equal(fixer.fix(b), b);
});

Deno.test("`ContinuityFixer.fix()` renumbers a spliced segment in a copy", () => {
  const fixer = new ContinuityFixer();
  fixer.fix(segment(packet(0x100, 5), packet(0x101, 9)));
  const b = segment(packet(0x100, 12), packet(0x100, 13), packet(0x101, 0), packet(0x102, 7));
  const before = b.slice();
  const out = fixer.fix(b);
  assert.notEqual(out, b);
  assert.deepEqual(b, before, "input untouched");
  assert.deepEqual(counters(out), [6, 7, 10, 7]);
  // Other header bits are kept.
  assert.equal(out[3] >> 4, 1);
  assert.deepEqual(out.subarray(4, 188), b.subarray(4, 188));
  // The state continues from the rewritten counters.
  const c = segment(packet(0x100, 8), packet(0x101, 11));
  assert.equal(fixer.fix(c), c);
});

Deno.test("`ContinuityFixer.fix()` advances only on packets with payload", () => {
  const fixer = new ContinuityFixer();
  // afc 2 (adaptation field only) repeats the last counter; afc 3 advances.
  const a = segment(packet(0x100, 3, 1), packet(0x100, 3, 2), packet(0x100, 4, 3));
  assert.equal(fixer.fix(a), a);
  const b = segment(packet(0x100, 9, 2), packet(0x100, 0, 1));
  assert.deepEqual(counters(fixer.fix(b)), [4, 5]);
  // A PID first seen without payload: its next payload packet is counter + 1.
  const f2 = new ContinuityFixer();
  const c = segment(packet(0x200, 7, 2), packet(0x200, 8, 1));
  assert.equal(f2.fix(c), c);
});

Deno.test("`ContinuityFixer.fix()` wraps at 15 and ignores null packets", () => {
  const fixer = new ContinuityFixer();
  fixer.fix(packet(0x100, 15));
  assert.deepEqual(counters(fixer.fix(packet(0x100, 3))), [0]);
  const nulls = segment(packet(NULL_PID, 9), packet(NULL_PID, 2), packet(NULL_PID, 9));
  assert.equal(fixer.fix(nulls), nulls);
});

Deno.test("`ContinuityFixer.reset()` forgets every PID", () => {
  const fixer = new ContinuityFixer();
  fixer.fix(packet(0x100, 1));
  fixer.reset();
  const p = packet(0x100, 9);
  assert.equal(fixer.fix(p), p);
});

Deno.test("`ContinuityFixer.fix()` throws RangeError on a torn segment", () => {
  const fixer = new ContinuityFixer();
  assert.throws(
    () => fixer.fix(new Uint8Array(100)),
    (e: unknown) => e instanceof RangeError && /not a multiple of 188/.test(e.message),
  );
  const bad = packet(0x100, 0);
  bad[0] = 0;
  assert.throws(
    () => fixer.fix(bad),
    (e: unknown) => e instanceof RangeError && /sync byte/.test(e.message),
  );
  // Byte-at-a-time packets work as well as whole segments.
  const whole = segment(packet(0x100, 4), packet(0x100, 9));
  const f2 = new ContinuityFixer();
  const parts = [f2.fix(whole.subarray(0, 188)), f2.fix(whole.subarray(188))];
  assert.deepEqual(parts.flatMap(counters), [4, 5]);
});

Deno.test("`ContinuityFixer` makes spliced hls segments of two renditions decode cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_ts_" });
  try {
    await makeClip(`${dir}/src.mp4`, { height: 240, seconds: 4 });
    const outputs = [160, 240].map((height, i) => ({
      input: 0,
      height,
      dir: `${dir}/r${i}`,
      maxBitrate: 500_000,
    }));
    for (const o of outputs) await Deno.mkdir(o.dir);
    const r = await runTool(
      "ffmpeg",
      ladderArgs({
        inputs: [`${dir}/src.mp4`],
        outputs,
        codec: "h264",
        segmentSeconds: 1,
        fps: 25,
        audio: true,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    const lists = await Promise.all(
      outputs.map(async (o) => parseHlsPlaylist(await Deno.readTextFile(`${o.dir}/index.m3u8`))),
    );
    assert.equal(lists[0].length, 4);
    // Splice 160p, 240p, 160p, 240p.
    const picks = lists[0].map((s, i) => `${outputs[i % 2].dir}/${s.file}`);
    const segs = await Promise.all(picks.map((p) => Deno.readFile(p)));
    segs.forEach((s) => assert.ok(isValidTsSegment(s)));
    const raw = new Uint8Array(segs.reduce((n, s) => n + s.length, 0));
    const fixed = new Uint8Array(raw.length);
    const fixer = new ContinuityFixer();
    let at = 0;
    let rewritten = 0;
    for (const s of segs) {
      raw.set(s, at);
      const f = fixer.fix(s);
      if (f !== s) rewritten++;
      fixed.set(f, at);
      at += s.length;
    }
    assert.ok(rewritten >= 1);
    const args = ["-v", "warning", "-err_detect", "explode", "-i", "pipe:0", "-f", "null", "-"];
    const bad = await pipeThrough("ffmpeg", args, raw);
    assert.match(bad.stderr, /Packet corrupt|corrupt/, "the raw splice is detected as corrupt");
    const good = await pipeThrough("ffmpeg", args, fixed);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stderr.trim(), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The counters a packet-by-packet repair gives, written plainly: the reference for the fixer. */
function referenceFixer(): (seg: Uint8Array) => number[] {
  const next = new Map<number, number>();
  return (seg) => {
    const out: number[] = [];
    for (let i = 0; i < seg.length; i += TS_PACKET_SIZE) {
      const pid = packetPid(seg, i);
      const b3 = seg[i + 3];
      const cc = b3 & 0x0f;
      if (pid === NULL_PID) {
        out.push(cc);
        continue;
      }
      const expected = next.get(pid);
      const want = expected === undefined
        ? cc
        : (b3 & 0x10) !== 0
        ? expected
        : (expected + 15) & 15;
      next.set(pid, (want + 1) & 15);
      out.push(want);
    }
    return out;
  };
}

Deno.test("`ContinuityFixer.fix()` repairs like a packet-by-packet scan when many fixers share segments across splices", () => {
  // Two "renditions" of six segments each, continuous within themselves (PIDs 0, 0x100, 0x101,
  // with adaptation-field-only packets and null packets), whose counters start apart.
  const random = prng(22);
  const renditions = [3, 11].map((offset) => {
    const cc = new Map<number, number>();
    return Array.from({ length: 6 }, () =>
      segment(...Array.from({ length: 12 }, () => {
        const pid = [0, 0x100, 0x101, NULL_PID][Math.floor(random() * 4)];
        const afc = random() < 0.2 ? 2 : random() < 0.5 ? 3 : 1;
        const now = cc.get(pid) ?? offset;
        if (afc !== 2) cc.set(pid, (now + 1) & 15);
        return packet(pid, afc === 2 ? (now + 15) & 15 : now, afc);
      })));
  });
  // Ten viewers, each a path through the segments that switches rendition at random boundaries.
  for (let viewer = 0; viewer < 10; viewer++) {
    const fixer = new ContinuityFixer();
    const reference = referenceFixer();
    let r = viewer % 2;
    for (let index = 0; index < 6; index++) {
      if (random() < 0.4) r = 1 - r;
      const seg = renditions[r][index];
      const before = seg.slice();
      const out = fixer.fix(seg);
      assert.deepEqual(counters(out), reference(seg), `viewer ${viewer}, segment ${index}`);
      assert.deepEqual(seg, before, "the shared segment is never modified");
      for (let at = 0; at < seg.length; at++) {
        // Only the counter (the low half of each packet's byte 3) may differ.
        const mask = at % TS_PACKET_SIZE === 3 ? 0xf0 : 0xff;
        assert.equal(out[at] & mask, before[at] & mask, `byte ${at}`);
      }
    }
  }
});
