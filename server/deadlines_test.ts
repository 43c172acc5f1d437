import { equal } from "node:assert/strict";
import { type Deadline, deadlineOf, type Watched } from "./deadlines.ts";

const limits = {
  maxWriteStallMs: 30_000,
  handshakeMs: 10_000,
  idleMs: 90_000,
  keepaliveMs: 30_000,
};
const now = 1_000_000;

function at(partial: Partial<Watched>): Watched {
  return { state: "registered", connectedAt: now, lastReadAt: now, writeStalledMs: 0, ...partial };
}

Deno.test("deadlineOf() is due just past each limit, not at it, and the first that applies wins", () => {
  const cases: [string, Watched, Deadline | undefined][] = [
    ["fresh", at({}), undefined],
    ["write stalled at the limit", at({ writeStalledMs: 30_000 }), undefined],
    ["write stalled past the limit", at({ writeStalledMs: 30_001 }), "slow-consumer"],
    [
      "stalled and silent: slow first",
      at({ writeStalledMs: 30_001, lastReadAt: now - 100_000 }),
      "slow-consumer",
    ],
    [
      "greeting at the handshake time",
      at({ state: "greeting", connectedAt: now - 10_000 }),
      undefined,
    ],
    [
      "greeting past the handshake time",
      at({ state: "greeting", connectedAt: now - 10_001 }),
      "handshake-timeout",
    ],
    ["registered long ago", at({ connectedAt: now - 10_001 }), undefined],
    ["silent at the idle time", at({ lastReadAt: now - 90_000 }), "ping"],
    ["silent past the idle time", at({ lastReadAt: now - 90_001 }), "idle-timeout"],
    [
      "greeting, silent past the idle time",
      at({ state: "greeting", lastReadAt: now - 90_001 }),
      "idle-timeout",
    ],
    ["quiet at the keepalive", at({ lastReadAt: now - 30_000 }), undefined],
    ["quiet past the keepalive", at({ lastReadAt: now - 30_001 }), "ping"],
    [
      "greeting, quiet past the keepalive: no ping",
      at({ state: "greeting", lastReadAt: now - 30_001 }),
      undefined,
    ],
  ];
  for (const [name, watched, expected] of cases) {
    equal(deadlineOf(watched, { now, limits }), expected, name);
  }
});
