/**
 * `--redis` URLs: checked when the flags are read and shown without their password. Apart from
 * the Redis client (`redis_link.ts`), so that a server without `--redis` never loads it.
 * @module
 */

/**
 * The URL without a password, for messages and logs.
 *
 * @param url A `redis://` URL.
 * @returns It, with any password replaced by `***`.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/**
 * Checks a `--redis` URL: `redis://HOST[:PORT][/DB]` (or `rediss://` for TLS).
 *
 * @param url The text given.
 * @returns The URL.
 * @throws {TypeError} When it is not such a URL.
 */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `Invalid Redis URL "${url}": use redis://HOST:PORT or redis://HOST:PORT/DB`,
    );
  }
  if (!["redis:", "rediss:"].includes(parsed.protocol) || parsed.hostname === "") {
    throw new TypeError(
      `Invalid Redis URL "${url}": use redis://HOST:PORT or redis://HOST:PORT/DB`,
    );
  }
  if (!/^\/?(\d{1,2})?$/.test(parsed.pathname)) {
    throw new TypeError(`Invalid Redis URL "${url}": the database must be a number such as /0`);
  }
  return url;
}
