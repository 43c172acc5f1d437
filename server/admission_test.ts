import { deepEqual, equal } from "node:assert/strict";
import { Admission } from "./admission.ts";

const LIMITS = {
  maxConnections: 3,
  maxConnectionsPerAddress: 2,
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
