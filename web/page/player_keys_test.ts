import { deepEqual } from "node:assert/strict";
import { type KeyAction, keyAction, type KeyContext, scrubberFill } from "./player_keys.ts";

const body: KeyContext = { tag: "body" };

Deno.test("keyAction() maps the usual player keys, and leaves keys to what has the focus", () => {
  const cases: [string, string, KeyContext, KeyAction | null][] = [
    ["space on the page", " ", body, { kind: "toggle-pause" }],
    ["k", "k", body, { kind: "toggle-pause" }],
    ["K (caps lock)", "K", body, { kind: "toggle-pause" }],
    ["f", "f", body, { kind: "fullscreen" }],
    ["m", "m", body, { kind: "mute" }],
    ["j", "j", body, { kind: "seek-by", seconds: -10 }],
    ["l", "l", body, { kind: "seek-by", seconds: 10 }],
    ["←", "ArrowLeft", body, { kind: "seek-by", seconds: -5 }],
    ["→", "ArrowRight", body, { kind: "seek-by", seconds: 5 }],
    ["↑", "ArrowUp", body, { kind: "volume-by", amount: 0.1 }],
    ["↓", "ArrowDown", body, { kind: "volume-by", amount: -0.1 }],
    ["Home", "Home", body, { kind: "seek-to", fraction: 0 }],
    ["another letter", "x", body, null],
    ["Enter", "Enter", body, null],
    ["space on a button clicks it", " ", { tag: "button" }, null],
    ["f on a button is the player's", "f", { tag: "button" }, { kind: "fullscreen" }],
    ["typing in the message field", "f", { tag: "input", type: "text", id: "text" }, null],
    ["space in the message field", " ", { tag: "input", type: "text", id: "text" }, null],
    ["arrows in the volume slider", "ArrowUp", { tag: "input", type: "range", id: "volume" }, null],
    ["→ on the position slider", "ArrowRight", { tag: "input", type: "range", id: "seek" }, {
      kind: "seek-by",
      seconds: 5,
    }],
    ["m on the position slider", "m", { tag: "input", type: "range", id: "seek" }, {
      kind: "mute",
    }],
    ["↑ on the position slider is its own", "ArrowUp", {
      tag: "input",
      type: "range",
      id: "seek",
    }, null],
    ["End on the position slider", "End", { tag: "input", type: "range", id: "seek" }, {
      kind: "seek-to",
      fraction: 1,
    }],
    ["End elsewhere scrolls the page", "End", body, null],
    ["in a list", "ArrowDown", { tag: "select" }, null],
    ["contenteditable", "k", { tag: "div", editable: true }, null],
    ["Ctrl+F is the browser's find", "f", { tag: "body", modified: true }, null],
    ["a dialog is open", " ", { tag: "body", dialogOpen: true }, null],
  ];
  for (const [name, key, where, expected] of cases) {
    deepEqual(keyAction(key, where), expected, name);
  }
});

Deno.test("scrubberFill() paints the played share and the buffered range around the playhead", () => {
  const r = (start: number, end: number) => ({ start, end });
  const cases: [string, number, number, { start: number; end: number }[], number[]][] = [
    ["nothing yet", 0, 100, [], [0, 0, 0]],
    ["unknown duration", 5, 0, [r(0, 10)], [0, 0, 0]],
    ["inside a range", 25, 100, [r(20, 40)], [0.25, 0.2, 0.4]],
    ["the range that holds it, not an earlier one", 60, 100, [r(0, 10), r(50, 80)], [
      0.6,
      0.5,
      0.8,
    ]],
    ["waiting before the next range: from the playhead", 45, 100, [r(0, 10), r(50, 80)], [
      0.45,
      0.45,
      0.8,
    ]],
    ["past every range", 90, 100, [r(0, 10)], [0.9, 0, 0]],
    ["clamped at the end", 120, 100, [r(90, 130)], [1, 0.9, 1]],
  ];
  for (const [name, time, duration, ranges, [played, start, end]] of cases) {
    deepEqual(
      scrubberFill(time, duration, ranges),
      { played, bufferedStart: start, bufferedEnd: end },
      name,
    );
  }
});
