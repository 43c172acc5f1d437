/**
 * The processes the bench starts beside the server under test (a private nginx or nats-server,
 * the relay load processes): a free loopback port for one, waiting until it listens, and stopping
 * it for sure.
 * @module
 */

import { sleep } from "./_stats.ts";

/**
 * A loopback port the kernel picked and that is free again. Another process may take it before
 * the caller's daemon binds it, so callers retry.
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Waits, up to 10 s, until a child accepts connections on a loopback port (and passes `ready`, if
 * given), or exits.
 *
 * @param child The child.
 * @param port Its port.
 * @param ready A further check once it accepts, e.g. that nginx's worker runs.
 * @returns Whether it is up.
 */
export async function waitForPort(
  child: Deno.ChildProcess,
  port: number,
  ready: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<boolean> {
  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = performance.now() + 10_000;
  while (!exited && performance.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      if (await ready()) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(20);
  }
  return false;
}

/**
 * Stops a child: sends `signal` (none when null: it was asked to quit already), then SIGKILLs it
 * and `alsoKill` after 10 s, and resolves once it has exited.
 *
 * @param child The child.
 * @param options The first signal, and processes of its own to kill with it (a killed nginx
 * master would leave its worker running).
 */
export async function stopChild(
  child: Deno.ChildProcess,
  options: { signal: Deno.Signal | null; alsoKill?: readonly number[] },
): Promise<void> {
  if (options.signal !== null) {
    try {
      child.kill(options.signal);
    } catch {
      // Already exited.
    }
  }
  const timer = setTimeout(() => {
    for (const pid of [child.pid, ...(options.alsoKill ?? [])]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already exited.
      }
    }
  }, 10_000);
  await child.status;
  clearTimeout(timer);
}
