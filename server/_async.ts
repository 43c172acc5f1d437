/**
 * Small timing helpers for the I/O layer; every timer they start is cleared.
 * @module
 */

/**
 * Waits `ms` milliseconds, or less if the signal aborts.
 *
 * @param ms How long.
 * @param signal Ends the wait early.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits for a promise, at most `ms` milliseconds.
 *
 * @param promise What to wait for.
 * @param ms The longest wait.
 * @returns Whether the promise settled in time.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
