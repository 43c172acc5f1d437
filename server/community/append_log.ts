/**
 * Append-only logs of JSON lines in the data folder, as the offline queues and the rooms keep
 * them: the files of a folder, one append (fsynced when asked) and the parse of one file, where a
 * torn last line (a crash mid-append) is left out and any other bad line stops the load.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";

const encoder = new TextEncoder();

/**
 * The files of a folder whose names match, with what the pattern's first group captured.
 *
 * @param dir The folder; none when it does not exist.
 * @param pattern The file name, its first group the log's key.
 * @returns The file names and keys.
 */
export function logFiles(dir: string, pattern: RegExp): { file: string; key: string }[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return entries.flatMap((entry) => {
    const match = pattern.exec(entry.name);
    return entry.isFile && match !== null ? [{ file: entry.name, key: match[1] }] : [];
  });
}

/**
 * Appends text to a log (made with its folder when missing, 0700/0600).
 *
 * @param dir The folder.
 * @param file The file's name in it.
 * @param text Whole lines.
 * @param durable Whether to fsync before returning.
 */
export function appendLog(dir: string, file: string, text: string, durable: boolean): void {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  using handle = Deno.openSync(`${dir}/${file}`, { append: true, create: true, mode: 0o600 });
  const bytes = encoder.encode(text);
  let at = 0;
  while (at < bytes.length) at += handle.writeSync(bytes.subarray(at));
  if (durable) handle.syncDataSync();
}

/**
 * Parses a log's lines.
 *
 * @param text The file.
 * @param parse One line's record, undefined when the line is not one.
 * @param refusal The words for a bad line that is not the last (given its 1-based number).
 * @returns The records; a torn last line is left out.
 * @throws {PeerstreamError} `INTERNAL` with the refusal's words.
 */
export function parseLogLines<T>(
  text: string,
  parse: (line: string) => T | undefined,
  refusal: (line: number) => string,
): T[] {
  const lines = text.split("\n");
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line === "") return;
    const record = parse(line);
    if (record !== undefined) {
      out.push(record);
      return;
    }
    // Only the last line can be torn: it is the one an interrupted append was writing.
    if (i === lines.length - 1) return;
    throw new PeerstreamError("INTERNAL", refusal(i + 1));
  });
  return out;
}
