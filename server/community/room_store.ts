/**
 * Rooms in the data folder: one append-only file per room (`rooms/<room id>.log`), one JSON record
 * per line, each append written and fsynced before it returns, so that a change answered with
 * `room-entries` survives a crash. A record holds one signed chain entry as the author sent it,
 * when the server took it, and for the room's first entry its display name and the creator's key.
 * A torn last line (a crash mid-append) is left out on load; any other bad line stops the load
 * with a clear error.
 * @module
 */

import { appendLog, logFiles, parseLogLines } from "./append_log.ts";

/** One stored chain entry. */
export interface RoomRecord {
  /** When the server accepted it, ms (its own clock: the entry's `time` is the author's). */
  at: number;
  /** The signed entry's bytes, as the author sent them. */
  entry: Uint8Array;
  /** The room's display name (the first record only). */
  name?: string;
  /** The creator's signing key, base64 SPKI (the first record only): rooms created per key. */
  key?: string;
}

/** Where rooms persist: one append-only log of records per room. */
export interface RoomStorage {
  /** Every room's records, oldest first (a torn last record is left out). */
  load(): Map<string, RoomRecord[]>;
  /** Appends one record to a room's log, durably (fsync) before it returns. */
  append(room: string, record: RoomRecord): void;
}

/** A room id: 16 bytes in base64url, 22 characters (also the log's file name). */
export const ROOM_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * A {@linkcode RoomStorage} in a folder.
 *
 * @param dir The folder (made when missing, mode 0700).
 * @returns The storage.
 */
export function fileRoomStorage(dir: string): RoomStorage {
  return {
    load() {
      const out = new Map<string, RoomRecord[]>();
      for (const { file, key } of logFiles(dir, /^(.+)\.log$/)) {
        if (!ROOM_ID.test(key)) continue;
        const records = parseRoomLog(Deno.readTextFileSync(`${dir}/${file}`), file);
        if (records.length > 0) out.set(key, records);
      }
      return out;
    },
    append(room, record) {
      if (!ROOM_ID.test(room)) throw new RangeError(`Invalid room id "${room}"`);
      appendLog(dir, `${room}.log`, roomRecordLine(record) + "\n", true);
    },
  };
}

/**
 * One record as one line of JSON (no newline), as the data folder and Redis (cluster mode) hold it.
 *
 * @param record The record.
 * @returns The line; {@linkcode parseRoomRecord} reads it back.
 */
export function roomRecordLine(record: RoomRecord): string {
  return JSON.stringify({
    at: record.at,
    entry: record.entry.toBase64(),
    ...(record.name === undefined ? {} : { name: record.name }),
    ...(record.key === undefined ? {} : { key: record.key }),
  });
}

/**
 * Parses one room's log.
 *
 * @param text The file.
 * @param file Its name, for the error.
 * @returns The records; a torn last line is left out.
 * @throws {PeerstreamError} `INTERNAL` for a bad line that is not the last.
 */
export function parseRoomLog(text: string, file: string): RoomRecord[] {
  return parseLogLines(
    text,
    parseRoomRecord,
    (line) =>
      `Cannot load the room "${file}": line ${line} is not a room record; move the file away to drop that room`,
  );
}

/** The longest base64 text of one stored entry (an entry is far smaller than a frame). */
const MAX_ENTRY_B64 = 64 * 1024;

/**
 * A stored line read as a JSON object, for a reader to check field by field.
 *
 * @param line The line.
 * @returns Its fields, or undefined when it is not JSON or not a plain object (an array, null).
 */
export function parseJsonObject(line: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/**
 * One record from a line, checked field by field.
 *
 * @param line One line of a room's log.
 * @returns The record, or undefined when the line is not one.
 */
export function parseRoomRecord(line: string): RoomRecord | undefined {
  const r = parseJsonObject(line);
  if (r === undefined) return undefined;
  const { at, entry, name, key } = r;
  if (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0) return undefined;
  if (typeof entry !== "string" || entry.length > MAX_ENTRY_B64) return undefined;
  if (name !== undefined && (typeof name !== "string" || name.length > 256)) return undefined;
  if (key !== undefined && (typeof key !== "string" || key.length > 4096)) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(entry);
  } catch {
    return undefined;
  }
  return {
    at,
    entry: bytes,
    ...(name === undefined ? {} : { name }),
    ...(key === undefined ? {} : { key }),
  };
}
