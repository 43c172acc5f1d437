import { equal } from "node:assert/strict";
import { parseFfplayStatus } from "./ffplay_status.ts";

Deno.test("parseFfplayStatus() reads the master clock of a status line, and nothing else", () => {
  const cases: [string, number | null | undefined][] = [
    ["   7.52 M-V:  0.001 fd=   0 aq=    8KB vq=   49KB sq=    0B f=0/0   ", 7.52],
    ["   0.04 A-V: -0.065 fd=   0 aq=    8KB vq=   48KB sq=    0B f=0/0   ", 0.04],
    ["  12.00 M-A:  0.010 fd=   2 aq=    0KB vq=    0KB sq=    0B f=0/0", 12],
    ["    nan    :  0.000 fd=   0 aq=    0KB vq=    0KB sq=    0B f=0/0   ", null],
    ["    nan A-V:    nan fd=   0 aq=    8KB vq=   49KB sq=    0B f=0/0   ", null],
    ["pipe:0: Invalid data found when processing input", undefined],
    ["", undefined],
    ["7.5 seconds", undefined],
  ];
  for (const [line, want] of cases) equal(parseFfplayStatus(line), want, JSON.stringify(line));
});
