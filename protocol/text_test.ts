import { deepEqual, equal, ok } from "node:assert/strict";
import {
  codePointWidth,
  displayWidth,
  escapeControls,
  escapeName,
  LOG_TEXT_MAX,
  logText,
  padColumns,
  quoted,
  QUOTED_MAX,
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

/** The invisible and format characters issue 16 lists, each of which must never print raw. */
const LISTED_INVISIBLES = [
  0x00ad, // soft hyphen
  0x061c, // Arabic letter mark
  ...range(0x200b, 0x200f), // ZWSP, ZWNJ, ZWJ, LRM, RLM
  ...range(0x202a, 0x202e), // bidi embeddings and overrides
  ...range(0x2060, 0x2064), // word joiner, invisible operators
  ...range(0x2066, 0x2069), // bidi isolates
  0xfeff, // byte order mark
  0x180e, // Mongolian vowel separator
  0x115f, // Hangul choseong filler
  0x1160, // Hangul jungseong filler
  0x3164, // Hangul filler
  0xffa0, // halfwidth Hangul filler
  0xe0001, // language tag
  0xe0041, // tag letter A
  0xfff9, // interlinear annotation anchor
];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function escapeOf(code: number): string {
  const hex = code.toString(16);
  if (code <= 0xff) return `\\x${hex}`;
  return code <= 0xffff ? `\\u${hex.padStart(4, "0")}` : `\\u{${hex}}`;
}

Deno.test("escapeControls() shows every listed invisible or format character as its escape", async (t) => {
  for (const code of LISTED_INVISIBLES) {
    const ch = String.fromCodePoint(code);
    await t.step(`U+${code.toString(16).toUpperCase().padStart(4, "0")}`, () => {
      equal(escapeControls(`ca${ch}rol`), `ca${escapeOf(code)}rol`);
      equal(escapeControls(`ca${ch}rol`, { keepJoiners: false }), `ca${escapeOf(code)}rol`);
      equal(escapeName(`ca${ch}rol`), `ca${escapeOf(code)}rol`);
      ok(logText(`ca${ch}rol`).includes(escapeOf(code)));
    });
  }
});

Deno.test("escapeControls() escapes every format character (category Cf), whatever its neighbours", () => {
  for (let code = 0; code <= 0xe0fff; code++) {
    if (code === 0x10000) code = 0xe0000; // no Cf between the BMP and the tags
    const ch = String.fromCodePoint(code);
    if (!/^\p{Cf}$/u.test(ch)) continue;
    const out = escapeControls(`a${ch}b`);
    equal(out, `a${escapeOf(code)}b`, `U+${code.toString(16)}`);
  }
});

Deno.test("escapeControls() keeps the joiners emoji and joining scripts need, and combining marks", async (t) => {
  const kept: [string, string][] = [
    ["family: ZWJ between emoji", "👨\u200d👩\u200d👧"],
    ["technologist with a skin tone", "👩🏽\u200d💻"],
    ["heart on fire: ZWJ after a presentation selector", "\u2764\ufe0f\u200d🔥"],
    ["rainbow flag", "🏳\ufe0f\u200d🌈"],
    ["Scotland: an emoji tag sequence", "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}"],
    ["Persian ZWNJ between Arabic letters", "می\u200cخواهم"],
    ["Devanagari ZWJ", "क्\u200dष"],
    ["combining acute", "e\u0301te\u0301"],
    ["emoji presentation selector", "\u2764\ufe0f"],
    ["Thai marks", "กี่"],
  ];
  for (const [name, text] of kept) {
    await t.step(name, () => equal(escapeControls(text), text));
  }
  const escaped: [string, string, string][] = [
    ["ZWJ between Latin letters", "a\u200dlice", "a\\u200dlice"],
    ["ZWJ after an emoji, before a letter", "👍\u200dok", "👍\\u200dok"],
    ["ZWJ before an emoji, after a letter", "ok\u200d👍", "ok\\u200d👍"],
    ["ZWNJ between Latin letters", "bo\u200cb", "bo\\u200cb"],
    ["a lone tag letter", "x\u{e0041}", "x\\u{e0041}"],
    ["tags without the black flag", "\u{e0067}\u{e007f}", "\\u{e0067}\\u{e007f}"],
    ["ZWJ at the end", "👍\u200d", "👍\\u200d"],
  ];
  for (const [name, text, expected] of escaped) {
    await t.step(name, () => equal(escapeControls(text), expected));
  }
  await t.step("keepJoiners: false escapes the joiners of an emoji sequence too", () => {
    equal(escapeControls("👨\u200d👩", { keepJoiners: false }), "👨\\u200d👩");
  });
});

Deno.test("escapeName() shows every invisible character of a name, joiners and selectors too", () => {
  const table: [string, string][] = [
    ["alice", "alice"],
    ["\u0430lice", "\u0430lice"], // visible; the mark for a refused name is the caller's
    ["ca\u200brol", "ca\\u200brol"],
    ["👨\u200d👩", "👨\\u200d👩"],
    ["alice\ufe0f", "alice\\ufe0f"],
    ["alice\u034f", "alice\\u034f"],
    ["al\u00a0ice", "al\\xa0ice"],
    ["al\u3000ice", "al\\u3000ice"],
    ["al ice", "al ice"],
    ["a\nb\rc\td", "a\\nb\\rc\\x09d"],
    ["zoe\u0308", "zoe\u0308"],
  ];
  for (const [name, expected] of table) equal(escapeName(name), expected, JSON.stringify(name));
});

Deno.test("logText() escapes an invisible character even inside an emoji sequence", () => {
  equal(logText("ca\u200brol"), '"ca\\u200brol"');
  equal(logText("👨\u200d👩"), '"👨\\u200d👩"');
  equal(logText("a\tb"), '"a\\x09b"');
});

Deno.test("escapeControls() takes a megabyte of joiners in linear time", () => {
  const started = performance.now();
  const out = escapeControls("👨\u200d".repeat(256 * 1024));
  ok(out.length > 0);
  // Generous: a quadratic scan of this input takes minutes, a linear one well under a second.
  ok(performance.now() - started < 20_000);
});

Deno.test("quoted() quotes, escapes and cuts a client's text for an error message", () => {
  const table: [string, string][] = [
    ["bob", '"bob"'],
    ["", '""'],
    ['say "hi"\n', '"say \\"hi\\"\\n"'],
    ["x".repeat(QUOTED_MAX), `"${"x".repeat(QUOTED_MAX)}"`],
    ["x".repeat(QUOTED_MAX + 1), `"${"x".repeat(QUOTED_MAX)}"…(+1)`],
  ];
  for (const [text, expected] of table) equal(quoted(text), expected, JSON.stringify(text));
});
