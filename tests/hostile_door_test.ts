/**
 * Attacks on the TCP/TLS door against a real `serve`, an honest pair chatting throughout (issue
 * 16): TLS connections that never send a ClientHello, file-descriptor exhaustion, a reconnect
 * flood of never-registering connectors. Each asserts what the door does (counted from accept,
 * closed at the deadline, refused then recovered, honest joins admitted), never how fast.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { startServer } from "./_helpers.ts";
import { type FloodSocket, openMany, until } from "./_flood.ts";
import { honestPair } from "./_door.ts";

function limitsEnv(limits: Record<string, number>): Record<string, string> {
  return { PEERSTREAM_LIMITS: JSON.stringify(limits) };
}

Deno.test("silent TLS connections count against their address from accept, time out at the TLS handshake deadline, and close once the peer speaks", async () => {
  const tlsHandshakeMs = 3000;
  const data = await Deno.makeTempDir({ prefix: "peerstream-door-" });
  const server = await startServer({
    args: ["--data", data, "--tls-self-signed"],
    env: limitsEnv({ maxConnectionsPerAddress: 8, handshakeMs: 60_000, tlsHandshakeMs }),
  });
  const sockets: FloodSocket[] = [];
  const count = (pattern: RegExp) => server.out.lines.filter((l) => pattern.test(l)).length;
  const refusals = () => count(/refused #\d+ 127\.0\.0\.2:\d+: SERVER_FULL: 8 connections from/);
  const timeouts = () => count(/127\.0\.0\.2:\d+ \(TLS_HANDSHAKE_TIMEOUT/);
  try {
    const caCert = await Deno.readTextFile(`${data}/tls/self-signed.pem`);
    const pair = await honestPair(server.port, { caCert });
    await pair.chat();
    // Plain TCP: never a ClientHello. 8 are the address's share; the other 4 are refused.
    sockets.push(...await openMany(server.port, { addresses: ["127.0.0.2"], perAddress: 12 }));
    const openedAt = Math.max(...sockets.map((s) => s.openedAt));
    await until(() => refusals() === 4, { ms: 30_000, what: "4 refusals" });
    await pair.chat();
    // The deadline passes for the 8 held ones (logged), never before it.
    await until(() => timeouts() === 8, { ms: 30_000, what: "8 TLS handshake timeouts" });
    ok(performance.now() - openedAt >= tlsHandshakeMs, "not before the deadline");
    await pair.chat();
    // Deno cannot close a socket mid-handshake (see server.ts #tlsHandshake): the 8 stay counted,
    // so a 13th is refused, until their peers speak; then every one of them closes at once.
    sockets.push(...await openMany(server.port, { addresses: ["127.0.0.2"], perAddress: 1 }));
    await until(() => refusals() === 5, { ms: 30_000, what: "a 5th refusal" });
    for (const socket of sockets) socket.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    for (const socket of sockets) ok(await socket.waitClosed(30_000), "closed once the peer spoke");
    // Their slots are free again: 8 new ones are held, the 9th refused.
    sockets.push(...await openMany(server.port, { addresses: ["127.0.0.2"], perAddress: 9 }));
    await until(() => refusals() === 6, { ms: 30_000, what: "a 6th refusal" });
    await pair.chat();
    await until(() => timeouts() === 16, { ms: 30_000, what: "8 more TLS handshake timeouts" });
    equal(refusals(), 6, server.out.lines.join("\n"));
    await pair.chat();
    await pair.close();
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});
