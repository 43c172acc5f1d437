import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { acceptProxied, parseTrustedProxies } from "./proxy_transport.ts";
import { socketPair, writeAll } from "../../tests/_util.ts";

async function readSome(transport: { read(b: Uint8Array): Promise<number | null> }, n: number) {
  const out: number[] = [];
  const buffer = new Uint8Array(64);
  while (out.length < n) {
    const got = await transport.read(buffer);
    if (got === null) break;
    out.push(...buffer.subarray(0, got));
  }
  return new TextDecoder().decode(new Uint8Array(out));
}

Deno.test("acceptProxied() reports the client's address and keeps the bytes after the header", async () => {
  const { server, client } = await socketPair();
  try {
    await writeAll(
      client,
      new TextEncoder().encode("PROXY TCP4 203.0.113.9 127.0.0.1 4242 7878\r\nhello"),
    );
    const transport = await acceptProxied(server, { trusted: new Set(["127.0.0.1"]) });
    deepEqual(transport.remoteAddr, { transport: "tcp", hostname: "203.0.113.9", port: 4242 });
    equal(await readSome(transport, 5), "hello");
    await writeAll(client, new TextEncoder().encode(" world"));
    equal(await readSome(transport, 6), " world");
    transport.close();
  } finally {
    client.close();
  }
});

Deno.test("acceptProxied() keeps the balancer's address for a LOCAL health check", async () => {
  const { server, client } = await socketPair();
  try {
    await writeAll(client, new TextEncoder().encode("PROXY UNKNOWN\r\n"));
    const transport = await acceptProxied(server, { trusted: new Set(["127.0.0.1"]) });
    equal((transport.remoteAddr as Deno.NetAddr).hostname, "127.0.0.1");
    transport.close();
  } finally {
    client.close();
  }
});

Deno.test("acceptProxied() passes an untrusted connection through untouched, header and all", async () => {
  const { server, client } = await socketPair();
  try {
    const transport = await acceptProxied(server, { trusted: new Set(["10.0.0.1"]) });
    equal(transport, server);
    await writeAll(client, new TextEncoder().encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    equal(
      await readSome(transport, 5),
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".slice(0, await Promise.resolve(32)),
    );
    transport.close();
  } finally {
    client.close();
  }
});

Deno.test("acceptProxied() refuses a trusted address that sends no header, a bad one, or none in time", async () => {
  const cases: [string | null, string, RegExp][] = [
    ["\u0000\u0000\u0000\u0010{}", "BAD_FRAME", /no PROXY header from trusted proxy 127\.0\.0\.1/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "BAD_FRAME", /not a port/],
    [null, "HANDSHAKE_TIMEOUT", /no PROXY header within 200 ms/],
  ];
  for (const [sent, code, message] of cases) {
    const { server, client } = await socketPair();
    try {
      if (sent !== null) await writeAll(client, new TextEncoder().encode(sent));
      await rejects(
        acceptProxied(server, { trusted: new Set(["127.0.0.1"]), timeoutMs: 200 }),
        (e: Error) => e instanceof PeerstreamError && e.code === code && message.test(e.message),
      );
    } finally {
      try {
        server.close();
      } catch {
        // Closed by the deadline.
      }
      client.close();
    }
  }
});

Deno.test("parseTrustedProxies() takes IPv4 and IPv6 addresses and refuses anything else", () => {
  deepEqual([...parseTrustedProxies("10.0.0.5, ::1,2001:DB8::7")], [
    "10.0.0.5",
    "::1",
    "2001:db8::7",
  ]);
  for (const bad of ["", "lb.example", "10.0.0.256", "10.0.0.0/8", "1.2.3.4,"]) {
    throws(
      () => parseTrustedProxies(bad),
      (e: Error) => e instanceof TypeError && /--trust-proxy/.test(e.message),
    );
  }
});
