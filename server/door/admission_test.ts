import { deepEqual, equal } from "node:assert/strict";
import { Admission, chooseEviction } from "./admission.ts";

const LIMITS = {
  maxConnections: 3,
  maxConnectionsPerAddress: 2,
  connectsPerAddressPerSecond: 1,
  connectBurstPerAddress: 3,
  hellosPerAddressPerSecond: 1,
  helloBurstPerAddress: 2,
  newNamesPerAddressPerDay: 2,
};

Deno.test("Admission.admit() counts connections per address and in all, and release() frees them", () => {
  const admission = new Admission(LIMITS);
  deepEqual(["a", "a", "a"].map((h) => admission.admit(h)), ["ok", "ok", "address-full"]);
  equal(admission.connectionsFrom("a"), 2);
  deepEqual(["b", "b"].map((h) => admission.admit(h)), ["ok", "server-full"]);
  equal(admission.connections, 3);
  admission.release("a");
  equal(admission.admit("b"), "ok");
  admission.release("a");
  admission.release("b");
  admission.release("b");
  equal(admission.connections, 0);
  equal(admission.connectionsFrom("a"), 0);
  // Releasing an address with nothing counted changes nothing.
  admission.release("z");
  equal(admission.connections, 0);
});

Deno.test("Admission.takeHello() allows a burst per address, then the sustained rate", () => {
  const admission = new Admission(LIMITS);
  deepEqual([0, 0, 0].map((t) => admission.takeHello("a", t)), [true, true, false]);
  equal(admission.takeHello("b", 0), true);
  equal(admission.takeHello("a", 999), false);
  equal(admission.takeHello("a", 1000), true);
});

Deno.test("Admission.takeNewName() allows newNamesPerAddressPerDay a day per address", () => {
  const admission = new Admission(LIMITS);
  const day = 24 * 3600 * 1000;
  deepEqual([0, 0, 0].map((t) => admission.takeNewName("a", t)), [true, true, false]);
  equal(admission.takeNewName("a", day / 2 - 1), false);
  equal(admission.takeNewName("a", day / 2), true, "one more after half a day");
  admission.prune(10 * day);
  deepEqual([0, 0, 0].map(() => admission.takeNewName("a", 10 * day)), [true, true, false]);
});

Deno.test("Admission counts IPv6 addresses of one /64 together, and an IPv4-mapped address as its IPv4", () => {
  const admission = new Admission(LIMITS);
  deepEqual(
    ["2001:db8::1", "2001:db8::2:1", "2001:db8::3"].map((h) => admission.admit(h)),
    ["ok", "ok", "address-full"],
  );
  equal(admission.connectionsFrom("2001:db8::ffff"), 2);
  equal(admission.admit("2001:db8:0:1::1"), "ok", "another /64");
  admission.release("2001:db8::9");
  equal(admission.connectionsFrom("2001:db8::1"), 1);
  const fresh = new Admission(LIMITS);
  deepEqual(["1.2.3.4", "::ffff:1.2.3.4"].map((h) => fresh.admit(h)), ["ok", "ok"]);
  equal(fresh.admit("::ffff:1.2.3.4"), "address-full");
  deepEqual([0, 0, 0].map(() => fresh.takeHello("2001:db8::1:2", 0)), [true, true, false]);
  equal(fresh.takeHello("2001:db8::7", 0), false, "the /64 shares its hello budget");
});

Deno.test("Admission.enter() refuses a full address before taking a connect token, then the rate, then a full server", () => {
  const admission = new Admission({ ...LIMITS, maxConnections: 10 });
  deepEqual(["a", "a", "a"].map((h) => admission.enter(h, 0)), ["ok", "ok", "address-full"]);
  equal(admission.connectTokens("a", 0), 1, "the refusal took no token");
  admission.release("a");
  equal(admission.enter("a", 0), "ok");
  admission.release("a");
  equal(admission.enter("a", 0), "rate-limited");
  equal(admission.enter("a", 999), "rate-limited");
  equal(admission.enter("a", 1000), "ok", "one more a second");
  equal(admission.connectTokens("b", 0), 3, "an untouched address has its burst");
  const full = new Admission(LIMITS);
  deepEqual(["a", "b", "c", "d"].map((h) => full.enter(h, 0)), ["ok", "ok", "ok", "server-full"]);
  // IPv6 addresses of one /64 share the rate.
  const six = new Admission({ ...LIMITS, maxConnections: 10, maxConnectionsPerAddress: 10 });
  deepEqual(
    ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"].map((h) => six.enter(h, 0)),
    ["ok", "ok", "ok", "rate-limited"],
  );
});

Deno.test("chooseEviction() takes from the group holding the most, then the one that spent its connect burst, then the oldest", () => {
  const admission = new Admission({
    ...LIMITS,
    maxConnections: 100,
    maxConnectionsPerAddress: 100,
  });
  equal(chooseEviction([], { admission, now: 0 }), undefined);
  const c = (host: string, since: number) => ({ host, since });
  // The group with the most handshakes loses its oldest, even when another's is older.
  const honest = c("9.9.9.9", 0);
  const flood = [c("1.1.1.1", 5), c("1.1.1.1", 3), c("1.1.1.1", 4)];
  equal(chooseEviction([honest, ...flood], { admission, now: 10 }), flood[1]);
  // IPv6 counts by /64: three from one /64 outnumber two from one IPv4 address.
  const six = [c("2001:db8::1", 7), c("2001:db8::2", 6), c("2001:db8::3", 8)];
  equal(chooseEviction([c("1.1.1.1", 1), c("1.1.1.1", 2), ...six], { admission, now: 10 }), six[1]);
  // As many each: the group that spent its connect burst (a reconnect loop) loses, not the oldest.
  for (let i = 0; i < 3; i++) admission.enter("6.6.6.6", 0);
  const tied = [c("5.5.5.5", 1), c("6.6.6.6", 2)];
  equal(chooseEviction(tied, { admission, now: 0 }), tied[1]);
  // Tied in both: the oldest.
  equal(chooseEviction([c("7.7.7.7", 2), c("8.8.8.8", 1)], { admission, now: 0 })?.host, "8.8.8.8");
});
