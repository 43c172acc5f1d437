/**
 * Which per-address budget a client's address counts against. An IPv4 address is its own group;
 * an IPv6 address counts with its /64, since one host (or one customer of an ISP) routinely holds a
 * whole /64 and can connect from as many of its 2^64 addresses as it likes. Pure.
 * @module
 */

/**
 * The budget group of a remote address: IPv4 as it is, an IPv4-mapped IPv6 address as its IPv4
 * address, any other IPv6 address as its /64 (`2001:db8:0:0::/64`), zone ids ignored. Anything
 * else (a transport name such as `unix`) is its own group.
 *
 * @example
 * ```ts
 * addressGroup("2001:db8::2:1"); // "2001:db8:0:0::/64"
 * addressGroup("::ffff:1.2.3.4"); // "1.2.3.4"
 * ```
 *
 * @param host The address as `Deno.NetAddr.hostname` gives it.
 * @returns The group's key.
 */
export function addressGroup(host: string): string {
  if (!host.includes(":")) return host;
  const groups = _ipv6Groups(host);
  if (groups === undefined) return host;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/**
 * The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail and a `%zone`
 * accepted), or undefined when it is not one.
 *
 * @param text The address, without brackets.
 * @returns The groups.
 */
export function _ipv6Groups(text: string): number[] | undefined {
  const address = text.replace(/%.*$/, "").toLowerCase();
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const octets = piece.split(".");
        if (octets.length !== 4 || !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) < 256)) {
          return undefined;
        }
        const [a, b, c, d] = octets.map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail];
}
