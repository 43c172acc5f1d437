import { deepEqual, equal, ok } from "node:assert/strict";
import { Acceptor } from "./acceptor.ts";
import type { AcceptStep } from "./accept_failures.ts";

/** What a fake listener's accept() does next: a connection by name, or an error to throw. */
type Next = string | Error;

/** A listener that plays a script of accepts, then waits until closed. */
function scriptedListener(script: Next[]) {
  let closeWaiting: (() => void) | undefined;
  let closed = false;
  const conns: { name: string; closed: boolean }[] = [];
  const listener = {
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    accept(): Promise<Deno.Conn> {
      const next = script.shift();
      if (closed) return Promise.reject(new Deno.errors.BadResource("closed"));
      if (next === undefined) {
        return new Promise((_, reject) => {
          closeWaiting = () => reject(new Deno.errors.BadResource("closed"));
        });
      }
      if (next instanceof Error) return Promise.reject(next);
      const conn = {
        name: next,
        closed: false,
        close() {
          conn.closed = true;
        },
      };
      conns.push(conn);
      return Promise.resolve(conn as unknown as Deno.Conn);
    },
    close() {
      closed = true;
      closeWaiting?.();
    },
  };
  return { listener: listener as unknown as Deno.Listener, conns, isClosed: () => closed };
}

/** Runs an acceptor over a script until the script is used up, then stops it. */
async function run(script: Next[]) {
  const fake = scriptedListener([...script]);
  const served: string[] = [];
  const failed: AcceptStep[] = [];
  const recovered: string[] = [];
  let settle!: () => void;
  const quiet = new Promise<void>((resolve) => settle = resolve);
  const lastConn = script.filter((n) => typeof n === "string").at(-1);
  const acceptor = new Acceptor(fake.listener, {
    serve: (conn) => {
      const name = (conn as unknown as { name: string }).name;
      served.push(name);
      if (name === lastConn) settle();
    },
    failed: (_error, step) => failed.push(step),
    recovered: (line) => recovered.push(line),
    backoff: { firstDelayMs: 1, maxDelayMs: 4, logIntervalMs: 60_000 },
  });
  // The last connection served proves every step before it was taken.
  await quiet;
  acceptor.stop();
  await acceptor.done();
  ok(fake.isClosed(), "stop() closes the listener");
  const refused = fake.conns.filter((c) => c.closed).map((c) => c.name);
  return { served, failed, recovered, refused };
}

const EMFILE = () => new Error("Too many open files (os error 24)");
const PASSING = () => new Error("Connection aborted (os error 103)");

Deno.test("Acceptor serves each accepted connection in order and refuses none when accepts work", async () => {
  const { served, failed, refused, recovered } = await run(["a", "b", "c"]);
  deepEqual(served, ["a", "b", "c"]);
  deepEqual(refused, []);
  deepEqual(failed, []);
  deepEqual(recovered, []);
});

Deno.test("Acceptor backs off after a passing failure, doubling up to the cap, and says once that accepts work again", async () => {
  const { served, failed, recovered } = await run([
    PASSING(),
    PASSING(),
    PASSING(),
    PASSING(),
    "a",
  ]);
  deepEqual(served, ["a"]);
  deepEqual(failed.map((step) => step.delayMs), [1, 2, 4, 4]);
  ok(failed[0].log?.startsWith("Cannot accept connections: Connection aborted"), failed[0].log);
  equal(failed[1].log, undefined, "one log line per interval");
  equal(recovered.length, 1);
  ok(recovered[0].includes("after 4 failed accepts"), recovered[0]);
});

Deno.test("Acceptor refuses the next pending connection when out of descriptors, then serves the one after", async () => {
  const { served, refused } = await run([EMFILE(), "shed", "next"]);
  deepEqual(refused, ["shed"]);
  deepEqual(served, ["next"]);
});

Deno.test("Acceptor uses the caller's refusal for a shed connection", async () => {
  const fake = scriptedListener([EMFILE(), "shed", "next"]);
  const refusedBy: string[] = [];
  const served = Promise.withResolvers<string>();
  const acceptor = new Acceptor(fake.listener, {
    serve: (conn) => served.resolve((conn as unknown as { name: string }).name),
    failed: () => {},
    refuse: (conn) => {
      refusedBy.push((conn as unknown as { name: string }).name);
      conn.close();
      return Promise.resolve();
    },
  });
  equal(await served.promise, "next");
  acceptor.stop();
  await acceptor.done();
  deepEqual(refusedBy, ["shed"]);
});

Deno.test("Acceptor.stop() ends a back-off at once rather than after it", async () => {
  const fake = scriptedListener([PASSING()]);
  const failedOnce = Promise.withResolvers<void>();
  const acceptor = new Acceptor(fake.listener, {
    serve: () => {},
    failed: () => failedOnce.resolve(),
    // An hour: the test would time out if stop() waited for it.
    backoff: { firstDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
  });
  await failedOnce.promise;
  acceptor.stop();
  await acceptor.done();
  ok(acceptor.stopped);
});
