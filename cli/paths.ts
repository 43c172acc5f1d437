/**
 * Where peerstream keeps its files, following the XDG base directory conventions.
 * @module
 */

function home(): string {
  return Deno.env.get("HOME") ?? ".";
}

/** `$XDG_CACHE_HOME/peerstream` or `~/.cache/peerstream`: prepared segments and samples. */
export function cacheDir(): string {
  return `${Deno.env.get("XDG_CACHE_HOME") || `${home()}/.cache`}/peerstream`;
}

/** `$XDG_CONFIG_HOME/peerstream` or `~/.config/peerstream`: a client's identities and known peers. */
export function configDir(): string {
  return `${Deno.env.get("XDG_CONFIG_HOME") || `${home()}/.config`}/peerstream`;
}

/** `$XDG_DATA_HOME/peerstream` or `~/.local/share/peerstream`: the server's name bindings. */
export function dataDir(): string {
  return `${Deno.env.get("XDG_DATA_HOME") || `${home()}/.local/share`}/peerstream`;
}
