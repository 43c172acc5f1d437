import { equal } from "node:assert/strict";
import { reconnectDelay, RedisLink } from "./redis_link.ts";
import { RedisServer } from "../../tests/_redis.ts";

Deno.test("reconnectDelay() doubles from 100 ms to a 2 s ceiling with ±20 % jitter", () => {
  const cases: [number, number, number][] = [
    [0, 0.5, 100],
    [1, 0.5, 200],
    [4, 0.5, 1600],
    [5, 0.5, 2000],
    [50, 0.5, 2000],
    [0, 0, 80],
    [5, 0.999999, 2400],
  ];
  for (const [retries, random, ms] of cases) equal(reconnectDelay(retries, random), ms);
});

Deno.test("RedisLink.run() runs a script's calls in the order they were made, its first load included", async () => {
  const redis = await RedisServer.start();
  const link = await RedisLink.open({
    url: redis.url,
    onMessage: () => {},
    onDown: () => {},
    onReady: () => {},
  }, []);
  try {
    const push = { name: "push", lua: "return redis.call('RPUSH', 'order', ARGV[1])" };
    // Call 1 loads the script; a blocking command holds the connection after that load, so call
    // 2, made then, would wait behind it for a load of its own; call 3 comes once the first load
    // is back. Each must still run in the order it was made.
    const calls = [link.run(push, ["1"])];
    const blocking = link.command(["BLPOP", "nothing", "0.3"]);
    calls.push(link.run(push, ["2"]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    calls.push(link.run(push, ["3"]));
    await Promise.all([...calls, blocking]);
    const order = await redis.command(
      "EVAL",
      "return table.concat(redis.call('LRANGE', 'order', 0, -1), ',')",
      "0",
    );
    equal(order, "1,2,3");
  } finally {
    await link.close();
    await redis.close();
  }
});
