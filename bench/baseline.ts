/**
 * Scenario 8, baselines: the usual do-it-yourself server (one `ffmpeg -re -i FILE -c copy -f
 * mpegts pipe:1` process per viewer) measured the same way, and the loopback ceiling (raw bytes
 * per second one process pushes through 127.0.0.1), so that peerstream's figures read as ratios.
 * @module
 */

import { readProcs } from "./_proc.ts";
import type { BenchContext, Metric, ScenarioResult } from "./_scenario.ts";
import { sleep, summarize } from "./_stats.ts";

/**
 * ffmpeg arguments of one DIY viewer stream: read the file at its native rate, remux to MPEG-TS.
 *
 * @param file The source.
 * @returns The arguments.
 */
export function diyArgs(file: string): string[] {
  return [
    ...["-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", file],
    ...["-c", "copy", "-f", "mpegts", "pipe:1"],
  ];
}

async function runDiy(
  file: string,
  options: { n: number; watchSeconds: number; warmupSeconds: number },
): Promise<{ cpuPerViewerMinute: number; rssPerViewer: number; bytesPerViewerSecond: number }> {
  const children = Array.from({ length: options.n }, () =>
    new Deno.Command("ffmpeg", {
      args: diyArgs(file),
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn());
  let bytes = 0;
  const readers = children.map(async (child) => {
    try {
      for await (const chunk of child.stdout) bytes += chunk.length;
    } catch {
      // Killed.
    }
  });
  const pids = children.map((c) => c.pid);
  const t0 = performance.now();
  await sleep(options.warmupSeconds * 1000);
  const s0 = await readProcs(pids);
  const b0 = bytes;
  await sleep(options.watchSeconds * 1000 - (performance.now() - t0));
  const s1 = await readProcs(pids);
  const b1 = bytes;
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }
  await Promise.all(children.map((c) => c.status));
  await Promise.all(readers);
  const seconds = (s1.at - s0.at) / 1000;
  return {
    cpuPerViewerMinute: (s1.cpuSeconds - s0.cpuSeconds) / (options.n * seconds / 60),
    rssPerViewer: s1.rssBytes / options.n,
    bytesPerViewerSecond: (b1 - b0) / options.n / seconds,
  };
}

/**
 * Measures how many bytes per second one process pushes through a loopback TCP connection.
 *
 * @param seconds How long to push.
 * @returns Bytes per second.
 */
export async function loopbackCeiling(seconds: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const writer = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const reader = await accepted;
  listener.close();
  let received = 0;
  const reading = (async () => {
    const buffer = new Uint8Array(1 << 20);
    while (true) {
      const n = await reader.read(buffer).catch(() => null);
      if (n === null) return;
      received += n;
    }
  })();
  const chunk = new Uint8Array(1 << 20);
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  while (performance.now() < end) await writer.write(chunk);
  const took = (performance.now() - t0) / 1000;
  writer.close();
  await reading;
  reader.close();
  return received / took;
}

/**
 * Runs scenario 8.
 *
 * @param ctx The bench context.
 * @param viewers Scenario 1's results, for the ratios (when it ran).
 * @returns Its results.
 */
export async function baselineScenario(
  ctx: BenchContext,
  viewers?: ScenarioResult,
): Promise<ScenarioResult> {
  const counts = ctx.quick ? [10] : [10, 50];
  const watchSeconds = ctx.quick ? 3 : 12;
  const warmupSeconds = ctx.quick ? 1 : 4;
  const metrics: Metric[] = [];
  const notes: string[] = [];
  for (const n of counts) {
    const cpu: number[] = [];
    const rss: number[] = [];
    const rate: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      ctx.log(`baseline: ${n} ffmpeg -re processes, rep ${rep + 1}/${ctx.reps}`);
      const r = await runDiy(ctx.file, { n, watchSeconds, warmupSeconds });
      cpu.push(r.cpuPerViewerMinute);
      rss.push(r.rssPerViewer / 2 ** 20);
      rate.push((r.bytesPerViewerSecond * 8) / 1000);
    }
    metrics.push(
      { name: `ffmpeg × ${n}: CPU per viewer-minute`, unit: "s", values: cpu },
      { name: `ffmpeg × ${n}: RSS per viewer`, unit: "MiB", values: rss },
      { name: `ffmpeg × ${n}: media per viewer`, unit: "kbit/s", values: rate },
    );
    const ours = (name: string) =>
      viewers?.metrics.find((m) => m.name === `N=${n}: ${name}`)?.values ?? [];
    const ourCpu = summarize(ours("server CPU per viewer-minute")).median;
    const ourRss = summarize(ours("server RSS per viewer")).median;
    if (ourCpu > 0) {
      metrics.push({
        name: `N=${n}: peerstream / ffmpeg CPU per viewer`,
        unit: "ratio",
        values: [ourCpu / summarize(cpu).median],
      });
    }
    if (ourRss > 0) {
      metrics.push({
        name: `N=${n}: peerstream / ffmpeg RSS per viewer`,
        unit: "ratio",
        values: [ourRss / 1024 / summarize(rss).median],
      });
    }
  }
  const ceiling: number[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) ceiling.push(await loopbackCeiling(ctx.quick ? 1 : 3));
  metrics.push({
    name: "loopback ceiling, one process, one connection",
    unit: "MB/s",
    values: ceiling.map((b) => b / 1e6),
  });
  const ceilingMedian = summarize(ceiling).median;
  const largest = viewers?.metrics.find((m) => m.name.startsWith("largest N"))?.values[0];
  if (largest !== undefined && largest > 0) {
    const perViewer = summarize(
      viewers?.metrics.find((m) => m.name === `N=${largest}: media per viewer`)?.values ?? [],
    ).median;
    if (perViewer > 0) {
      metrics.push({
        name: `N=${largest}: peerstream output / loopback ceiling`,
        unit: "%",
        values: [((largest * perViewer * 1000) / 8 / ceilingMedian) * 100],
      });
    }
  }
  notes.push(
    `DIY: one "ffmpeg ${
      diyArgs("FILE").join(" ")
    }" per viewer, stdout read by the bench; CPU and RSS summed over the ffmpeg processes, after a ${warmupSeconds} s warm-up. Ratios use scenario 1 at the same N (RSS per viewer there is the server's peak RSS above its RSS before the viewers connected, over N)`,
  );
  return { id: "baseline", title: "8. Baselines", metrics, failures: [], notes };
}
