/**
 * A private NATS server (Debian's `nats-server`) on a free loopback port, with its config and pid
 * file in a temporary folder; stopped and removed after. No system service is touched.
 * @module
 */

import { freePort, stopChild, waitForPort } from "./_daemon.ts";

/** A running private NATS server. */
export interface NatsServer {
  /** Its port. */
  port: number;
  /** Its process id. */
  pid: number;
  /** Its stderr lines so far. */
  log: string[];
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * The server's configuration: loopback only, room for every bench connection, the default
 * 1 MB payload limit, and no JetStream (core publish/subscribe, as peerstream relays).
 *
 * @param options The port and the folder for the pid file.
 * @returns The configuration text.
 */
export function natsConfig(options: { port: number; dir: string }): string {
  return `# Written by the peerstream bench; removed when the bench stops this server.
host: 127.0.0.1
port: ${options.port}
pid_file: "${options.dir}/nats.pid"
max_connections: 16000
max_payload: 1MB
write_deadline: "10s"
`;
}

/**
 * Starts a private NATS server and waits until it accepts connections.
 *
 * @param options The `nats-server` executable.
 * @returns The server.
 * @throws {Error} When it does not start within 10 s.
 */
export async function startNats(options: { binary: string }): Promise<NatsServer> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-bench-nats-" });
  let lastError = "";
  // The port is freed for nats-server and could be taken in between: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/nats.conf`, natsConfig({ port, dir }));
    const child = new Deno.Command(options.binary, {
      args: ["-c", `${dir}/nats.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log: string[] = [];
    const reading = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        log.push(...text.split("\n").filter((l) => l.trim() !== ""));
      }
    })();
    const stop = async (removeDir: boolean) => {
      await stopChild(child, { signal: "SIGTERM" });
      await reading;
      if (removeDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
    if (await waitForPort(child, port)) {
      return { port, pid: child.pid, log, stop: () => stop(true) };
    }
    await stop(false);
    lastError = log.slice(-2).join(" / ");
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw new Error(`Cannot start nats-server: ${lastError || "no answer within 10 s"}`);
}
