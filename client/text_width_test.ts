import { equal } from "node:assert/strict";
import { renderVideos } from "./render.ts";
import { codePointWidth, padColumns, textWidth } from "./text_width.ts";

Deno.test("codePointWidth() is 2 for wide and fullwidth characters, 0 for marks and joiners", () => {
  const cases: [string, number][] = [
    ["a", 1],
    ["é", 1],
    ["Ω", 1],
    ["中", 2],
    ["한", 2],
    ["ア", 2],
    ["Ａ", 2],
    ["😀", 2],
    ["\u0301", 0], // combining acute accent
    ["\u200d", 0], // zero width joiner
    ["\ufe0f", 0], // variation selector 16
    ["\u1160", 0], // Hangul jungseong filler (conjoining)
  ];
  for (const [ch, width] of cases) equal(codePointWidth(ch.codePointAt(0)!), width, ch);
});

Deno.test("textWidth() sums the columns of a string", () => {
  equal(textWidth(""), 0);
  equal(textWidth("hello"), 5);
  equal(textWidth("日本語"), 6);
  equal(textWidth("e\u0301t\u00e9"), 3);
  equal(textWidth("a😀b"), 4);
});

Deno.test("padColumns() pads to columns, and LIST lines up titles with wide characters", () => {
  equal(padColumns("ab", 4), "ab  ");
  equal(padColumns("日本", 4), "日本");
  equal(padColumns("toolong", 3), "toolong");
  const base = {
    heights: [240],
    duration: 60,
    hasAudio: true,
    state: "ready" as const,
    progress: 1,
  };
  const lines = renderVideos([{ ...base, title: "日本" }, { ...base, title: "abc" }]);
  // The heights start in the same column on both lines.
  equal(textWidth(lines[0].slice(0, lines[0].indexOf("240p"))), 6);
  equal(textWidth(lines[1].slice(0, lines[1].indexOf("240p"))), 6);
});
