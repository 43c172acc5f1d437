/**
 * A shaped link for tests and the benchmark (issue 22): a network namespace whose only way out is
 * a veth pair in a private /30, with a token-bucket qdisc (`tc … tbf`) on the host side's egress,
 * so everything the server sends toward a viewer inside the namespace goes at most at the link's
 * rate. The rate can change while traffic flows (`tc qdisc change`). The server listens on the
 * host side ({@linkcode ShapedLink.hostAddress}); a viewer runs inside with
 * {@linkcode ShapedLink.exec} (`ip netns exec NS …`).
 *
 * Needs root (the CI runs as root) and `ip`/`tc` (iproute2). `netem` (delay, loss) is not
 * available on these machines (FIELD_NOTES), so this link has no added latency.
 *
 * Every namespace and veth this module makes is named after the process that made it
 * (`peerstream-<pid>-<n>`, `pv<pid>h<n>`): {@linkcode withShapedLink} removes its own even when the
 * body throws, and {@linkcode removeStaleLinks} (run before each new link) removes those whose
 * process is gone, never another live process's.
 * @module
 */

/** The prefix of every namespace this module makes. */
export const NETNS_PREFIX = "peerstream-";

/** Options for {@linkcode openShapedLink}. */
export interface ShapedLinkOptions {
  /** The link's rate toward the viewer, bits/s. */
  rateBitsPerSecond: number;
  /**
   * The bucket's size, bytes: how much may go at line rate after a quiet moment. @default {16_384}
   */
  burstBytes?: number;
  /**
   * The longest a packet may wait in the bucket's queue before it is dropped, ms (the queue is
   * `rate × latency` bytes, like a modest router's buffer). @default {200}
   */
  latencyMs?: number;
}

/** A live shaped link. */
export interface ShapedLink {
  /** The namespace's name. */
  ns: string;
  /** The host side's veth (its egress is shaped). */
  hostDevice: string;
  /** The host side's address, where the server listens. */
  hostAddress: string;
  /** The viewer's address inside the namespace. */
  viewerAddress: string;
  /** The current rate, bits/s. */
  readonly rateBitsPerSecond: number;
  /** The prefix that runs a command inside the namespace. */
  exec: readonly string[];
  /** Changes the rate (`tc qdisc change`), keeping the burst and latency. */
  setRate(bitsPerSecond: number): Promise<void>;
  /** The bytes the shaped qdisc has sent so far (`tc -s qdisc`). */
  sentBytes(): Promise<number>;
  /** Removes the namespace and both ends of the veth; safe to call twice. */
  close(): Promise<void>;
}

/** Runs a command; resolves with its stdout or throws with its stderr. */
async function run(args: string[], allowFail = false): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(args[0], {
      args: args.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot run "${args[0]}": ${error}; install iproute2 (ip, tc) and run as root`,
    );
  }
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success && !allowFail) {
    throw new Error(
      `Cannot run "${args.join(" ")}": ${
        new TextDecoder().decode(output.stderr).trim()
      }; shaped links need root and iproute2`,
    );
  }
  return text;
}

function alive(pid: number): boolean {
  try {
    // Signal 0 is not in Deno's list: SIGCONT is harmless to any process and fails once it is gone.
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/**
 * The namespaces (`ip netns list`) and veths (`ip link`) this module made.
 *
 * @returns Their names and the pid of the process that made each.
 */
export async function listLinks(): Promise<{ name: string; pid: number; kind: "ns" | "veth" }[]> {
  const found: { name: string; pid: number; kind: "ns" | "veth" }[] = [];
  for (const line of (await run(["ip", "netns", "list"])).split("\n")) {
    const m = /^(peerstream-(\d+)-\d+)\b/.exec(line.trim());
    if (m) found.push({ name: m[1], pid: Number(m[2]), kind: "ns" });
  }
  for (const line of (await run(["ip", "-o", "link", "show", "type", "veth"])).split("\n")) {
    const m = /^\d+:\s+(pv(\d+)h\d+)[@:]/.exec(line);
    if (m) found.push({ name: m[1], pid: Number(m[2]), kind: "veth" });
  }
  return found;
}

/**
 * Removes the namespaces and veths left by processes that are gone (a killed test run).
 *
 * @returns The names removed.
 */
export async function removeStaleLinks(): Promise<string[]> {
  const removed: string[] = [];
  for (const link of await listLinks()) {
    if (alive(link.pid)) continue;
    const args = link.kind === "ns"
      ? ["ip", "netns", "delete", link.name]
      : ["ip", "link", "delete", link.name];
    await run(args, true);
    removed.push(link.name);
  }
  return removed;
}

let counter = 0;

/** The tbf arguments for a rate, with the link's burst and latency. */
function tbfArgs(rate: number, burstBytes: number, latencyMs: number): string[] {
  return [
    "tbf",
    "rate",
    `${Math.round(rate)}bit`,
    "burst",
    String(burstBytes),
    "latency",
    `${latencyMs}ms`,
  ];
}

/**
 * Makes a shaped link. Prefer {@linkcode withShapedLink}, which always removes it.
 *
 * @param options The rate, burst and latency.
 * @returns The link.
 * @throws {Error} When a step fails (not root, no iproute2); what was made is removed first.
 */
export async function openShapedLink(options: ShapedLinkOptions): Promise<ShapedLink> {
  await removeStaleLinks();
  const n = counter++;
  const ns = `${NETNS_PREFIX}${Deno.pid}-${n}`;
  const hostDevice = `pv${Deno.pid}h${n}`;
  const viewerDevice = `pv${Deno.pid}v${n}`;
  // A /30 in 10.213.0.0/16 picked from the pid and the counter: it exists only on this veth pair.
  const block = ((Deno.pid * 7 + n) % 16_384) * 4;
  const base = `10.213.${block >> 8}.${block & 255}`.split(".").map(Number);
  const hostAddress = `10.213.${base[2]}.${base[3] + 1}`;
  const viewerAddress = `10.213.${base[2]}.${base[3] + 2}`;
  const burst = options.burstBytes ?? 16_384;
  const latency = options.latencyMs ?? 200;
  let rate = options.rateBitsPerSecond;
  let closed = false;
  const exec = ["ip", "netns", "exec", ns] as const;
  const close = async () => {
    if (closed) return;
    closed = true;
    // Deleting the namespace deletes its veth end, and with it the pair; the host end is deleted
    // by name too, in case the namespace was never made.
    await run(["ip", "netns", "delete", ns], true);
    await run(["ip", "link", "delete", hostDevice], true);
  };
  try {
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "link", "add", hostDevice, "type", "veth", "peer", "name", viewerDevice]);
    await run(["ip", "link", "set", viewerDevice, "netns", ns]);
    await run(["ip", "addr", "add", `${hostAddress}/30`, "dev", hostDevice]);
    await run(["ip", "link", "set", hostDevice, "up"]);
    await run([...exec, "ip", "addr", "add", `${viewerAddress}/30`, "dev", viewerDevice]);
    await run([...exec, "ip", "link", "set", viewerDevice, "up"]);
    await run([...exec, "ip", "link", "set", "lo", "up"]);
    await run(["tc", "qdisc", "add", "dev", hostDevice, "root", ...tbfArgs(rate, burst, latency)]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    ns,
    hostDevice,
    hostAddress,
    viewerAddress,
    get rateBitsPerSecond() {
      return rate;
    },
    exec,
    async setRate(bitsPerSecond) {
      await run([
        "tc",
        "qdisc",
        "change",
        "dev",
        hostDevice,
        "root",
        ...tbfArgs(bitsPerSecond, burst, latency),
      ]);
      rate = bitsPerSecond;
    },
    async sentBytes() {
      const text = await run(["tc", "-s", "qdisc", "show", "dev", hostDevice]);
      const m = /Sent (\d+) bytes/.exec(text);
      return m === null ? 0 : Number(m[1]);
    },
    close,
  };
}

/**
 * Runs a body with a shaped link, and removes the link afterwards, even when the body throws.
 *
 * @param options The rate, burst and latency.
 * @param body What to run with the link.
 * @returns What the body returns.
 */
export async function withShapedLink<T>(
  options: ShapedLinkOptions,
  body: (link: ShapedLink) => Promise<T>,
): Promise<T> {
  const link = await openShapedLink(options);
  try {
    return await body(link);
  } finally {
    await link.close();
  }
}

/** One step of a rate schedule. */
export interface RateStep {
  /** When, ms after the schedule starts. */
  atMs: number;
  /** The rate from then on, bits/s. */
  bitsPerSecond: number;
}

/**
 * Changes a link's rate on a schedule until the last step or the signal.
 *
 * @param link The link.
 * @param steps The steps, in time order (the first usually at 0).
 * @param options `signal` stops the schedule; `onStep` is told each change (performance.now()).
 */
export async function runSchedule(
  link: ShapedLink,
  steps: readonly RateStep[],
  options: { signal?: AbortSignal; onStep?: (step: RateStep, at: number) => void } = {},
): Promise<void> {
  const start = performance.now();
  for (const step of steps) {
    const wait = start + step.atMs - performance.now();
    if (wait > 0) {
      const stopped = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), wait);
        options.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(true);
        }, { once: true });
      });
      if (stopped) return;
    }
    if (options.signal?.aborted) return;
    await link.setRate(step.bitsPerSecond);
    options.onStep?.(step, performance.now());
  }
}
