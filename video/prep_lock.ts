/**
 * One preparation per title at a time across every process sharing a cache folder (several
 * `serve` nodes on one machine, or on one shared volume). The lock is an exclusive `flock` on
 * `<cache>/locks/.lock-<key16>` (`<key16>`: the first 16 hex digits of the cache key, as in the
 * `prepared/.tmp-<key16>-*` folder names): the kernel releases it when its process exits, even on SIGKILL,
 * so a crashed node never blocks the others and no pid or liveness guess is needed. Lock files are
 * never deleted (deleting one while another process waits on it would let two processes in);
 * they are a few bytes each.
 *
 * A process that finds the lock held waits, then reads the manifest the holder wrote instead of
 * preparing again. A cleaner of leftover `.tmp-<key16>-*` folders asks
 * `isPreparing(cacheDir + "/locks", key16)` first, so a live node's work in progress is never removed.
 * @module
 */

/** A held preparation lock. */
export interface PreparationLock {
  /** Releases it; safe to call twice. */
  release(): Promise<void>;
}

/** Options for {@linkcode lockPreparation}. */
export interface LockOptions {
  /** Stops waiting (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called once when another process holds the lock and this one starts waiting. */
  onWait?: () => void;
  /** How often to try again while waiting, ms. @default {200} */
  pollMs?: number;
}

/**
 * The lock file of a cache key.
 *
 * @param root The lock folder (`<cache>/locks`).
 * @param key The cache key (hex).
 * @returns Its path.
 */
export function lockPath(root: string, key: string): string {
  return `${root}/.lock-${key.slice(0, 16)}`;
}

/**
 * Takes the preparation lock of a cache key, waiting while another process holds it.
 *
 * @param root The lock folder (`<cache>/locks`; it must exist).
 * @param key The cache key.
 * @param options A signal, a callback when waiting starts, the polling period.
 * @returns The held lock.
 * @throws When the signal aborts while waiting.
 */
export async function lockPreparation(
  root: string,
  key: string,
  options: LockOptions = {},
): Promise<PreparationLock> {
  const file = await Deno.open(lockPath(root, key), { read: true, write: true, create: true });
  try {
    let waited = false;
    while (!(await file.tryLock(true))) {
      if (!waited) options.onWait?.();
      waited = true;
      options.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
      options.signal?.throwIfAborted();
    }
  } catch (error) {
    file.close();
    throw error;
  }
  // For people looking at the folder: who prepares this key.
  const owner = new TextEncoder().encode(`pid ${Deno.pid}\n`);
  await file.truncate(0).then(() => file.write(owner)).catch(() => {});
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await file.unlock();
      } finally {
        file.close();
      }
    },
  };
}

/**
 * Whether a live process is preparing a cache key now (holds its lock).
 *
 * @param root The lock folder (`<cache>/locks`).
 * @param key The cache key, or the `<key16>` of a `.tmp-<key16>-*` folder.
 * @returns True while the lock is held elsewhere (or by this process).
 */
export async function isPreparing(root: string, key: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(lockPath(root, key), { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  try {
    // A shared lock is refused while an exclusive one is held.
    if (!(await file.tryLock(false))) return true;
    await file.unlock();
    return false;
  } finally {
    file.close();
  }
}
