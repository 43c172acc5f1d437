/**
 * Small state files (identities, known peers, name bindings): JSON objects read with a clear error,
 * written atomically with mode 0600 so that a crash never leaves half a file.
 * @module
 */

/**
 * Reads a file holding a JSON object.
 *
 * @param path The file.
 * @returns The object, or undefined when the file does not exist.
 * @throws {SyntaxError} When the file is not JSON or not an object; the message names the file and
 * says to fix or delete it.
 */
export function readJsonObjectSync(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot read "${path}": it is not valid JSON; fix or delete it`, {
      cause: error,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Cannot read "${path}": expected a JSON object; fix or delete it`);
  }
  return value as Record<string, unknown>;
}

function parentOf(path: string): string | undefined {
  // A bare file name has no folder to create.
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : undefined;
}

/**
 * Writes a file atomically: a temporary file (mode 0600) renamed over the old one. The folder is
 * created (mode 0700) when missing.
 *
 * @param path The file.
 * @param text Its new content.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = parentOf(path);
  if (dir !== undefined) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * The synchronous form of {@linkcode writeFileAtomic}.
 *
 * @param path The file.
 * @param text Its new content.
 */
export function writeFileAtomicSync(path: string, text: string): void {
  const dir = parentOf(path);
  if (dir !== undefined) Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, text, { mode: 0o600 });
    Deno.renameSync(tmp, path);
  } catch (error) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // Never written.
    }
    throw error;
  }
}
