import { deepEqual, equal, ok } from "node:assert/strict";
import { type EditorAction, LineEditor, MAX_LINE_BYTES, utf8Length } from "./line_editor.ts";
import { complete } from "./commands.ts";

function lines(actions: EditorAction[]): string[] {
  return actions.flatMap((a) => a.kind === "line" ? [a.line] : []);
}

Deno.test("LineEditor.feed() returns typed lines on CR, LF or CR LF, pasted all at once or byte by byte", () => {
  const input = "LIST\rPLAY dog\nWHO\r\nQUIT\r";
  const whole = new LineEditor();
  deepEqual(lines(whole.feed(input)), ["LIST", "PLAY dog", "WHO", "QUIT"]);
  const bytewise = new LineEditor();
  const got: string[] = [];
  for (const ch of input) got.push(...lines(bytewise.feed(ch)));
  deepEqual(got, ["LIST", "PLAY dog", "WHO", "QUIT"]);
  deepEqual(whole.history, ["LIST", "PLAY dog", "WHO", "QUIT"]);
});

Deno.test("LineEditor edits: left/right, home/end, backspace, delete, kill, word delete", () => {
  const e = new LineEditor();
  e.feed("hello world");
  e.feed("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D"); // 5 × left: before "world"
  e.feed("big ");
  equal(e.line, "hello big world");
  e.feed("\x01"); // home
  e.feed("\x1b[3~"); // delete
  equal(e.line, "ello big world");
  e.feed("\x05\x7f"); // end, backspace
  equal(e.line, "ello big worl");
  e.feed("\x17"); // Ctrl-W
  equal(e.line, "ello big ");
  e.feed("\x1b[1;5D"); // Ctrl-Left: a word back
  equal(e.cursor, 5);
  e.feed("\x0b"); // Ctrl-K
  equal(e.line, "ello ");
  e.feed("\x15"); // Ctrl-U
  equal(e.line, "");
  // An escape sequence cut by the read waits for the rest.
  e.feed("ab\x1b");
  e.feed("[");
  e.feed("D");
  e.feed("X");
  equal(e.line, "aXb");
  // Astral characters move and delete as one.
  e.feed("\x05\x15🎬x\x1b[D\x7f");
  equal(e.line, "x");
});

Deno.test("LineEditor history: Up and Down walk entered lines and keep the draft", () => {
  const e = new LineEditor({ historySize: 2 });
  e.feed("one\rtwo\rtwo\rthree\r");
  deepEqual(e.history, ["two", "three"]);
  e.feed("dra");
  e.feed("\x1b[A");
  equal(e.line, "three");
  e.feed("\x1b[A\x1b[A\x1b[A");
  equal(e.line, "two");
  e.feed("\x1b[B\x1b[B");
  equal(e.line, "dra");
  e.feed("\x10"); // Ctrl-P
  equal(e.line, "three");
});

Deno.test("LineEditor Ctrl-C clears the line and says whether it had text; Ctrl-D is EOF only when empty", () => {
  const e = new LineEditor();
  deepEqual(e.feed("abc\x03"), [{ kind: "interrupt", hadText: true }]);
  equal(e.line, "");
  deepEqual(e.feed("\x03"), [{ kind: "interrupt", hadText: false }]);
  e.feed("xy\x01");
  deepEqual(e.feed("\x04"), []);
  equal(e.line, "y");
  e.feed("\x0b");
  deepEqual(e.feed("\x04"), [{ kind: "eof" }]);
});

Deno.test("LineEditor Tab completes one candidate, the common prefix, or lists them", () => {
  const sources = { peers: ["bob", "bobby"], titles: [{ title: "testcard", heights: [240, 720] }] };
  const e = new LineEditor({ completer: (line) => complete(line, sources) });
  e.feed("pl\t");
  equal(e.line, "PLAY ");
  e.feed("te\t");
  equal(e.line, "PLAY testcard ");
  deepEqual(e.feed("\t"), [{ kind: "candidates", list: ["auto", "240p", "720p"] }]);
  e.feed("7\t");
  equal(e.line, "PLAY testcard 720p ");
  e.feed("\x15MSG b\t");
  equal(e.line, "MSG bob");
  deepEqual(e.feed("\t"), [{ kind: "candidates", list: ["bob", "bobby"] }]);
});

Deno.test("LineEditor takes a bracketed paste's line breaks and tabs as spaces", () => {
  const e = new LineEditor({ completer: () => [["x"], ""] });
  deepEqual(lines(e.feed("MSG bob \x1b[200~one\ntwo\tthree\x1b[201~")), []);
  equal(e.line, "MSG bob one two three");
  deepEqual(lines(e.feed("\r")), ["MSG bob one two three"]);
});

Deno.test("LineEditor refuses a line over maxBytes at once and discards the rest up to Enter", () => {
  const e = new LineEditor({ maxBytes: 10 });
  deepEqual(e.feed("0123456789"), []);
  deepEqual(e.feed("a"), [{ kind: "too-long", maxBytes: 10 }]);
  equal(e.line, "");
  equal(e.discarding, true);
  deepEqual(e.feed("more of the same paste"), []);
  deepEqual(lines(e.feed("\rLIST\r")), ["LIST"]);
  equal(e.discarding, false);
  // UTF-8 bytes count, not characters: "é" is 2 bytes.
  const f = new LineEditor({ maxBytes: 4 });
  deepEqual(f.feed("éé"), []);
  deepEqual(f.feed("é"), [{ kind: "too-long", maxBytes: 4 }]);
  // Ctrl-C ends the discarding too.
  deepEqual(f.feed("x\x03"), [{ kind: "interrupt", hadText: true }]);
  equal(f.discarding, false);
});

Deno.test("LineEditor takes a 100 KB paste in linear time: refused, then the next line works", () => {
  const e = new LineEditor();
  const paste = "MESSAGE bob " + "x".repeat(100_000) + "\r";
  const started = performance.now();
  const actions: EditorAction[] = [];
  // As a pty delivers it: 4 KiB reads, a redraw after each.
  for (let at = 0; at < paste.length; at += 4096) {
    actions.push(...e.feed(paste.slice(at, at + 4096)));
    ok(e.render("> ", 80).length < 200);
  }
  actions.push(...e.feed("LIST\r"));
  deepEqual(actions, [{ kind: "too-long", maxBytes: MAX_LINE_BYTES }, {
    kind: "line",
    line: "LIST",
  }]);
  // A line just under the limit is accepted whole.
  const fits = "MESSAGE bob " + "y".repeat(MAX_LINE_BYTES - 20);
  deepEqual(lines(e.feed(fits + "\r")), [fits]);
  // Generous: the quadratic editor took minutes for this.
  ok(performance.now() - started < 10_000);
});

Deno.test("LineEditor.render() draws one row: the prompt and the part of the line around the cursor", () => {
  const e = new LineEditor();
  e.feed("hello");
  equal(e.render("> ", 80), "\r> hello\x1b[K\r\x1b[7C");
  e.feed("\x01");
  equal(e.render("> ", 80), "\r> hello\x1b[K\r\x1b[2C");
  const long = new LineEditor();
  long.feed("a".repeat(50) + "b".repeat(50));
  const drawn = long.render("> ", 40);
  // 40 columns: the prompt, 37 characters, and room for the cursor.
  ok(drawn.startsWith(`\r> ${"b".repeat(37)}\x1b[K`), JSON.stringify(drawn));
  long.feed("\x01");
  ok(long.render("> ", 40).startsWith(`\r> ${"a".repeat(37)}\x1b[K\r\x1b[2C`));
  const cut = new LineEditor({ maxBytes: 2 });
  cut.feed("abc");
  ok(cut.render("> ", 80).includes("discarding"));
});

Deno.test("LineEditor.render() counts columns: wide characters take two, combining marks none", () => {
  const e = new LineEditor();
  e.feed("日本語");
  // The cursor goes after six columns of text, not three.
  equal(e.render("> ", 80), "\r> 日本語\x1b[K\r\x1b[8C");
  e.feed("\x1b[D");
  equal(e.render("> ", 80), "\r> 日本語\x1b[K\r\x1b[6C");
  // A long line of wide characters fits the row: 40 columns, the prompt, 18 characters of two.
  const wide = new LineEditor();
  wide.feed("中".repeat(60));
  const drawn = wide.render("> ", 40);
  equal(drawn, `\r> ${"中".repeat(18)}\x1b[K\r\x1b[38C`);
  wide.feed("\x01");
  equal(wide.render("> ", 40), `\r> ${"中".repeat(18)}\x1b[K\r\x1b[2C`);
  // Left, right and backspace step over a character with its combining marks.
  const marks = new LineEditor();
  marks.feed("ae\u0301\u0302");
  equal(marks.render("> ", 80), "\r> ae\u0301\u0302\x1b[K\r\x1b[4C");
  marks.feed("\x1b[D");
  equal(marks.cursor, 1);
  marks.feed("\x1b[C\x7f");
  equal(marks.line, "a");
});

Deno.test("utf8Length() matches TextEncoder", () => {
  for (const text of ["", "abc", "é", "€", "🎬", "a🎬b", "\ud800", "\udc00x", "日本語"]) {
    equal(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});
