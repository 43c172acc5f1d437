import { equal, match, ok, rejects } from "node:assert/strict";
import { parseInfo, RedisServer } from "./_redis.ts";

Deno.test("RedisServer keeps data across a stop and a restart on the same port", async () => {
  const redis = await RedisServer.start();
  try {
    equal(await redis.command("SET", "peerstream:test", "kept"), "OK");
    const port = redis.port;
    await redis.stop();
    ok(!redis.running);
    await rejects(redis.command("PING"));
    await redis.restart();
    equal(redis.port, port);
    equal(await redis.command("GET", "peerstream:test"), "kept");
    const persistence = await redis.info("persistence");
    equal(persistence.get("aof_enabled"), "1");
  } finally {
    await redis.close();
  }
});

Deno.test("RedisServer.start() fails, never skips, when redis-server is missing", async () => {
  const before = Deno.env.get("PEERSTREAM_REDIS_SERVER");
  Deno.env.set("PEERSTREAM_REDIS_SERVER", "/nonexistent/redis-server");
  try {
    await rejects(RedisServer.start(), (error: Error) => {
      match(error.message, /Cannot start "\/nonexistent\/redis-server": not found; install it/);
      return true;
    });
  } finally {
    if (before === undefined) Deno.env.delete("PEERSTREAM_REDIS_SERVER");
    else Deno.env.set("PEERSTREAM_REDIS_SERVER", before);
  }
});

Deno.test("parseInfo() reads fields and skips section headers", () => {
  const info = parseInfo(
    "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2\r\n\r\n# Stats\r\nx:a:b\r\n",
  );
  equal(info.get("used_cpu_sys"), "1.5");
  equal(info.get("x"), "a:b");
  equal(info.size, 3);
});
