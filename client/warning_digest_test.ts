import { deepEqual } from "node:assert/strict";
import { WarningDigest } from "./warning_digest.ts";

const w = (from: string | undefined, n: number, code = "DECRYPT_FAILED") => ({
  text: `refused ${from ?? "?"} #${n}`,
  code,
  from,
});

Deno.test("WarningDigest.add() shows a sender's first warnings, then counts them into one summary line", () => {
  const digest = new WarningDigest({ intervalMs: 10_000, perKey: 2, total: 10 });
  const printed: string[] = [];
  for (let n = 1; n <= 2000; n++) printed.push(...digest.add(w("mallory", n), n));
  deepEqual(printed, ["refused mallory #1", "refused mallory #2"]);
  deepEqual(digest.flush(9_999), [], "the interval runs on");
  deepEqual(digest.flush(10_001), ['… 1,998 more refused from "mallory" in the last 10 s']);
  deepEqual(digest.flush(30_000), [], "nothing held since");
  // A fresh interval shows the first ones again.
  deepEqual(digest.add(w("mallory", 2001), 30_001), ["refused mallory #2001"]);
});

Deno.test("WarningDigest.add() prints the finished interval's summary before a new warning", () => {
  const digest = new WarningDigest({ intervalMs: 1000, perKey: 1 });
  deepEqual(digest.add(w("a", 1), 0), ["refused a #1"]);
  deepEqual(digest.add(w("a", 2), 1), []);
  deepEqual(digest.add(w("a", 3), 1000), [
    '… 1 more refused from "a" in the last 1 s',
    "refused a #3",
  ]);
});

Deno.test("WarningDigest keeps one line per sender and code, a total cap, and one line for many senders", () => {
  const digest = new WarningDigest({ intervalMs: 1000, perKey: 1, total: 3 });
  const printed = [
    ...digest.add(w("a", 1), 0),
    ...digest.add(w("a", 2, "REPLAYED"), 0),
    ...digest.add(w(undefined, 3, "BAD_MESSAGE"), 0),
    ...digest.add(w("b", 4), 0),
  ];
  deepEqual(printed, ["refused a #1", "refused a #2", "refused ? #3"], "the total is 3");
  deepEqual(digest.flush(1000), ['… 1 more refused from "b" in the last 1 s']);
  for (let s = 0; s < 20; s++) {
    for (let n = 0; n <= s; n++) digest.add(w(`c${s}`, n), 2000);
  }
  deepEqual(digest.flush(3000), [
    '… 207 more refused from 19 senders in the last 1 s ("c19" 20, "c18" 19, "c17" 18, 16 others)',
  ]);
});
