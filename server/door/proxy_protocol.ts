/**
 * The PROXY protocol (versions 1 and 2, as HAProxy specifies it), by which a TCP load balancer
 * tells the server the client's real address before the client's own bytes. Pure: it parses bytes
 * as they arrive and never allocates more than {@linkcode MAX_PROXY_HEADER_BYTES}.
 *
 * - v1: one ASCII line, at most 107 bytes: `PROXY TCP4 SRC DST SPORT DPORT\r\n` (or `TCP6`, or
 *   `PROXY UNKNOWN…\r\n`).
 * - v2: a 12-byte signature, a version/command byte, a family byte, a u16be length, then the
 *   addresses and optional TLVs (skipped).
 *
 * `LOCAL` (v2) and `UNKNOWN` (v1) are the balancer speaking for itself (health checks): the
 * connection keeps the balancer's address.
 * @module
 */

/** The longest header accepted (v2 with TLVs), bytes. */
export const MAX_PROXY_HEADER_BYTES = 1024;
/** The longest v1 line, bytes, from the specification. */
export const MAX_PROXY_V1_BYTES = 107;

/** The v2 signature. */
export const PROXY_V2_SIGNATURE: Uint8Array<ArrayBuffer> = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);

const V1_PREFIX = new TextEncoder().encode("PROXY ");

/** What a header says. */
export type ProxyHeader =
  | {
    /** The balancer relays a client. */
    kind: "proxy";
    version: 1 | 2;
    /** The client's address. */
    source: { hostname: string; port: number };
    /** The address the client connected to. */
    destination: { hostname: string; port: number };
  }
  | {
    /** The balancer speaks for itself (v2 LOCAL, v1 UNKNOWN, or an address family without IP). */
    kind: "local";
    version: 1 | 2;
  };

/** The result of {@linkcode parseProxyHeader}. */
export type ProxyParse =
  | { state: "more" }
  | { state: "none" }
  | { state: "done"; header: ProxyHeader; length: number };

/**
 * Parses a PROXY header at the start of `bytes`.
 *
 * @param bytes What arrived so far.
 * @returns `more` when the bytes so far could still start a header, `none` when they cannot (no
 * header), or `done` with the header and how many bytes it took.
 * @throws {SyntaxError} When a header starts but is malformed.
 * @throws {RangeError} When it is longer than the limits.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (startsLike(bytes, PROXY_V2_SIGNATURE)) {
    return bytes.length < 16 ? { state: "more" } : parseV2(bytes);
  }
  if (startsLike(bytes, V1_PREFIX)) {
    return bytes.length < V1_PREFIX.length ? { state: "more" } : parseV1(bytes);
  }
  return { state: "none" };
}

/** Whether `bytes` and `prefix` agree on their common length. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function parseV1(bytes: Uint8Array): ProxyParse {
  const end = bytes.indexOf(0x0a);
  if (end < 0) {
    if (bytes.length >= MAX_PROXY_V1_BYTES) {
      throw new RangeError(
        `Invalid PROXY v1 header: no line end within ${MAX_PROXY_V1_BYTES} bytes`,
      );
    }
    return { state: "more" };
  }
  if (end + 1 > MAX_PROXY_V1_BYTES) {
    throw new RangeError(`Invalid PROXY v1 header: longer than ${MAX_PROXY_V1_BYTES} bytes`);
  }
  if (end === 0 || bytes[end - 1] !== 0x0d) {
    throw new SyntaxError("Invalid PROXY v1 header: the line must end with CRLF");
  }
  const line = new TextDecoder("ascii").decode(bytes.subarray(0, end - 1));
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") {
    return { state: "done", header: { kind: "local", version: 1 }, length: end + 1 };
  }
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    throw new SyntaxError(
      'Invalid PROXY v1 header: expected "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN"',
    );
  }
  const check = parts[1] === "TCP4" ? checkIpv4 : checkIpv6;
  return {
    state: "done",
    header: {
      kind: "proxy",
      version: 1,
      source: { hostname: check(parts[2]), port: port(parts[4]) },
      destination: { hostname: check(parts[3]), port: port(parts[5]) },
    },
    length: end + 1,
  };
}

function checkIpv4(text: string): string {
  const octets = text.split(".");
  if (
    octets.length !== 4 ||
    !octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)
  ) {
    throw new SyntaxError(`Invalid PROXY v1 header: "${text.slice(0, 40)}" is not an IPv4 address`);
  }
  return text;
}

function checkIpv6(text: string): string {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(text) || !URL.canParse(`http://[${text}]/`)) {
    throw new SyntaxError(`Invalid PROXY v1 header: "${text.slice(0, 45)}" is not an IPv6 address`);
  }
  // The URL parser writes the canonical (compressed, lower-case) form.
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

function port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) {
    throw new SyntaxError(`Invalid PROXY v1 header: "${text.slice(0, 8)}" is not a port`);
  }
  return Number(text);
}

function parseV2(bytes: Uint8Array): ProxyParse {
  const versionCommand = bytes[12];
  if (versionCommand >> 4 !== 2) {
    throw new SyntaxError(`Invalid PROXY v2 header: version ${versionCommand >> 4}, expected 2`);
  }
  const command = versionCommand & 0x0f;
  if (command > 1) throw new SyntaxError(`Invalid PROXY v2 header: unknown command ${command}`);
  const family = bytes[13];
  const length = (bytes[14] << 8) | bytes[15];
  const total = 16 + length;
  if (total > MAX_PROXY_HEADER_BYTES) {
    throw new RangeError(
      `Invalid PROXY v2 header: ${total} bytes is over the ${MAX_PROXY_HEADER_BYTES}-byte limit`,
    );
  }
  if (bytes.length < total) return { state: "more" };
  if (command === 0) return { state: "done", header: { kind: "local", version: 2 }, length: total };
  const view = new DataView(bytes.buffer, bytes.byteOffset + 16, length);
  if (family === 0x11 || family === 0x12) {
    if (length < 12) throw new SyntaxError("Invalid PROXY v2 header: IPv4 addresses need 12 bytes");
    const ip = (at: number) => bytes.subarray(16 + at, 16 + at + 4).join(".");
    return done(2, total, [ip(0), view.getUint16(8)], [ip(4), view.getUint16(10)]);
  }
  if (family === 0x21 || family === 0x22) {
    if (length < 36) throw new SyntaxError("Invalid PROXY v2 header: IPv6 addresses need 36 bytes");
    const ip = (at: number) => formatIpv6(bytes.subarray(16 + at, 16 + at + 16));
    return done(2, total, [ip(0), view.getUint16(32)], [ip(16), view.getUint16(34)]);
  }
  // UNSPEC or UNIX sockets: nothing an address limit can use; keep the balancer's address.
  return { state: "done", header: { kind: "local", version: 2 }, length: total };
}

function done(
  version: 1 | 2,
  length: number,
  source: [string, number],
  destination: [string, number],
): ProxyParse {
  return {
    state: "done",
    header: {
      kind: "proxy",
      version,
      source: { hostname: source[0], port: source[1] },
      destination: { hostname: destination[0], port: destination[1] },
    },
    length,
  };
}

/**
 * Formats 16 bytes as an IPv6 address in its canonical text form (RFC 5952).
 *
 * @param bytes The address.
 * @returns E.g. `2001:db8::1`, or `::ffff:192.0.2.1` for an IPv4-mapped one.
 */
export function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  const hex = groups.map((g) => g.toString(16)).join(":");
  return new URL(`http://[${hex}]/`).hostname.slice(1, -1);
}
