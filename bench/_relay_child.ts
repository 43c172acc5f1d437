/**
 * A relay load process: the senders or the receivers of the message scenarios, in a process of
 * their own so that neither shares a thread with the other, the viewers, or the bench. Driven by
 * `_relay_procs.ts` over stdin/stdout (one JSON object per line, `_relay_wire.ts`).
 *
 * Senders stamp each body with their index, a sequence number and the send time on the shared
 * clock, and send either closed loop (at most `window` unconfirmed and `cap` per second per
 * connection) or open loop at a fixed total rate, round robin. Receivers answer every body, count
 * distinct and duplicate deliveries, and time send → deliver with the measured clock correction.
 * @module
 */

import { percentile, sleep } from "./_stats.ts";
import { type LinkEvents, peerstreamLink, type RelayLink } from "./_relay_links.ts";
import {
  type LatencySummary,
  parseCommand,
  readStamp,
  type RelayCommand,
  type RelayReply,
  sharedNow,
  STAMP_BYTES,
  writeStamp,
} from "./_relay_wire.ts";

/** Sender state of one run. */
const out = {
  sent: [] as number[],
  outstanding: [] as number[],
  budget: [] as number[],
  budgetSecond: -1,
  confirmed: 0,
  errors: {} as Record<string, number>,
  closedLoop: false,
  sending: false,
  window: 32,
  cap: 900,
};

/** Receiver state of one run. */
const into = {
  seen: [] as Uint8Array[],
  latencies: [] as number[],
  received: 0,
  duplicates: 0,
  malformed: 0,
  inWindow: 0,
  start: 0,
  end: 0,
  correction: 0,
  samples: false,
};

let link: RelayLink | null = null;
let body = new Uint8Array(STAMP_BYTES);

const events: LinkEvents = {
  onConfirm(i) {
    out.confirmed++;
    out.outstanding[i]--;
    if (out.closedLoop) fill(i);
  },
  onError(i, code) {
    out.errors[code] = (out.errors[code] ?? 0) + 1;
    out.outstanding[i]--;
  },
  onDeliver(delivered, now) {
    const stamp = readStamp(delivered);
    if (stamp === null) {
      into.malformed++;
      return;
    }
    let seen = into.seen[stamp.sender];
    if (seen === undefined) seen = into.seen[stamp.sender] = new Uint8Array(1 << 14);
    if (stamp.seq >= seen.length) {
      const grown = new Uint8Array(Math.max(seen.length * 2, stamp.seq + 1));
      grown.set(seen);
      seen = into.seen[stamp.sender] = grown;
    }
    if (seen[stamp.seq] !== 0) {
      into.duplicates++;
      return;
    }
    seen[stamp.seq] = 1;
    into.received++;
    const at = performance.timeOrigin + now;
    if (at >= into.start && at <= into.end) into.inWindow++;
    into.latencies.push(at - stamp.at + into.correction);
  },
};

function sendOne(i: number) {
  writeStamp(body, { sender: i, seq: out.sent[i]++, at: sharedNow() });
  out.outstanding[i]++;
  link!.send(i, body);
}

/** Closed loop: top sender `i` up to its window, within its budget for this second. */
function fill(i: number) {
  const second = Math.floor(performance.now() / 1000);
  if (second !== out.budgetSecond) {
    out.budgetSecond = second;
    out.budget.fill(0);
  }
  while (out.sending && out.outstanding[i] < out.window && out.budget[i] < out.cap) {
    out.budget[i]++;
    sendOne(i);
  }
}

async function run(cmd: Extract<RelayCommand, { op: "run" }>): Promise<RelayReply> {
  const c = link!.count;
  out.sent = new Array(c).fill(0);
  out.outstanding = new Array(c).fill(0);
  out.budget = new Array(c).fill(0);
  out.confirmed = 0;
  out.errors = {};
  out.window = cmd.window;
  out.cap = cmd.cap;
  out.closedLoop = cmd.rate === 0;
  await sleep(Math.max(0, cmd.start - sharedNow()));
  const end = cmd.start + cmd.seconds * 1000;
  out.sending = true;
  if (out.closedLoop) {
    for (let i = 0; i < c; i++) fill(i);
    // Refill every few ms too, in case a window drained while its budget was spent.
    while (sharedNow() < end) {
      await sleep(20);
      for (let i = 0; i < c; i++) fill(i);
    }
  } else {
    // Open loop: what is due at the rate, every 2 ms, round robin over the senders.
    let total = 0;
    let next = 0;
    while (sharedNow() < end) {
      const due = Math.floor(((sharedNow() - cmd.start) / 1000) * cmd.rate);
      for (; total < due; total++) {
        sendOne(next);
        next = (next + 1) % c;
      }
      await sleep(2);
    }
  }
  out.sending = false;
  const sent = out.sent.reduce((a, b) => a + b, 0);
  const errorCount = () => Object.values(out.errors).reduce((a, b) => a + b, 0);
  const drainUntil = performance.now() + 10_000;
  while (out.confirmed + errorCount() < sent && performance.now() < drainUntil) await sleep(20);
  return { op: "ran", sent, confirmed: out.confirmed, errors: out.errors };
}

function summary(values: number[]): LatencySummary {
  const sorted = values.sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

async function handle(cmd: RelayCommand): Promise<RelayReply | null> {
  switch (cmd.op) {
    case "clock":
      return { op: "clock", now: sharedNow() };
    case "setup": {
      body = Uint8Array.fromBase64(cmd.body);
      if (body.length < STAMP_BYTES) body = new Uint8Array(STAMP_BYTES);
      const options = { port: cmd.port, names: cmd.names, targets: cmd.targets, events };
      link = cmd.engine === "nats"
        ? await (await import("./_relay_nats.ts")).natsLink(cmd.role, options)
        : await peerstreamLink(cmd.role, options);
      return { op: "ready" };
    }
    case "arm":
      into.seen = [];
      into.latencies = [];
      into.received =
        into.duplicates =
        into.malformed =
        into.inWindow =
          0;
      into.start = cmd.start;
      into.end = cmd.end;
      into.correction = cmd.correction;
      into.samples = cmd.samples;
      return { op: "armed" };
    case "run":
      return await run(cmd);
    case "report": {
      const latency = summary(into.latencies);
      return {
        op: "report",
        received: into.received,
        duplicates: into.duplicates + into.malformed,
        inWindow: into.inWindow,
        latency,
        samples: into.samples ? into.latencies.map((ms) => Math.round(ms * 1000) / 1000) : [],
      };
    }
    case "quit":
      await link?.close();
      return null;
  }
}

async function reply(message: RelayReply) {
  const bytes = new TextEncoder().encode(JSON.stringify(message) + "\n");
  let at = 0;
  while (at < bytes.length) at += await Deno.stdout.write(bytes.subarray(at));
}

async function main() {
  let rest = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    rest += text;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === "") continue;
      let answer: RelayReply | null;
      try {
        answer = await handle(parseCommand(line));
      } catch (error) {
        answer = { op: "failed", message: String((error as Error)?.stack ?? error) };
      }
      if (answer === null) return;
      await reply(answer);
    }
  }
}

if (import.meta.main) await main();
