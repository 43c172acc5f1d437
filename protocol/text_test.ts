import { deepEqual, equal, ok } from "node:assert/strict";
import {
  codePointWidth,
  displayWidth,
  escapeControls,
  LOG_TEXT_MAX,
  logText,
  padColumns,
  speakerLines,
  terminalLines,
} from "./text.ts";

/** True when the string holds a byte that moves the cursor or changes the terminal. */
function hasControl(text: string): boolean {
  // deno-lint-ignore no-control-regex -- matching controls is the point
  return /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u.test(
    text,
  );
}

Deno.test("escapeControls() shows every control as a visible escape", async (t) => {
  const table: [string, string, string][] = [
    ["plain text is unchanged", "hello, wörld 日本 👋🏽", "hello, wörld 日本 👋🏽"],
    ["escape sequence", "a\x1b[2Jb", "a\\x1b[2Jb"],
    ["carriage return", "x\ry", "x\\ry"],
    ["line feed", "x\ny", "x\\ny"],
    ["tab kept", "x\ty", "x\ty"],
    ["NUL and BEL", "\0\x07", "\\x00\\x07"],
    ["DEL", "\x7f", "\\x7f"],
    ["C1 CSI", "\u009b31m", "\\x9b31m"],
    ["OSC 52 clipboard write", "\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"],
    ["right-to-left override", "abc\u202ecba", "abc\\u202ecba"],
    ["isolates", "\u2066x\u2069", "\\u2066x\\u2069"],
    ["line separator", "a\u2028b", "a\\u2028b"],
    ["zero-width joiner kept (emoji)", "👩\u200d💻", "👩\u200d💻"],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => {
      const out = escapeControls(input);
      equal(out, expected);
      equal(hasControl(out), false);
    });
  }
});

Deno.test("escapeControls() keeps line feeds and drops tabs only when asked", () => {
  equal(escapeControls("a\nb\tc", { keepNewlines: true }), "a\nb\tc");
  equal(escapeControls("a\tb", { keepTabs: false }), "a\\tb");
});

Deno.test("escapeControls() leaves no control in any single code point", () => {
  for (let code = 0; code < 0x3000; code++) {
    const out = escapeControls(String.fromCodePoint(code));
    ok(!hasControl(out), `U+${code.toString(16)} came out as ${JSON.stringify(out)}`);
  }
});

Deno.test("terminalLines() splits lines and escapes what could forge one", () => {
  const forged = "see you\r<alice ✓> send me the wifi password\n<bob> ok\r\n\x1b]0;title\x07";
  const lines = terminalLines(forged);
  equal(lines.length, 3);
  equal(lines[0], "see you\\r<alice ✓> send me the wifi password");
  equal(lines[1], "<bob> ok");
  equal(lines[2], "\\x1b]0;title\\x07");
  for (const line of lines) equal(hasControl(line), false);
  equal(terminalLines("").length, 1);
});

Deno.test("logText() quotes, escapes and cuts untrusted text", async (t) => {
  await t.step("a forged log line stays on one line", () => {
    const out = logText('x"\n[12:00:00] join #1 "admin"');
    equal(out, '"x\\"\\n[12:00:00] join #1 \\"admin\\""');
    equal(out.includes("\n"), false);
  });
  await t.step("exactly at the limit is whole", () => {
    equal(logText("a".repeat(LOG_TEXT_MAX)), `"${"a".repeat(LOG_TEXT_MAX)}"`);
  });
  await t.step("one over the limit is cut and says how much", () => {
    equal(logText("a".repeat(LOG_TEXT_MAX + 1)), `"${"a".repeat(LOG_TEXT_MAX)}"…(+1)`);
  });
  await t.step("a megabyte key becomes a short line", () => {
    const out = logText("k".repeat(1024 * 1024), 64);
    ok(out.length < 100, `${out.length} characters`);
    ok(out.endsWith(`…(+${1024 * 1024 - 64})`));
  });
  await t.step("backslashes are doubled so escapes cannot be faked", () => {
    equal(logText("\\x1b"), '"\\\\x1b"');
  });
});

Deno.test("displayWidth() counts wide characters as 2 and combining marks as 0", () => {
  const table: [string, number][] = [
    ["", 0],
    ["abc", 3],
    ["日本語", 6],
    ["ａｌｉｃｅ", 10],
    ["e\u0301", 1],
    ["👋", 2],
    ["한국", 4],
    ["a😀b", 4],
    ["e\u0301t\u00e9", 3],
    ["\u1100\u1161\u11a8", 2], // a Hangul syllable from conjoining jamo
    ["x\u200dy\ufe0f", 2], // a joiner and a variation selector
  ];
  for (const [text, width] of table) equal(displayWidth(text), width, text);
});

Deno.test("codePointWidth() is 2 for wide and fullwidth characters, 0 for marks and joiners", () => {
  const cases: [string, number][] = [
    ["a", 1],
    ["é", 1],
    ["Ω", 1],
    ["中", 2],
    ["ア", 2],
    ["Ａ", 2],
    ["\u0301", 0],
    ["\u200d", 0],
    ["\ufe0f", 0],
    ["\u1160", 0],
  ];
  for (const [ch, width] of cases) equal(codePointWidth(ch.codePointAt(0)!), width, ch);
});

Deno.test("padColumns() pads to a width in columns", () => {
  equal(padColumns("ab", 4), "ab  ");
  equal(padColumns("日本", 4), "日本");
  equal(padColumns("日", 4), "日  ");
  equal(padColumns("toolong", 3), "toolong");
});

Deno.test("terminalLines() cuts lines longer than the width, never splitting a character", () => {
  deepEqual(terminalLines("abcde", { width: 2 }), ["ab", "cd", "e"]);
  deepEqual(terminalLines("ab\ncd", { width: 2 }), ["ab", "cd"]);
  deepEqual(terminalLines("日本語", { width: 4 }), ["日本", "語"]);
  deepEqual(terminalLines("日本", { width: 1 }), ["日", "本"]);
  deepEqual(terminalLines("e\u0301e\u0301", { width: 1 }), ["e\u0301", "e\u0301"]);
  // An escape counts by what is shown: "\x1b" is four columns.
  deepEqual(terminalLines("\x1bab", { width: 4 }), ["\\x1b", "ab"]);
});

Deno.test("speakerLines() starts every line with who said it, continuation lines marked", async (t) => {
  await t.step("one line", () => {
    deepEqual(speakerLines("<bob>", "hi"), ["<bob> hi"]);
  });
  await t.step("a forged line stays bob's", () => {
    deepEqual(speakerLines("<bob>", "hi\n<alice ✓> send the password\r\n\x1b[2J"), [
      "<bob> hi",
      "<bob> ┆ <alice ✓> send the password",
      "<bob> ┆ \\x1b[2J",
    ]);
  });
  await t.step("padding meant to wrap onto a new visual line is cut at the width", () => {
    const pad = " ".repeat(74);
    const lines = speakerLines("<bob>", `${pad}<alice ✓> hi`, { width: 80 });
    ok(lines.length === 2, JSON.stringify(lines));
    for (const line of lines) {
      ok(line.startsWith("<bob> "), line);
      ok(displayWidth(line) <= 80, `${displayWidth(line)} columns`);
    }
  });
});
