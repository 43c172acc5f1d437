import { deepEqual, equal, throws } from "node:assert/strict";
import {
  formatIpv6,
  MAX_PROXY_HEADER_BYTES,
  MAX_PROXY_V1_BYTES,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
  type ProxyParse,
} from "./proxy_protocol.ts";
import { byteCuts, chunksAt, concatBytes } from "../../tests/_util.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

/** An address written as in a URL: `192.0.2.1:80`, `[2001:db8::1]:80`. */
function address(text: string): { hostname: string; port: number } {
  const colon = text.lastIndexOf(":");
  return {
    hostname: text.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
    port: +text.slice(colon + 1),
  };
}

/** A parse that found a relayed client, its route written `source -> destination`. */
function proxied(version: 1 | 2, route: string, length: number): ProxyParse {
  const [source, destination] = route.split(" -> ").map(address);
  return { state: "done", header: { kind: "proxy", version, source, destination }, length };
}

/** A parse that found the balancer speaking for itself; the header took `length` bytes. */
function local(version: 1 | 2, length: number): ProxyParse {
  return { state: "done", header: { kind: "local", version }, length };
}

function v2(command: number, family: number, payload: number[]): Uint8Array {
  return concatBytes([
    PROXY_V2_SIGNATURE,
    new Uint8Array([
      0x20 | command,
      family,
      payload.length >> 8,
      payload.length & 0xff,
      ...payload,
    ]),
  ]);
}

const v4Payload = [192, 0, 2, 1, 198, 51, 100, 7, 0x30, 0x39, 0x1e, 0xc6]; // ports 12345, 7878
const v6Payload = [
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1],
  0x30,
  0x39,
  0x1e,
  0xc6,
];

Deno.test("parseProxyHeader() reads v1 TCP4, TCP6 and UNKNOWN lines", () => {
  const cases: [string, ProxyParse][] = [
    [
      "PROXY TCP4 192.0.2.1 198.51.100.7 12345 7878\r\nrest",
      proxied(1, "192.0.2.1:12345 -> 198.51.100.7:7878", 46),
    ],
    [
      "PROXY TCP6 2001:DB8::1 ::1 0 65535\r\n",
      proxied(1, "[2001:db8::1]:0 -> [::1]:65535", 36),
    ],
    ["PROXY UNKNOWN\r\n", local(1, 15)],
    ["PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", local(1, 59)],
  ];
  for (const [text, expected] of cases) deepEqual(parseProxyHeader(ascii(text)), expected, text);
});

Deno.test("parseProxyHeader() says none for bytes that cannot start a header, more for a prefix", () => {
  const cases: [Uint8Array, ProxyParse["state"]][] = [
    [new Uint8Array(0), "more"],
    [ascii("P"), "more"],
    [ascii("PROXY"), "more"],
    [ascii("PROXY TCP4 1.2.3.4"), "more"],
    [PROXY_V2_SIGNATURE.subarray(0, 5), "more"],
    [PROXY_V2_SIGNATURE, "more"],
    [v2(1, 0x11, v4Payload).subarray(0, 20), "more"],
    [ascii("PROXX"), "none"],
    [ascii("GET / HTTP/1.1\r\n"), "none"],
    [new Uint8Array([0, 0, 0, 40, 1]), "none"],
    [new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x01]), "none"],
  ];
  for (const [bytes, state] of cases) equal(parseProxyHeader(bytes).state, state, String(bytes));
});

Deno.test("parseProxyHeader() refuses malformed v1 lines", () => {
  const bad: [string, ErrorConstructor, RegExp][] = [
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", SyntaxError, /CRLF/],
    ["PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", SyntaxError, /expected "PROXY TCP4/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", SyntaxError, /expected "PROXY TCP4/],
    ["PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", SyntaxError, /not an IPv4 address/],
    ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", SyntaxError, /not an IPv4 address/],
    ["PROXY TCP4 ::1 5.6.7.8 1 2\r\n", SyntaxError, /not an IPv4 address/],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", SyntaxError, /not an IPv6 address/],
    ["PROXY TCP6 ::g ::1 1 2\r\n", SyntaxError, /not an IPv6 address/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", SyntaxError, /not a port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", SyntaxError, /not a port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", SyntaxError, /not a port/],
    [`PROXY ${"x".repeat(MAX_PROXY_V1_BYTES)}`, RangeError, /no line end within 107/],
    [`PROXY UNKNOWN ${"x".repeat(MAX_PROXY_V1_BYTES - 15)}\r\n`, RangeError, /longer than 107/],
  ];
  for (const [text, kind, message] of bad) {
    throws(
      () => parseProxyHeader(ascii(text)),
      (e: Error) => e instanceof kind && message.test(e.message),
    );
  }
});

Deno.test("parseProxyHeader() accepts a v1 line of exactly 107 bytes", () => {
  const line = `PROXY UNKNOWN ${"x".repeat(MAX_PROXY_V1_BYTES - 16)}\r\n`;
  equal(line.length, MAX_PROXY_V1_BYTES);
  equal(parseProxyHeader(ascii(line)).state, "done");
});

Deno.test("parseProxyHeader() reads v2 PROXY over IPv4 and IPv6, skipping TLVs", () => {
  const cases: [Uint8Array, ProxyParse][] = [
    [
      concatBytes([v2(1, 0x11, [...v4Payload, 0x04, 0, 1, 9]), ascii("rest")]),
      proxied(2, "192.0.2.1:12345 -> 198.51.100.7:7878", 16 + 16),
    ],
    [
      v2(1, 0x21, v6Payload),
      proxied(2, "[2001:db8::1]:12345 -> [::ffff:7f00:1]:7878", 16 + 36),
    ],
  ];
  for (const [bytes, expected] of cases) deepEqual(parseProxyHeader(bytes), expected);
});

Deno.test("parseProxyHeader() treats v2 LOCAL, UNSPEC and UNIX as the balancer itself", () => {
  for (
    const [command, family, payload] of [[0, 0x11, v4Payload], [1, 0x00, []], [
      1,
      0x31,
      new Array(216).fill(0),
    ]] as const
  ) {
    const bytes = v2(command, family, [...payload]);
    deepEqual(parseProxyHeader(bytes), local(2, bytes.length));
  }
});

Deno.test("parseProxyHeader() refuses malformed and oversized v2 headers", () => {
  const long = MAX_PROXY_HEADER_BYTES - 16;
  const bad: [Uint8Array, ErrorConstructor][] = [
    [concatBytes([PROXY_V2_SIGNATURE, new Uint8Array([0x11, 0x11, 0, 12])]), SyntaxError],
    [v2(2, 0x11, v4Payload), SyntaxError],
    [v2(1, 0x11, v4Payload.slice(0, 11)), SyntaxError],
    [v2(1, 0x21, v6Payload.slice(0, 35)), SyntaxError],
    [
      concatBytes([
        PROXY_V2_SIGNATURE,
        new Uint8Array([0x21, 0x11, (long + 1) >> 8, (long + 1) & 0xff]),
      ]),
      RangeError,
    ],
  ];
  for (const [bytes, kind] of bad) throws(() => parseProxyHeader(bytes), kind);
  // Exactly at the limit is fine.
  equal(
    parseProxyHeader(v2(1, 0x11, [...v4Payload, ...new Array(long - 12).fill(0)])).state,
    "done",
  );
});

Deno.test("parseProxyHeader() gives the same answer however the bytes are cut", () => {
  for (
    const bytes of [
      ascii("PROXY TCP4 192.0.2.1 198.51.100.7 12345 7878\r\n"),
      v2(1, 0x21, v6Payload),
    ]
  ) {
    const whole = parseProxyHeader(bytes);
    let seen = new Uint8Array(0);
    let result: ProxyParse = { state: "more" };
    for (const chunk of chunksAt(bytes, byteCuts(bytes.length))) {
      seen = concatBytes([seen, chunk]);
      result = parseProxyHeader(seen);
      if (seen.length < bytes.length) equal(result.state, "more");
    }
    deepEqual(result, whole);
  }
});

Deno.test("formatIpv6() writes the canonical form", () => {
  equal(formatIpv6(new Uint8Array(16)), "::");
  equal(formatIpv6(new Uint8Array([...new Array(15).fill(0), 1])), "::1");
  equal(
    formatIpv6(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])),
    "2001:db8::1:0:0:1",
  );
});
