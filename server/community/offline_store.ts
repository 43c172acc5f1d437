/**
 * The offline queues in the data folder: one append-only file per recipient (`queue/<hex of the
 * name>.log`), one JSON record per line, each append written and fsynced before it returns, so
 * that a `send` answered `queued` survives a crash. A torn last line (a crash mid-append) is left
 * out on load; any other bad line stops the load with a clear error. The public keys of bound
 * names are kept beside them, one small file per name (`queue/keys/<hex of the name>.json`).
 * @module
 */

import { appendLog, logFiles, parseLogLines } from "./append_log.ts";
import type { QueueRecord, QueueStorage } from "./offline_queue.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import { readJsonObjectSync, writeFileAtomicSync } from "../../cli/state_file.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A {@linkcode QueueStorage} in a folder.
 *
 * @param dir The folder (made when missing, mode 0700).
 * @returns The storage.
 */
export function fileQueueStorage(dir: string): QueueStorage {
  const path = (name: string) => `${dir}/${encoder.encode(name).toHex()}.log`;
  return {
    load() {
      const out = new Map<string, QueueRecord[]>();
      for (const { file, key } of logFiles(dir, /^([0-9a-f]+)\.log$/)) {
        const name = decoder.decode(Uint8Array.fromHex(key));
        out.set(name, parseLog(Deno.readTextFileSync(`${dir}/${file}`), file));
      }
      return out;
    },
    append(name, records, durable) {
      const text = records.map((r) => JSON.stringify(toJson(r)) + "\n").join("");
      appendLog(dir, `${encoder.encode(name).toHex()}.log`, text, durable);
    },
    loadKeys() {
      const out = new Map<string, PublicKeysText>();
      let files: Deno.DirEntry[];
      try {
        files = [...Deno.readDirSync(`${dir}/keys`)];
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return out;
        throw error;
      }
      for (const file of files) {
        const match = /^([0-9a-f]+)\.json$/.exec(file.name);
        if (!file.isFile || match === null) continue;
        const { encKey, signKey } = readJsonObjectSync(`${dir}/keys/${file.name}`) ?? {};
        if (typeof encKey === "string" && typeof signKey === "string") {
          out.set(decoder.decode(Uint8Array.fromHex(match[1])), { encKey, signKey });
        }
      }
      return out;
    },
    saveKeys(name, keys) {
      // One small file per name: a new binding writes its own keys, not every name's.
      const file = `${dir}/keys/${encoder.encode(name).toHex()}.json`;
      writeFileAtomicSync(file, JSON.stringify(keys));
    },
    remove(name) {
      try {
        Deno.removeSync(path(name));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
  };
}

function toJson(record: QueueRecord): Record<string, unknown> {
  return record.kind === "message" ? { ...record, body: record.body.toBase64() } : { ...record };
}

/**
 * Parses one recipient's log.
 *
 * @param text The file.
 * @param file Its name, for the error.
 * @returns The records; a torn last line is left out.
 * @throws {PeerstreamError} `INTERNAL` for a bad line that is not the last.
 */
export function parseLog(text: string, file: string): QueueRecord[] {
  return parseLogLines(
    text,
    parseRecord,
    (line) =>
      `Cannot load the offline queue "${file}": line ${line} is not a queue record; move the file away to start that queue afresh`,
  );
}

const isUint = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === "string" && v.length <= 256;

/**
 * One record from a line, checked field by field.
 *
 * @param line One line of a log.
 * @returns The record, or undefined when the line is not one.
 */
export function parseRecord(line: string): QueueRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!isUint(r.qseq)) return undefined;
  if (r.kind === "removed") return { kind: "removed", qseq: r.qseq };
  if (!isUint(r.re) || !isUint(r.at)) return undefined;
  if (r.kind === "message" && isStr(r.from) && typeof r.body === "string") {
    if (r.room !== undefined && !isStr(r.room)) return undefined;
    try {
      const body = Uint8Array.fromBase64(r.body);
      const { qseq, from, re, at } = r;
      return {
        kind: "message",
        qseq,
        from,
        re,
        at,
        body,
        ...(isStr(r.room) ? { room: r.room } : {}),
      };
    } catch {
      return undefined;
    }
  }
  if ((r.kind === "delivered" || r.kind === "expired") && isStr(r.to) && isUint(r.ofQseq)) {
    return { kind: r.kind, qseq: r.qseq, to: r.to, ofQseq: r.ofQseq, re: r.re, at: r.at };
  }
  return undefined;
}
