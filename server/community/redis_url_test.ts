import { equal, throws } from "node:assert/strict";
import { checkRedisUrl, redactUrl } from "./redis_url.ts";

Deno.test("checkRedisUrl() accepts redis://HOST[:PORT][/DB] and says what is wrong otherwise", () => {
  for (
    const ok of [
      "redis://127.0.0.1:6379",
      "redis://h",
      "redis://h:1/0",
      "rediss://h:1/15",
      "redis://:pw@h:1/2",
    ]
  ) {
    equal(checkRedisUrl(ok), ok);
  }
  for (
    const [bad, why] of [
      ["127.0.0.1:6379", /use redis:\/\/HOST:PORT/],
      ["http://h:1", /use redis:\/\/HOST:PORT/],
      ["redis://h:1/x", /the database must be a number/],
      ["redis://h:1/0/1", /the database must be a number/],
    ] as const
  ) {
    throws(() => checkRedisUrl(bad), (e: Error) => e instanceof TypeError && why.test(e.message));
  }
});

Deno.test("redactUrl() hides a password", () => {
  equal(redactUrl("redis://:secret@h:1/0"), "redis://:***@h:1/0");
  equal(redactUrl("redis://h:1"), "redis://h:1");
});
