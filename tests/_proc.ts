/**
 * Process facts from `/proc` (Linux): CPU time and resident memory of one process. Shared test
 * support: tests and the bench read processes the same way (`bench/_proc.ts` re-exports this).
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`). */
export const CLK_TCK = 100;

/** CPU time and memory of one process at one moment. */
export interface ProcSample {
  /** User plus system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident set size, bytes (`VmRSS`). */
  rssBytes: number;
  /** Peak resident set size, bytes (`VmHWM`). */
  peakRssBytes: number;
  /** When it was taken, ms (`performance.now()`). */
  at: number;
}

/**
 * Reads a process's CPU time and memory. Deno asks for `--allow-all` to read `/proc` directly, so
 * this runs `cat` (`--allow-run`), which keeps the bench's permissions narrow.
 *
 * @param pid The process id.
 * @param tid A thread of it (its main thread's id is `pid`): that thread's CPU time only; memory
 * is the process's either way.
 * @returns The sample; zeros when the process is gone.
 */
export async function readProc(pid: number, tid?: number): Promise<ProcSample> {
  const before = performance.now();
  const dir = tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
  const out = await new Deno.Command("cat", {
    args: [`${dir}/stat`, `${dir}/status`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const at = (before + performance.now()) / 2;
  const text = new TextDecoder().decode(out.stdout);
  const newline = text.indexOf("\n");
  if (!out.success || newline < 0) return { cpuSeconds: 0, rssBytes: 0, peakRssBytes: 0, at };
  const stat = text.slice(0, newline);
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
    rssBytes: kb("VmRSS") * 1024,
    peakRssBytes: kb("VmHWM") * 1024,
    at,
  };
}
