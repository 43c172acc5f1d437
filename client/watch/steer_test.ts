import { deepEqual } from "node:assert/strict";
import {
  HOLD_MARGIN_SECONDS,
  RESEEK_SECONDS,
  startPosition,
  steer,
  type SteerAction,
} from "./steer.ts";

const MPV = { canRate: true, startup: 0.4, segment: 2 };
const FFPLAY = { canRate: false, startup: 0.4, segment: 2 };

Deno.test("startPosition() aims at the first frame's time, and one segment further for ffplay", () => {
  const cases: [string, number, typeof MPV, number][] = [
    ["mpv", 10, MPV, 10.4],
    ["ffplay", 10, FFPLAY, 12.4],
    ["mpv at 0", 0, MPV, 0.4],
    ["never before 0", -3, MPV, 0],
  ];
  for (const [what, room, options, want] of cases) {
    deepEqual(+startPosition(room, options).toFixed(6), want, what);
  }
});

Deno.test("steer() freezes ffplay up to 1 s ahead once it has landed; further ahead it seeks back", () => {
  const cases: [string, number, SteerAction][] = [
    ["1 s ahead freezes", 1, { kind: "hold", seconds: 1 }],
    ["1.01 s ahead seeks", 1.01, { kind: "seek", position: 22.4 }],
    ["3 s ahead (a SEEK back by a member) seeks", 3, { kind: "seek", position: 22.4 }],
  ];
  for (const [what, drift, want] of cases) {
    deepEqual(steer(drift, 20, { ...FFPLAY, rate: 1 }), want, what);
  }
});

Deno.test("steer() follows the protocol's rules with mpv, and seeks ahead then freezes with ffplay", () => {
  const maxHold = FFPLAY.segment + FFPLAY.startup + HOLD_MARGIN_SECONDS;
  const cases: [string, number, typeof MPV, number, SteerAction][] = [
    ["mpv: under 40 ms nothing", 0.039, MPV, 1, { kind: "none" }],
    ["mpv: 200 ms ahead slows 5 %", 0.2, MPV, 1, { kind: "rate", rate: 0.95 }],
    ["mpv: 50 ms behind speeds 2.5 %", -0.05, MPV, 1, { kind: "rate", rate: 1.025 }],
    ["mpv: settled goes back to 1", 0.01, MPV, 0.95, { kind: "rate", rate: 1 }],
    ["mpv: over 1 s seeks to the room plus start-up", -1.01, MPV, 1, {
      kind: "seek",
      position: 20.4,
    }],
    ["ffplay: 300 ms either way nothing", 0.3, FFPLAY, 1, { kind: "none" }],
    ["ffplay: -300 ms nothing", -0.3, FFPLAY, 1, { kind: "none" }],
    ["ffplay: 310 ms ahead freezes 310 ms", 0.31, FFPLAY, 1, { kind: "hold", seconds: 0.31 }],
    ["ffplay: ahead at the hold's limit freezes", maxHold, FFPLAY, 1, {
      kind: "hold",
      seconds: maxHold,
    }],
    ["ffplay: further ahead seeks", maxHold + 0.01, FFPLAY, 1, { kind: "seek", position: 22.4 }],
    ["ffplay: 310 ms behind seeks a segment ahead", -0.31, FFPLAY, 1, {
      kind: "seek",
      position: 22.4,
    }],
  ];
  for (const [what, drift, options, rate, want] of cases) {
    deepEqual(steer(drift, 20, { ...options, rate, landing: "jump" }), want, what);
  }
});

Deno.test("steer() jumps mpv again when a start landed more than 0.25 s off; after a jump, the rate does it", () => {
  const cases: [string, number, "start" | "jump" | undefined, SteerAction][] = [
    ["a start 0.9 s behind jumps", -0.9, "start", { kind: "seek", position: 20.4 }],
    ["a start 0.3 s ahead jumps", 0.3, "start", { kind: "seek", position: 20.4 }],
    ["a start at the limit: the rate", RESEEK_SECONDS, "start", { kind: "rate", rate: 0.95 }],
    ["a jump 0.9 s behind: the rate", -0.9, "jump", { kind: "rate", rate: 1.05 }],
    ["no landing: the rate", -0.9, undefined, { kind: "rate", rate: 1.05 }],
  ];
  for (const [what, drift, landing, want] of cases) {
    deepEqual(steer(drift, 20, { ...MPV, rate: 1, ...(landing ? { landing } : {}) }), want, what);
  }
});
