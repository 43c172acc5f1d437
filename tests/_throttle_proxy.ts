/**
 * A TCP relay on loopback whose server-to-client direction can be slowed while it runs: a browser
 * reaches the page through it, so that the server's ABR sees a slow viewer (the page's `seg-ack`s
 * come late) and steps down, then a fast one again. Client-to-server bytes pass at once.
 * @module
 */

import type { ReadThrottle } from "./_helpers.ts";

/** A running relay. */
export interface ThrottleProxy {
  /** The port to connect to instead of the server's. */
  port: number;
  /** The rate toward clients, changeable at any time (`Infinity`: no limit). */
  throttle: ReadThrottle;
  /** Closes every relayed connection (a lost link), and goes on accepting new ones. */
  cut(): void;
  /** Stops accepting, closes every relayed connection and waits for them. */
  close(): Promise<void>;
}

/** Largest read relayed at once while throttled, so that the rate applies smoothly. */
const THROTTLED_CHUNK = 16 * 1024;

/**
 * Starts a relay from `127.0.0.1:0` to a port on `127.0.0.1`.
 *
 * @param targetPort The server's port.
 * @returns The relay.
 */
export function startThrottleProxy(targetPort: number): ThrottleProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const throttle: ReadThrottle = { bytesPerSecond: Infinity };
  const conns = new Set<Deno.Conn>();
  const relays: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      conns.add(client);
      relays.push(relay(client, targetPort, throttle, conns));
    }
  })().catch(() => {
    // The listener was closed.
  });
  const closeAll = () => {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed by its pump.
      }
    }
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    throttle,
    cut: closeAll,
    async close() {
      listener.close();
      await accepting;
      closeAll();
      await Promise.all(relays);
    },
  };
}

async function relay(
  client: Deno.Conn,
  targetPort: number,
  throttle: ReadThrottle,
  conns: Set<Deno.Conn>,
): Promise<void> {
  let server: Deno.Conn;
  try {
    server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
  } catch {
    conns.delete(client);
    client.close();
    return;
  }
  conns.add(server);
  const done = () => {
    for (const conn of [client, server]) {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // The other pump closed it.
      }
    }
  };
  await Promise.all([
    pump(client, server, { bytesPerSecond: Infinity }).finally(done),
    pump(server, client, throttle).finally(done),
  ]);
}

async function pump(from: Deno.Conn, to: Deno.Conn, throttle: ReadThrottle): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const slow = throttle.bytesPerSecond !== Infinity;
      const n = await from.read(slow ? buffer.subarray(0, THROTTLED_CHUNK) : buffer);
      if (n === null) return;
      let at = 0;
      while (at < n) at += await to.write(buffer.subarray(at, n));
      if (slow) {
        await new Promise((resolve) => setTimeout(resolve, (n / throttle.bytesPerSecond) * 1000));
      }
    }
  } catch {
    // A reset or a close from the other side ends this direction.
  }
}
