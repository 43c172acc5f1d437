import { deepEqual, throws } from "node:assert/strict";
import { appendLog, logFiles, parseLogLines } from "./append_log.ts";
import { PeerstreamError } from "../../protocol/errors.ts";

const number = (line: string) => /^\d+$/.test(line) ? Number(line) : undefined;
const refusal = (line: number) => `line ${line} is bad`;

Deno.test("parseLogLines() keeps good lines, leaves out a torn last line, refuses a bad one before it", () => {
  const rows: [string, number[] | string][] = [
    ["", []],
    ["1\n2\n", [1, 2]],
    ["1\n\n2", [1, 2]],
    ["1\n2\n3x", [1, 2]],
    ["1\nx\n2\n", "line 2 is bad"],
    ["x\n", "line 1 is bad"],
  ];
  for (const [text, want] of rows) {
    if (typeof want === "string") {
      throws(
        () => parseLogLines(text, number, refusal),
        (e: unknown) => e instanceof PeerstreamError && e.code === "INTERNAL" && e.message === want,
      );
    } else deepEqual(parseLogLines(text, number, refusal), want, JSON.stringify(text));
  }
});

Deno.test("appendLog() makes the folder and appends; logFiles() lists the matching files", async () => {
  const root = await Deno.makeTempDir({ prefix: "peerstream-log-" });
  try {
    const dir = `${root}/logs`;
    deepEqual(logFiles(dir, /^(.+)\.log$/), [], "no folder yet: no logs");
    appendLog(dir, "a.log", "1\n", true);
    appendLog(dir, "a.log", "2\n", false);
    appendLog(dir, "b.txt", "3\n", false);
    deepEqual(logFiles(dir, /^(.+)\.log$/), [{ file: "a.log", key: "a" }]);
    deepEqual(parseLogLines(Deno.readTextFileSync(`${dir}/a.log`), number, refusal), [1, 2]);
    deepEqual((await Deno.stat(`${dir}/a.log`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
