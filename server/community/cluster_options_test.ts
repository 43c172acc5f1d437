import { deepEqual, equal, match, throws } from "node:assert/strict";
import { clusterSettings, defaultNodeName } from "./cluster_options.ts";
import { UsageError } from "../../cli/output.ts";
import { isNodeName } from "./cluster_wire.ts";

Deno.test("clusterSettings() is a single process without flags", () => {
  deepEqual(clusterSettings({}), { redis: undefined, trustedProxies: new Set(), reusePort: false });
});

Deno.test("clusterSettings() takes --redis, --node, --trust-proxy and --reuse-port", () => {
  const s = clusterSettings({
    redis: "redis://127.0.0.1:6379/2",
    node: "web-1",
    "trust-proxy": "10.0.0.5,::1",
    "reuse-port": true,
  });
  deepEqual(s.redis, { url: "redis://127.0.0.1:6379/2", node: "web-1" });
  deepEqual([...s.trustedProxies], ["10.0.0.5", "::1"]);
  equal(s.reusePort, true);
  match(clusterSettings({ redis: "redis://h:1" }).redis!.node, /^[A-Za-z0-9_-]+-\d+$/);
});

Deno.test("clusterSettings() says what is wrong with a flag", () => {
  const cases: [Parameters<typeof clusterSettings>[0], RegExp][] = [
    [{ redis: "localhost:6379" }, /Invalid Redis URL "localhost:6379": use redis:\/\/HOST:PORT/],
    [{ node: "a" }, /Option --node needs --redis/],
    [{ redis: "redis://h:1", node: "a b" }, /Invalid --node "a b": use 1 to 64 letters/],
    [{ "trust-proxy": "lb" }, /Invalid --trust-proxy "lb"/],
  ];
  for (const [values, message] of cases) {
    throws(
      () => clusterSettings(values),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
  }
});

Deno.test("defaultNodeName() is a valid node name with the pid", () => {
  const name = defaultNodeName(4242);
  match(name, /-4242$/);
  equal(isNodeName(name), true);
});
