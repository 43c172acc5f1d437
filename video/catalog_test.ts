import assert from "node:assert/strict";
import {
  groupRenditions,
  isSafeTitle,
  normalizePlayArgument,
  parseVideoFileName,
  resolutionLabel,
  suggestTitles,
} from "./catalog.ts";

Deno.test("`parseVideoFileName()` parses suffixed and plain names", () => {
  const table: [string, ReturnType<typeof parseVideoFileName>][] = [
    ["dog_240p.mp4", { title: "dog", height: 240, ext: "mp4" }],
    ["dog_1080p.mkv", { title: "dog", height: 1080, ext: "mkv" }],
    ["clip.mkv", { title: "clip", height: null, ext: "mkv" }],
    ["Clip.MOV", { title: "Clip", height: null, ext: "mov" }],
    ["a_b_720P.webm", { title: "a_b", height: 720, ext: "webm" }],
    ["my.movie.avi", { title: "my.movie", height: null, ext: "avi" }],
    ["x_720p.ts", { title: "x", height: 720, ext: "ts" }],
    ["x.m4v", { title: "x", height: null, ext: "m4v" }],
    ["dog_720.mp4", { title: "dog_720", height: null, ext: "mp4" }],
    ["dog_0720p.mp4", { title: "dog_0720p", height: null, ext: "mp4" }],
    ["dog_12345p.mp4", { title: "dog_12345p", height: null, ext: "mp4" }],
    ["dog_10p.mp4", { title: "dog", height: 10, ext: "mp4" }],
  ];
  for (const [name, want] of table) assert.deepEqual(parseVideoFileName(name), want, name);
});

Deno.test("`parseVideoFileName()` returns null for hidden files, other extensions and bad titles", () => {
  for (
    const name of [
      ".dog.mp4",
      ".hidden",
      "notes.txt",
      "dog.mp3",
      "dog",
      ".mp4",
      "_720p.mp4",
      "a..b.mp4",
      "tab\there.mp4",
      "",
    ]
  ) {
    assert.equal(parseVideoFileName(name), null, JSON.stringify(name));
  }
});

Deno.test("`isSafeTitle()` rejects separators, dot-dot, control characters and empties", () => {
  const table: [string, boolean][] = [
    ["dog", true],
    ["big buck bunny", true],
    ["café", true],
    ["a.b", true],
    ["", false],
    ["a/b", false],
    ["a\\b", false],
    ["..", false],
    ["a..b", false],
    [".dog", false],
    ["a\nb", false],
    ["a\u0000b", false],
    ["a\u007fb", false],
    [" dog", false],
    ["x".repeat(200), true],
    ["x".repeat(201), false],
  ];
  for (const [name, want] of table) assert.equal(isSafeTitle(name), want, JSON.stringify(name));
});

Deno.test("`groupRenditions()` groups by title in ascending height", () => {
  const r = groupRenditions([
    "dog_720p.mp4",
    "cat.mkv",
    "dog_240p.mp4",
    ".DS_Store",
    "dog_480p.mov",
  ]);
  assert.deepEqual(r.groups, [
    { title: "cat", files: [{ fileName: "cat.mkv", height: null }] },
    {
      title: "dog",
      files: [
        { fileName: "dog_240p.mp4", height: 240 },
        { fileName: "dog_480p.mov", height: 480 },
        { fileName: "dog_720p.mp4", height: 720 },
      ],
    },
  ]);
  assert.deepEqual(r.warnings, []);
});

Deno.test("`groupRenditions()` keeps suffixed files over a plain one and warns", () => {
  const r = groupRenditions(["dog.mp4", "dog_240p.mp4"]);
  assert.deepEqual(r.groups, [{
    title: "dog",
    files: [{ fileName: "dog_240p.mp4", height: 240 }],
  }]);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /^Skipping "dog\.mp4": title "dog" also has _NNNp renditions; /);
});

Deno.test("`groupRenditions()` warns about duplicates and non-video names", () => {
  const r = groupRenditions(["dog_240p.mp4", "dog_240p.mkv", "a.mp4", "a.mkv", "notes.txt"]);
  assert.deepEqual(r.groups.map((g) => g.files.map((f) => f.fileName)), [["a.mkv"], [
    "dog_240p.mkv",
  ]]);
  assert.equal(r.warnings.length, 3);
  assert.ok(r.warnings.some((w) => w.startsWith('Skipping "notes.txt": not a video file name; ')));
  assert.ok(r.warnings.some((w) => w.includes('"a.mp4"')));
  assert.ok(r.warnings.some((w) => w.includes('"dog_240p.mp4"')));
  assert.deepEqual(groupRenditions([]), { groups: [], warnings: [] });
});

Deno.test("`suggestTitles()` returns close matches best first, at most 3", () => {
  const titles = ["dog", "doghouse", "hotdog", "cat", "bars", "testcard", "dot"];
  assert.deepEqual(suggestTitles("dog", titles), ["dog", "doghouse", "hotdog"]);
  assert.deepEqual(suggestTitles("DOG", ["dog"]), ["dog"]);
  assert.deepEqual(suggestTitles("dgo", titles), ["dog", "dot"]);
  assert.deepEqual(suggestTitles("test", titles), ["testcard"]);
  assert.deepEqual(suggestTitles("car", titles), ["testcard", "cat", "bars"]);
  assert.deepEqual(suggestTitles("zebra", titles), []);
  assert.deepEqual(suggestTitles("", titles), []);
  assert.deepEqual(suggestTitles("x", []), []);
});

Deno.test("`normalizePlayArgument()` maps file names to a title and height", () => {
  const table: [string, ReturnType<typeof normalizePlayArgument>][] = [
    ["dog", { title: "dog", height: null }],
    ["dog.mp4", { title: "dog", height: null }],
    ["dog_720p.mp4", { title: "dog", height: 720 }],
    ["dog_720p", { title: "dog", height: 720 }],
    ["  dog_240p.MKV ", { title: "dog", height: 240 }],
    ["my.movie", { title: "my.movie", height: null }],
    ["../etc/passwd", null],
    ["a/b.mp4", null],
    ["", null],
  ];
  for (const [arg, want] of table) assert.deepEqual(normalizePlayArgument(arg), want, arg);
});

Deno.test("resolutionLabel() is the shorter side, whatever the orientation", () => {
  const table: readonly [number, number, number][] = [
    [1920, 1080, 1080],
    [1080, 1920, 1080],
    [1080, 1080, 1080],
    [426, 240, 240],
    [240, 426, 240],
    [2, 1, 1],
  ];
  for (const [w, h, label] of table) assert.equal(resolutionLabel(w, h), label, `${w}x${h}`);
});
