/**
 * The message load in processes of its own: one process for the senders and one for the
 * receivers (`_relay_child.ts`), each started with `deno run` and the bench's permissions and
 * driven over stdin/stdout. The bench measures each process's CPU from `/proc` over the same
 * window as the server's, so that every figure says which side was busy.
 * @module
 */

import { stopChild } from "./_daemon.ts";
import {
  busyCores,
  type ProcSample,
  readMachineCpu,
  readProc,
  readProcs,
  waitForQuiet,
} from "./_proc.ts";
import {
  clockOffset,
  lostMessages,
  parseReply,
  type RelayCommand,
  type RelayCounts,
  type RelayEngine,
  type RelayReply,
  sharedNow,
} from "./_relay_wire.ts";
import { percentile, sleep } from "./_stats.ts";

/** The permissions of `deno task bench`, given to every load process. */
export const BENCH_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

class _Proc {
  readonly child: Deno.ChildProcess;
  readonly stderr: string[] = [];
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending: ((reply: RelayReply | Error) => void)[] = [];
  readonly done: Promise<void>;

  constructor() {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...BENCH_PERMISSIONS, new URL("./_relay_child.ts", import.meta.url).pathname],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.done = Promise.all([this.#readReplies(), this.#readStderr()]).then(() => {});
  }

  async #readReplies() {
    let rest = "";
    for await (const text of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        let reply: RelayReply | Error;
        try {
          reply = parseReply(line);
        } catch (error) {
          reply = error as Error;
        }
        this.#pending.shift()?.(reply);
      }
    }
    const gone = new Error(
      `Relay load process exited; its stderr:\n${this.stderr.slice(-10).join("\n")}`,
    );
    for (const p of this.#pending.splice(0)) p(gone);
  }

  async #readStderr() {
    for await (const text of this.child.stderr.pipeThrough(new TextDecoderStream())) {
      this.stderr.push(...text.split("\n").filter((l) => l.trim() !== ""));
    }
  }

  async ask(command: RelayCommand): Promise<RelayReply> {
    const answer = new Promise<RelayReply | Error>((resolve) => this.#pending.push(resolve));
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const reply = await answer;
    if (reply instanceof Error) throw reply;
    if (reply.op === "failed") throw new Error(`Relay load process failed: ${reply.message}`);
    return reply;
  }

  /** Its clock's offset from ours, from 30 round trips. */
  async calibrate(): Promise<{ offset: number; error: number }> {
    const samples = [];
    for (let i = 0; i < 30; i++) {
      const sent = sharedNow();
      const reply = await this.ask({ op: "clock" });
      const received = sharedNow();
      if (reply.op === "clock") samples.push({ sent, theirs: reply.now, received });
    }
    return clockOffset(samples);
  }

  async quit() {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ op: "quit" }) + "\n"));
      await this.#writer.close();
    } catch {
      // Already gone.
    }
    // Asked to quit already: SIGKILL only if it has not exited within 10 s.
    await stopChild(this.child, { signal: null });
    await this.done;
  }
}

/**
 * How the connections are laid out over the two load processes A and B.
 * - `mixed`: the shape of scenario 5, each connection sends to the next and answers what it gets;
 *   A's connection i sends to B's i, B's i to A's i + 1, so every message crosses from one
 *   process to the other and each process both sends and receives.
 * - `split`: A holds only senders, B only receivers (A's i sends to B's i + 1).
 */
export type RelayTopology = "mixed" | "split";

/** Options for {@linkcode RelayLoad.start}. */
export interface RelayLoadOptions {
  /** peerstream or NATS. */
  engine: RelayEngine;
  /** The server's port. */
  port: number;
  /** The layout. */
  topology: RelayTopology;
  /** Connection names of process A and of process B (as many each). */
  names: { a: string[]; b: string[] };
  /** The sealed body every message carries (stamped over its first 16 bytes). */
  body: Uint8Array;
}

/** Options for {@linkcode RelayLoad.run}. */
export interface RelayRunOptions {
  /** Sending window, seconds. */
  seconds: number;
  /** Total messages per second, open loop; 0 for closed loop (window and cap). */
  rate: number;
  /** Unconfirmed messages per sending connection, closed loop. @default {32} */
  window?: number;
  /** Sends per second per sending connection, closed loop. @default {900} */
  cap?: number;
  /** Reads the server's CPU (and memory). */
  readServer: () => Promise<ProcSample>;
  /**
   * The processes of the system under test (the server, and a peerstream server streaming to
   * viewers), so that other work on the machine can be told apart.
   */
  ownPids: readonly number[];
  /**
   * The longest wait for a quiet moment first, ms; 0 while viewers stream, whose 30 s title must
   * outlast the window. @default {5000}
   */
  quietMs?: number;
}

/** What one run in separate processes measured. */
export interface ProcRelayRun extends RelayCounts {
  /** send → deliver, ms, clocks corrected (open loop only; NaN in closed loop). */
  latency: { p50: number; p99: number; n: number };
  /**
   * Shares of one core over the window: the server, load process A, load process B, the whole
   * machine's busy cores (every process), and the other work: the machine minus the system under
   * test, the load processes and the bench process.
   */
  cpu: { server: number; a: number; b: number; machine: number; other: number };
}

/** Another process's clock minus ours, and the half round trip that bounds its error, ms. */
export interface ClockOffset {
  /** The offset. */
  offset: number;
  /** Its error bound. */
  error: number;
}

interface _Side {
  proc: _Proc;
  clock: ClockOffset;
  sends: boolean;
  receives: boolean;
  /** The process whose messages this one receives. */
  from: _Side | null;
}

/** Two load processes, connected and ready. */
export class RelayLoad {
  readonly #sides: [_Side, _Side];

  private constructor(sides: [_Side, _Side]) {
    this.#sides = sides;
  }

  /**
   * Starts both processes, measures their clock offsets and connects their clients.
   *
   * @param options Engine, port, layout, names and body.
   * @returns The load, ready to run.
   */
  static async start(options: RelayLoadOptions): Promise<RelayLoad> {
    const pa = new _Proc();
    const pb = new _Proc();
    try {
      const mixed = options.topology === "mixed";
      const a: _Side = {
        proc: pa,
        clock: await pa.calibrate(),
        sends: true,
        receives: mixed,
        from: null,
      };
      const b: _Side = {
        proc: pb,
        clock: await pb.calibrate(),
        sends: mixed,
        receives: true,
        from: a,
      };
      if (mixed) a.from = b;
      const { a: na, b: nb } = options.names;
      const c = nb.length;
      const common = { engine: options.engine, port: options.port, body: options.body.toBase64() };
      await pa.ask({
        op: "setup",
        ...common,
        role: mixed ? "both" : "send",
        names: na,
        targets: na.map((_, i) => nb[mixed ? i : (i + 1) % c]),
      });
      await pb.ask({
        op: "setup",
        ...common,
        role: mixed ? "both" : "receive",
        names: nb,
        targets: mixed ? nb.map((_, i) => na[(i + 1) % c]) : [],
      });
      return new RelayLoad([a, b]);
    } catch (error) {
      await Promise.all([pa.quit(), pb.quit()]);
      throw error;
    }
  }

  /** Each process's id and measured clock offset from the bench's. */
  get processes(): { pid: number; clock: ClockOffset }[] {
    return this.#sides.map((s) => ({ pid: s.proc.child.pid, clock: s.clock }));
  }

  /**
   * Runs one window of traffic and measures it.
   *
   * @param options Length, rate or window and cap, and the server reader.
   * @returns The counts, latencies and CPU shares.
   */
  async run(options: RelayRunOptions): Promise<ProcRelayRun> {
    const own = [...options.ownPids, ...this.#sides.map((s) => s.proc.child.pid), Deno.pid];
    // Other work on a shared machine: start in a quiet moment if one comes soon.
    await waitForQuiet(own, { maxMs: options.quietMs ?? 5000 });
    const start = sharedNow() + 300;
    const end = start + options.seconds * 1000;
    const senders = this.#sides.filter((s) => s.sends);
    const receivers = this.#sides.filter((s) => s.receives);
    const samples = options.rate > 0;
    for (const side of receivers) {
      const own = side.clock.offset;
      // A raw latency is (receiver clock − sender clock) too large: correct it.
      const correction = (side.from?.clock.offset ?? own) - own;
      await side.proc.ask({ op: "arm", start: start + own, end: end + own, correction, samples });
    }
    const runs = senders.map((side) =>
      side.proc.ask({
        op: "run",
        start: start + side.clock.offset,
        seconds: options.seconds,
        rate: options.rate / senders.length,
        window: options.window ?? 32,
        cap: options.cap ?? 900,
      })
    );
    const read = () =>
      Promise.all([
        options.readServer(),
        ...this.#sides.map((s) => readProc(s.proc.child.pid)),
        readProcs(own),
      ]);
    await sleep(start - sharedNow());
    const [p0, m0] = await Promise.all([read(), readMachineCpu()]);
    await sleep(end - sharedNow());
    const [p1, m1] = await Promise.all([read(), readMachineCpu()]);
    const ran = await Promise.all(runs);
    const reports = await Promise.all(receivers.map((s) => s.proc.ask({ op: "report" })));
    const share = (i: number) =>
      (p1[i].cpuSeconds - p0[i].cpuSeconds) / ((p1[i].at - p0[i].at) / 1000);
    const out: ProcRelayRun = {
      sent: 0,
      received: 0,
      duplicates: 0,
      lost: 0,
      confirmed: 0,
      errors: {},
      perSecond: 0,
      latency: { p50: NaN, p99: NaN, n: 0 },
      cpu: {
        server: share(0),
        a: share(1),
        b: share(2),
        machine: busyCores(m0, m1),
        other: Math.max(0, busyCores(m0, m1) - share(3)),
      },
    };
    const all: number[] = [];
    for (const r of ran) {
      if (r.op !== "ran") throw new Error("Relay load out of step");
      out.sent += r.sent;
      out.confirmed += r.confirmed;
      for (const [code, n] of Object.entries(r.errors)) {
        out.errors[code] = (out.errors[code] ?? 0) + n;
      }
    }
    for (const r of reports) {
      if (r.op !== "report") throw new Error("Relay load out of step");
      out.received += r.received;
      out.duplicates += r.duplicates;
      out.perSecond += r.inWindow / options.seconds;
      for (const ms of r.samples) all.push(ms);
    }
    out.lost = lostMessages(out);
    all.sort((x, y) => x - y);
    out.latency = { p50: percentile(all, 50), p99: percentile(all, 99), n: all.length };
    return out;
  }

  /** Closes the connections and ends both processes. */
  async close(): Promise<void> {
    await Promise.all(this.#sides.map((s) => s.proc.quit()));
  }
}
