import { equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { connectFailure, connectSession, NOT_RUNNING_REMEDY } from "./connect.ts";

const WHERE = "127.0.0.1:7878";

Deno.test("connectFailure() says UNAVAILABLE, the address, why in plain words and what to do", () => {
  const table: [unknown, string][] = [
    [
      new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
      "Cannot connect to 127.0.0.1:7878: connection refused; is `peerstream serve` running there?",
    ],
    [
      new Deno.errors.TimedOut("Connection timed out (os error 110)"),
      "Cannot connect to 127.0.0.1:7878: no answer in time; check the address and that the server is reachable from here",
    ],
    [
      new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
      `Cannot connect to 127.0.0.1:7878: the connection was cut while opening; ${NOT_RUNNING_REMEDY}`,
    ],
    [
      new Error("failed to lookup address information: Name or service not known"),
      "Cannot connect to 127.0.0.1:7878: no such host; check the host name",
    ],
    [
      new Deno.errors.InvalidData("invalid peer certificate: UnknownIssuer"),
      "Cannot connect to 127.0.0.1:7878: TLS failed (invalid peer certificate: UnknownIssuer); if the certificate is self-signed, pass it with --ca FILE",
    ],
    [
      new Error("Network is unreachable (os error 101)"),
      `Cannot connect to 127.0.0.1:7878: Network is unreachable (os error 101); ${NOT_RUNNING_REMEDY}`,
    ],
    ["odd", `Cannot connect to 127.0.0.1:7878: odd; ${NOT_RUNNING_REMEDY}`],
  ];
  for (const [cause, message] of table) {
    const error = connectFailure(WHERE, cause);
    ok(error instanceof PeerstreamError);
    equal(error.code, "UNAVAILABLE", message);
    equal(error.message, message);
    equal(error.cause, cause);
  }
});

/** A listener that does `behave` with each connection, for the greeting's failures. */
function fakeServer(behave: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) served.push(behave(conn).finally(() => conn.close()));
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.allSettled(served);
    },
  };
}

Deno.test("connectSession() to a closed port is UNAVAILABLE: connection refused, is serve running", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await rejects(connectSession({ hostname: "127.0.0.1", port }), (error: Error) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "UNAVAILABLE");
    equal(
      error.message,
      `Cannot connect to 127.0.0.1:${port}: connection refused; is \`peerstream serve\` running there?`,
    );
    return true;
  });
});

Deno.test("connectSession() says UNAVAILABLE when the server never greets or closes first, BAD_FRAME for garbage", async () => {
  const hint = "; is it a peerstream server\\? if it uses TLS, add --tls$";
  const table: [string, (conn: Deno.Conn) => Promise<void>, string, (port: number) => RegExp][] = [
    [
      "silent",
      // Holds the connection until the client gives up (its read then ends with null).
      async (conn) => void await conn.read(new Uint8Array(16)),
      "UNAVAILABLE",
      (port) => new RegExp(`^Cannot talk to 127.0.0.1:${port}: no greeting within 0.3 s${hint}`),
    ],
    [
      "closes",
      async () => {},
      "UNAVAILABLE",
      (port) =>
        new RegExp(
          `^Cannot talk to 127.0.0.1:${port}: it closed the connection before greeting${hint}`,
        ),
    ],
    [
      "undecodable",
      async (conn) => {
        // A 2-byte control frame holding "{}": framed, but no message.
        await conn.write(new Uint8Array([0, 0, 0, 2, 1, 0x7b, 0x7d]));
        await conn.read(new Uint8Array(16));
      },
      "BAD_FRAME",
      (port) => new RegExp(`^Cannot talk to 127.0.0.1:${port}: .+${hint}`),
    ],
    [
      "http",
      async (conn) => {
        await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
        await conn.read(new Uint8Array(16));
      },
      "BAD_FRAME",
      () => /^Cannot read from the server: it sent a frame of \d+ bytes.*not a peerstream server$/,
    ],
  ];
  for (const [label, behave, code, message] of table) {
    const server = fakeServer(behave);
    try {
      await rejects(
        connectSession({ hostname: "127.0.0.1", port: server.port, timeoutMs: 300 }),
        (error: Error) => {
          ok(error instanceof PeerstreamError, label);
          equal(error.code, code, `${label}: ${error.message}`);
          ok(message(server.port).test(error.message), `${label}: ${error.message}`);
          return true;
        },
      );
    } finally {
      await server.close();
    }
  }
});
