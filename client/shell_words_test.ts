import { deepEqual } from "node:assert/strict";
import { scanWords, type WordScan } from "./shell_words.ts";

const SCAN_TABLE: readonly [string, WordScan][] = [
  ["", { words: [], rawLast: "", open: null, escape: false }],
  ["   ", { words: [], rawLast: "", open: null, escape: false }],
  ["a b", { words: ["a", "b"], rawLast: "b", open: null, escape: false }],
  ["a b ", { words: ["a", "b"], rawLast: "", open: null, escape: false }],
  [' "a b"', { words: ["a b"], rawLast: '"a b"', open: null, escape: false }],
  ['x "my fi', { words: ["x", "my fi"], rawLast: '"my fi', open: '"', escape: false }],
  ["'l’é", { words: ["l’é"], rawLast: "'l’é", open: "'", escape: false }],
  ["my\\", { words: ["my"], rawLast: "my\\", open: null, escape: true }],
  ["\\", { words: [""], rawLast: "\\", open: null, escape: true }],
  ["a 🎬\\ 🎥", { words: ["a", "🎬 🎥"], rawLast: "🎬\\ 🎥", open: null, escape: false }],
  ['"my "film', { words: ["my film"], rawLast: '"my "film', open: null, escape: false }],
];

Deno.test("scanWords() gives the words, the last one as typed, and what is left open", () => {
  for (const [text, expected] of SCAN_TABLE) {
    deepEqual(scanWords(text), expected, JSON.stringify(text));
  }
});
