import { equal, notEqual } from "node:assert/strict";
import { _ipv6Groups, addressGroup } from "./address_group.ts";

Deno.test("addressGroup() keeps IPv4, maps IPv4-mapped IPv6 to IPv4 and groups other IPv6 by /64", () => {
  const table: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["1.2.3.4", "1.2.3.4"],
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:1.2.3.4", "1.2.3.4"],
    ["::ffff:102:304", "1.2.3.4"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:db8::2:1", "2001:db8:0:0::/64"],
    ["2001:0DB8:0000:0000:ffff:ffff:ffff:ffff", "2001:db8:0:0::/64"],
    ["2001:db8:0:1::1", "2001:db8:0:1::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["fe80::2%2", "fe80:0:0:0::/64"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4::/64"],
    // Not IP addresses: each is its own group.
    ["unix", "unix"],
    ["1:2:3", "1:2:3"],
    ["1::2::3", "1::2::3"],
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"],
    ["::ffff:1.2.3.256", "::ffff:1.2.3.256"],
    ["12345::", "12345::"],
  ];
  for (const [host, group] of table) equal(addressGroup(host), group, host);
  notEqual(addressGroup("2001:db8::1"), addressGroup("2001:db8:0:1::1"));
  equal(addressGroup("::1"), addressGroup("::2"), "loopback /64");
});

Deno.test("_ipv6Groups() expands :: at the start, middle and end, and a dotted tail", () => {
  equal(_ipv6Groups("::")?.join(","), "0,0,0,0,0,0,0,0");
  equal(_ipv6Groups("1::")?.join(","), "1,0,0,0,0,0,0,0");
  equal(_ipv6Groups("::1")?.join(","), "0,0,0,0,0,0,0,1");
  equal(_ipv6Groups("1::8")?.join(","), "1,0,0,0,0,0,0,8");
  equal(_ipv6Groups("1:2:3:4:5:6:1.2.3.4")?.join(","), "1,2,3,4,5,6,258,772");
  // "::" standing for no groups at all is not allowed.
  equal(_ipv6Groups("1:2:3:4::5:6:7:8"), undefined);
});
