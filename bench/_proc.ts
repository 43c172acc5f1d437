/**
 * Process and machine facts from `/proc` (Linux): CPU time and resident memory of a process, and
 * the facts recorded next to every result. Reading one process lives in `tests/_proc.ts` (the
 * bench may use test support, never the reverse).
 * @module
 */

import { CLK_TCK, type ProcSample } from "../tests/_proc.ts";

export { CLK_TCK, type ProcSample, readProc } from "../tests/_proc.ts";

/** What is recorded about the machine with every run. */
export interface MachineFacts {
  /** Logical cores. */
  cores: number;
  /** Total memory, bytes. */
  memoryBytes: number;
  /** CPU model name. */
  cpu: string;
  /** Deno, V8 and TypeScript versions. */
  deno: typeof Deno.version;
  /** First line of `ffmpeg -version`. */
  ffmpeg: string;
  /** `git rev-parse HEAD`, with `-dirty` when the tree has changes. */
  commit: string;
  /** Kernel release. */
  kernel: string;
  /** 1-minute load average when the run started. */
  loadAverage: number;
  /** When the run started, ISO 8601. */
  date: string;
}

async function firstLine(
  cmd: string,
  args: string[],
  cwd?: string,
  pattern?: RegExp,
): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "null" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    if (pattern !== undefined) return pattern.exec(text)?.[1].trim() ?? "unknown";
    return text.split("\n")[0].trim();
  } catch {
    return "unknown";
  }
}

/**
 * Collects the machine facts.
 *
 * @param root The repository folder, for the git commit.
 * @returns The facts.
 */
export async function machineFacts(root: string): Promise<MachineFacts> {
  const cpu = await firstLine("cat", ["/proc/cpuinfo"], undefined, /^model name\s*:\s*(.+)$/m);
  const commit = await firstLine("git", ["rev-parse", "--short=12", "HEAD"], root);
  const dirty = await firstLine("git", ["status", "--porcelain", "--untracked-files=no"], root);
  return {
    cores: navigator.hardwareConcurrency,
    memoryBytes: Deno.systemMemoryInfo().total,
    cpu,
    deno: Deno.version,
    ffmpeg: await firstLine("ffmpeg", ["-hide_banner", "-version"]),
    commit: dirty === "" || dirty === "unknown" ? commit : `${commit}-dirty`,
    kernel: Deno.osRelease(),
    loadAverage: Deno.loadavg()[0],
    date: new Date().toISOString(),
  };
}

/**
 * Sums CPU time and memory over several processes, with one `cat`.
 *
 * @param pids The processes.
 * @returns The summed sample (peak RSS is the sum of each one's peak).
 */
export async function readProcs(pids: readonly number[]): Promise<ProcSample> {
  const before = performance.now();
  const out = await new Deno.Command("cat", {
    args: pids.flatMap((pid) => [`/proc/${pid}/stat`, `/proc/${pid}/status`]),
    stdout: "piped",
    stderr: "null",
  }).output();
  const at = (before + performance.now()) / 2;
  const sum = { cpuSeconds: 0, rssBytes: 0, peakRssBytes: 0, at };
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const paren = line.lastIndexOf(")");
    if (/^\d+ \(/.test(line) && paren > 0) {
      const fields = line.slice(paren + 2).split(" ");
      sum.cpuSeconds += (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    } else if (line.startsWith("VmRSS:")) {
      sum.rssBytes += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
    } else if (line.startsWith("VmHWM:")) {
      sum.peakRssBytes += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
    }
  }
  return sum;
}

/** The whole machine's CPU time from `/proc/stat`, every core and every process. */
export interface MachineCpu {
  /** Busy seconds summed over cores (all but idle and iowait). */
  busySeconds: number;
  /** When it was taken, ms (`performance.now()`). */
  at: number;
}

/**
 * Reads the whole machine's busy CPU time, so that a figure can say whether the cores were full
 * (other work on the machine included).
 *
 * @returns The sample; zero busy time when `/proc/stat` cannot be read.
 */
export async function readMachineCpu(): Promise<MachineCpu> {
  const before = performance.now();
  const out = await new Deno.Command("cat", {
    args: ["/proc/stat"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const at = (before + performance.now()) / 2;
  const line = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
  if (!line.startsWith("cpu ")) return { busySeconds: 0, at };
  // user nice system idle iowait irq softirq steal …
  const ticks = line.slice(4).trim().split(/\s+/).map(Number);
  const busy = ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3] - ticks[4];
  return { busySeconds: busy / CLK_TCK, at };
}

/**
 * The cores the whole machine kept busy between two samples.
 *
 * @param a The earlier sample.
 * @param b The later sample.
 * @returns Busy cores (0 to the core count).
 */
export function busyCores(a: MachineCpu, b: MachineCpu): number {
  return (b.busySeconds - a.busySeconds) / ((b.at - a.at) / 1000);
}

/**
 * Waits, up to `maxMs`, for a moment when the machine is quiet apart from `own` processes: other
 * work (other people's test suites on a shared machine) below `share` of a core over 500 ms. A
 * measurement window that starts in a quiet moment is less often disturbed; the rows still report
 * the other work during the window, since it may start again.
 *
 * @param own The processes under test and the bench's own.
 * @param options The threshold (cores) and the longest wait.
 * @returns How long it waited, ms, and the last other work seen (cores).
 */
export async function waitForQuiet(
  own: readonly number[],
  options: { share?: number; maxMs?: number } = {},
): Promise<{ waitedMs: number; otherCores: number }> {
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < (options.maxMs ?? 5000)) {
    const [m0, p0] = await Promise.all([readMachineCpu(), readProcs(own)]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [m1, p1] = await Promise.all([readMachineCpu(), readProcs(own)]);
    other = busyCores(m0, m1) - (p1.cpuSeconds - p0.cpuSeconds) / ((p1.at - p0.at) / 1000);
    if (other < (options.share ?? 0.25)) break;
  }
  return { waitedMs: performance.now() - t0, otherCores: other };
}

/** Each thread's CPU time on a CPU, ns by thread id, and when it was read. */
export interface ThreadsCpu {
  /** ns on a CPU by thread id. */
  threads: Map<number, number>;
  /** When they were read, `performance.now()` ms. */
  at: number;
}

/**
 * A process's threads' CPU time with nanosecond resolution, where `/proc/PID/stat` counts 10 ms
 * ticks: each thread's time on a CPU (`/proc/PID/task/TID/schedstat`, first field), read with one
 * `grep` (Deno refuses to read `/proc` itself without `--allow-all`).
 *
 * @param pid The process.
 * @returns Its threads' CPU ns by thread id.
 */
export async function readThreadsCpu(pid: number): Promise<ThreadsCpu> {
  const before = performance.now();
  const out = await new Deno.Command("sh", {
    args: ["-c", `grep -H . /proc/${Math.trunc(pid)}/task/*/schedstat`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const at = (before + performance.now()) / 2;
  const threads = new Map<number, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const match = /\/task\/(\d+)\/schedstat:(\d+) /.exec(line);
    if (match !== null) threads.set(Number(match[1]), Number(match[2]));
  }
  return { threads, at };
}

/**
 * CPU seconds a process's threads spent between two readings: each thread's growth, a thread
 * born since counted whole. A thread that ended in between is left out rather than subtracted
 * (summing the threads instead would take its whole life off); a runtime's pool thread ends only
 * after idling (tokio's keep-alive: 10 s), so little of its work is lost from a window that long.
 *
 * @param a The earlier reading.
 * @param b The later one.
 * @returns CPU seconds, and the seconds between the readings.
 */
export function cpuBetween(a: ThreadsCpu, b: ThreadsCpu): { cpuSeconds: number; seconds: number } {
  let nanoseconds = 0;
  for (const [tid, ns] of b.threads) nanoseconds += Math.max(0, ns - (a.threads.get(tid) ?? 0));
  return { cpuSeconds: nanoseconds / 1e9, seconds: (b.at - a.at) / 1000 };
}
