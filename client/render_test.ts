import { equal } from "node:assert/strict";
import { displayWidth } from "../protocol/text.ts";
import { renderVideos, renderViewerEvent, renderWhoLine } from "./render.ts";

Deno.test("renderVideos() and renderWhoLine() line up columns after wide characters", () => {
  const base = {
    heights: [240],
    duration: 60,
    hasAudio: true,
    state: "ready" as const,
    progress: 1,
  };
  const lines = renderVideos([{ ...base, title: "日本" }, { ...base, title: "abc" }]);
  // The heights start in the same column on both lines.
  equal(displayWidth(lines[0].slice(0, lines[0].indexOf("240p"))), 6);
  equal(displayWidth(lines[1].slice(0, lines[1].indexOf("240p"))), 6);
  const fingerprint = "ab".repeat(32);
  const who = [renderWhoLine("日本", fingerprint, "new"), renderWhoLine("bob", fingerprint, "new")];
  equal(
    displayWidth(who[0].slice(0, who[0].indexOf(" ab"))),
    displayWidth(who[1].slice(0, who[1].indexOf(" ab"))),
  );
});

Deno.test("renderViewerEvent() says why the player closed when it failed, escaped", () => {
  const closed = (why?: string) =>
    renderViewerEvent({ kind: "player-closed", title: "t", ...(why ? { why } : {}) }).out;
  equal(closed().join(), "* player closed; stopping");
  equal(
    closed("mpv did not open its IPC socket within 30000 ms").join(),
    "* player closed (mpv did not open its IPC socket within 30000 ms); stopping",
  );
  equal(
    closed("ffplay exited with code 1: \x1b[2Jgone").join(),
    "* player closed (ffplay exited with code 1: \\x1b[2Jgone); stopping",
  );
});
