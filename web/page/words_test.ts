import { equal, ok } from "node:assert/strict";
import { ERROR_CODES, PeerstreamError } from "../../protocol/errors.ts";
import {
  consoleDetail,
  failureWords,
  keyChangedWords,
  offlineWords,
  reasonWords,
  verifyWords,
  warningWords,
} from "./words.ts";

/** Wire codes, and terminal commands the page has no use for. */
const NOT_FOR_PEOPLE =
  /\b[A-Z]{2,}_[A-Z_]{2,}\b|\b(?:run|type) [A-Z]{3,}|\b(?:VERIFY|ACCEPT|PLAY|LIST|WHO|QUIT)\b/;

Deno.test("reasonWords() words every wire code without codes or terminal commands", () => {
  for (const code of ERROR_CODES) {
    const words = reasonWords(code, { peer: "ann", title: "cat" });
    ok(words.length > 10, `${code}: "${words}"`);
    ok(!NOT_FOR_PEOPLE.test(words), `${code}: "${words}"`);
    ok(!words.includes("{"), `${code} left a placeholder: "${words}"`);
  }
});

Deno.test("reasonWords() names the peer and the title, and has a general sentence for an unknown code", () => {
  const table: [code: string, context: Parameters<typeof reasonWords>[1], words: string][] = [
    ["PEER_OFFLINE", { peer: "ann" }, "ann is offline"],
    ["PEER_OFFLINE", {}, "the other side is offline"],
    ["VIDEO_NOT_FOUND", { title: "cat" }, '"cat" is no longer in the library; choose Refresh'],
    ["NO_SUCH_CODE", {}, "something went wrong; try again"],
    ["", {}, "something went wrong; try again"],
    [
      "KEY_CHANGED",
      { peer: "carol" },
      "the key of carol changed; compare fingerprints with Verify, then choose Accept new key",
    ],
  ];
  for (const [code, context, words] of table) equal(reasonWords(code, context), words, code);
});

Deno.test("failureWords() words the code of an error, and consoleDetail() keeps the code and message", () => {
  const error = new PeerstreamError("KEY_CHANGED", 'Cannot send to "carol": run VERIFY carol');
  equal(
    failureWords("Not delivered", error, { peer: "carol" }),
    "Not delivered: the key of carol changed; compare fingerprints with Verify, then choose Accept new key",
  );
  equal(consoleDetail(error), 'KEY_CHANGED: Cannot send to "carol": run VERIFY carol');
  // A script or network error is worded as a general failure, its text kept for the console.
  equal(
    failureWords("Cannot play", new TypeError("x is undefined")),
    "Cannot play: something went wrong on the server; try again",
  );
  equal(consoleDetail(new TypeError("x is undefined")), "x is undefined");
  equal(consoleDetail("plain"), "plain");
});

Deno.test("the key-changed notice, the Verify explanation and the offline reasons speak of the page's controls", () => {
  const sentences = [
    keyChangedWords("carol"),
    verifyWords("carol"),
    warningWords("BAD_SIGNATURE"),
    warningWords("NAME_CONFUSABLE"),
    warningWords("INBOX_FULL"),
    warningWords("BAD_MESSAGE"),
    warningWords("INTERNAL"),
    warningWords("CHAIN_INVALID"),
    warningWords("NOT_A_CODE"),
    offlineWords("waiting", 4_400),
    offlineWords("connecting"),
    offlineWords("stopped"),
    offlineWords("moved"),
  ];
  for (const sentence of sentences) ok(!NOT_FOR_PEOPLE.test(sentence), sentence);
  equal(
    warningWords("REPLAYED"),
    "A message was not shown: it was a copy of a message already shown, so it was not shown again",
  );
  ok(warningWords("INBOX_FULL").startsWith("Messages are arriving faster"));
  ok(keyChangedWords("carol").includes("the key of carol changed"));
  ok(keyChangedWords("carol").includes("Accept new key"));
  ok(verifyWords("carol").includes("They match"));
  ok(offlineWords("waiting", 4_400).includes("(next try in 4 s)"));
  ok(offlineWords("waiting", 10).includes("(next try in 1 s)"));
  ok(offlineWords("moved").includes("Use here"));
  // A name is shown as the page shows names: invisible characters made visible.
  ok(!keyChangedWords("car\u200bol").includes("\u200b"));
});
