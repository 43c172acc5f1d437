/**
 * Scenario 15, the web door under attack (issue 16), against `serve --web` with its default
 * limits: what an idle connection costs at each door (HTTP before its request head, an upgraded
 * WebSocket, TLS after its handshake), and an honest pair's chat round trip while the door takes
 * cross-origin upgrade storms, WebSocket messages declared at 60 MiB, idle floods and TLS junk. The
 * tests assert behaviour under these attacks (tests/hostile_web_test.ts); the figures live here.
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { generateIdentity } from "../protocol/e2e.ts";
import { connectSession } from "../client/connect.ts";
import type { ClientSession } from "../client/session.ts";
import { WS_OPCODE } from "../server/door/ws_frame.ts";
import { loopbacks } from "../tests/_flood.ts";
import { startServer } from "../tests/_helpers.ts";
import { clientFrame } from "../tests/_ws_client.ts";
import { readProc } from "./_proc.ts";
import { type BenchContext, fromRoot, type Metric, type ScenarioResult } from "./_scenario.ts";
import { sleep } from "./_stats.ts";

/** Connections per address in the idle floods: under the default per-address limit of 64. */
const PER_ADDRESS = 50;

type Door = "http" | "ws" | "tls";

/**
 * Runs scenario 15.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function hostileWebScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const idle = ctx.quick ? 200 : 1000;
  const attackMs = ctx.quick ? 3000 : 10_000;
  const perIdle: Record<Door, number[]> = { http: [], ws: [], tls: [] };
  const quietP99: number[] = [];
  const attackedP99: number[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const door of ["http", "ws", "tls"] as const) {
      ctx.log(`hostile web: ${idle} idle ${door} connections, rep ${rep + 1}/${ctx.reps}`);
      await withWebServer(ctx, door === "tls", async (web) => {
        perIdle[door].push(await idleCost(web, door, idle));
      });
    }
    ctx.log(`hostile web: honest chat during a ${attackMs / 1000} s attack, rep ${rep + 1}`);
    await withWebServer(ctx, false, async (web) => {
      const pair = await ChatPair.start(web.port);
      try {
        quietP99.push(p99(await pair.chatFor(attackMs / 2)));
        const chatting = pair.chatFor(attackMs);
        await attack(web, attackMs);
        attackedP99.push(p99(await chatting));
      } catch (error) {
        failures.push(`honest chat failed under attack: ${(error as Error).message}`);
      } finally {
        await pair.close();
      }
    });
  }
  const metrics: Metric[] = [
    {
      name: `${idle} idle HTTP connections: RSS per connection`,
      unit: "KiB",
      values: perIdle.http,
    },
    { name: `${idle} idle WebSockets: RSS per connection`, unit: "KiB", values: perIdle.ws },
    { name: `${idle} idle TLS connections: RSS per connection`, unit: "KiB", values: perIdle.tls },
    { name: "honest chat round trip p99, quiet", unit: "ms", values: quietP99 },
    { name: "honest chat round trip p99, door attacked", unit: "ms", values: attackedP99 },
  ];
  return {
    id: "hostile-web",
    title: `15. Web door under attack (default limits)${fromRoot(ctx)}`,
    metrics,
    failures,
    notes: [
      `Idle: ${PER_ADDRESS} connections from each of 127.0.0.20… (node:net localAddress): HTTP sends nothing (the 10 s head deadline is not reached), WS is upgraded and silent (the 10 s handshake deadline is not reached), TLS has done its handshake (node:tls client) and sends nothing; RSS after minus before, over N. Attack: from 127.0.0.30… at once, 4 workers of cross-origin upgrades, 4 of WebSockets declaring 60 MiB and sending 1 MiB of it, 4 of plain text and TLS junk to the door, and ${PER_ADDRESS} × 4 idle sockets; the honest pair chats on the TCP port from 127.0.0.1 (sealed message, waits for the receipt) every 20 ms`,
    ],
  };
}

interface WebServer {
  port: number;
  webPort: number;
  pid: number;
}

async function withWebServer(
  ctx: BenchContext,
  secure: boolean,
  fn: (web: WebServer) => Promise<void>,
) {
  const server = await startServer({
    // `--client-root`: the "before" figures of another checkout's server.
    main: ctx.clientRoot === undefined ? undefined : `${ctx.clientRoot}/main.ts`,
    args: ["--web", "127.0.0.1:0", ...(secure ? ["--tls-self-signed"] : [])],
    // The defaults: this is what a real server does under these attacks.
    env: { PEERSTREAM_LIMITS: "{}" },
  });
  try {
    const line = await server.out.waitFor(/^Web page at /, { timeoutMs: 10_000 });
    const webPort = Number(new URL(line.slice("Web page at ".length).trim()).port);
    await fn({ port: server.port, webPort, pid: server.child.pid });
  } finally {
    await server.stop();
  }
}

/** One raw socket from a loopback address; resolves once it is where the door keeps it idle. */
function openIdle(port: number, from: string, door: Door): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const options = { host: "127.0.0.1", port, localAddress: from };
    const socket = door === "tls"
      ? tls.connect({ ...options, rejectUnauthorized: false }, () => resolve(socket))
      : net.connect(options, () => {
        if (door === "http") return resolve(socket);
        socket.write(upgradeRequest(port, `http://127.0.0.1:${port}`));
      });
    let head = "";
    socket.on("data", (chunk: Uint8Array) => {
      head += new TextDecoder().decode(chunk);
      if (door === "ws" && head.includes("\r\n\r\n")) {
        if (head.startsWith("HTTP/1.1 101")) resolve(socket);
        else reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
      }
    });
    socket.on("error", reject);
  });
}

function upgradeRequest(port: number, origin: string): string {
  return `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

async function idleCost(web: WebServer, door: Door, n: number): Promise<number> {
  const before = (await readProc(web.pid)).rssBytes;
  const addresses = loopbacks(20, Math.ceil(n / PER_ADDRESS));
  const sockets: net.Socket[] = [];
  try {
    for (const from of addresses) {
      sockets.push(
        ...await Promise.all(
          Array.from({ length: PER_ADDRESS }, () => openIdle(web.webPort, from, door)),
        ),
      );
    }
    await sleep(500);
    const held = (await readProc(web.pid)).rssBytes;
    return (held - before) / sockets.length / 1024;
  } finally {
    for (const socket of sockets) socket.destroy();
    await sleep(500);
  }
}

/** Everything at once from 127.0.0.30…, for `ms`. */
async function attack(web: WebServer, ms: number) {
  const until = performance.now() + ms;
  const port = web.webPort;
  const worker = async (once: () => Promise<void>) => {
    while (performance.now() < until) await once().catch(() => sleep(20));
  };
  const held: net.Socket[] = [];
  const raw = (from: string, bytes: Uint8Array | string, wait = true) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: from }, () => {
        socket.write(bytes);
        if (!wait) resolve();
      });
      // An answer (403, 101, 400) is all a storm waits for.
      socket.on("data", () => {
        if (wait) socket.destroy();
      });
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
      if (!wait) held.push(socket);
    });
  const request = new TextEncoder().encode(upgradeRequest(port, `http://127.0.0.1:${port}`));
  const frame = clientFrame(WS_OPCODE.binary, new Uint8Array(MIB), { length: 60 * MIB });
  const declared = new Uint8Array(request.length + frame.length);
  declared.set(request);
  declared.set(frame, request.length);
  const junk = Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5);
  try {
    await Promise.all([
      ...[0, 1, 2, 3].map((i) =>
        worker(() => raw(`127.0.0.${30 + i}`, upgradeRequest(port, "http://evil.example")))
      ),
      ...[0, 1, 2, 3].map((i) => worker(() => raw(`127.0.0.${34 + i}`, declared))),
      ...[0, 1, 2, 3].map((i) =>
        worker(() => raw(`127.0.0.${38 + i}`, i % 2 === 0 ? junk : "hello\r\n\r\n"))
      ),
      ...[0, 1, 2, 3].map(async (i) => {
        for (let k = 0; k < PER_ADDRESS; k++) {
          await raw(`127.0.0.${42 + i}`, new Uint8Array(0), false);
        }
      }),
    ]);
  } finally {
    for (const socket of held) socket.destroy();
  }
}

const MIB = 2 ** 20;

/** Two registered clients on the TCP port; `chatFor` measures sealed round trips. */
class ChatPair {
  readonly #a: ClientSession;
  readonly #b: ClientSession;

  private constructor(a: ClientSession, b: ClientSession) {
    this.#a = a;
    this.#b = b;
  }

  static async start(port: number): Promise<ChatPair> {
    const connect = async (name: string) => {
      const session = await connectSession({ hostname: "127.0.0.1", port });
      await session.register(name, await generateIdentity(), { ephemeral: true });
      return session;
    };
    return new ChatPair(await connect("alice"), await connect("bob"));
  }

  /** Sends a sealed message every 20 ms and waits for each receipt; the round trips, ms. */
  async chatFor(ms: number): Promise<number[]> {
    const out: number[] = [];
    const until = performance.now() + ms;
    for (let n = 0; performance.now() < until; n++) {
      const started = performance.now();
      await this.#a.sendText("bob", `message ${n}`);
      out.push(performance.now() - started);
      await sleep(20);
    }
    return out;
  }

  async close() {
    await this.#a.quit().catch(() => {});
    await this.#b.quit().catch(() => {});
  }
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
}
