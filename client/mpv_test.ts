/**
 * `MpvPlayers` against a scripted stand-in for mpv's JSON IPC: a small Deno program named `mpv`
 * that answers commands the way mpv 0.35 does and shows a loaded input's first frame
 * (`playback-restart`) only when told, so that the order of mpv's events is under the test's
 * control. What a real mpv shows on screen is tested in tests/screen_playback_test.ts.
 * @module
 */

import { equal } from "node:assert/strict";
import { MpvPlayers } from "./mpv.ts";
import { streamStartOf } from "./session/_testing.ts";
import { until } from "../tests/_util.ts";

/**
 * The stand-in: it listens on `--input-ipc-server`, answers every command with success, and on
 * `loadfile` sends what mpv sends before the first frame is drawn (`start-file`, then `time-pos`
 * known on the `seek`). The first frame shows (`playback-restart`) at the first `set_property
 * pause` after a `get_property`: a hook the test pulls by calling `pause()` after `hold()`.
 */
const FAKE_MPV = `
const ipc = Deno.args.find((a) => a.startsWith("--input-ipc-server=")).split("=")[1];
const listener = Deno.listen({ transport: "unix", path: ipc });
const conn = await listener.accept();
const out = (o) => conn.write(new TextEncoder().encode(JSON.stringify(o) + "\\n"));
let asked = false;
let text = "";
for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
  text += chunk;
  let cut;
  while ((cut = text.indexOf("\\n")) >= 0) {
    const { command, request_id } = JSON.parse(text.slice(0, cut));
    text = text.slice(cut + 1);
    if (command[0] === "loadfile") {
      await out({ data: { playlist_entry_id: 1 }, request_id, error: "success" });
      await out({ event: "start-file", playlist_entry_id: 1 });
      await out({ event: "property-change", id: 1, name: "time-pos" });
      await out({ event: "seek" });
      await out({ event: "property-change", id: 1, name: "time-pos", data: 1.52 });
    } else if (command[0] === "get_property") {
      asked = true;
      await out({ data: 1.52, request_id, error: "success" });
    } else {
      await out({ request_id, error: "success" });
      if (command[0] === "set_property" && command[1] === "pause" && asked) {
        asked = false;
        await out({ event: "playback-restart" });
      }
    }
  }
}
`;

Deno.test("MpvPlayers: position() is unknown until mpv shows the input's first frame", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-fake-mpv-" });
  await Deno.writeTextFile(`${dir}/mpv`, FAKE_MPV);
  const players = new MpvPlayers(`${Deno.execPath()} run --allow-all ${dir}/mpv`);
  try {
    const player = players.open(streamStartOf(1), { origin: 0, at: 0, paused: true });
    // An input with no video timestamp in it: loaded at its end, `time-pos` read as is.
    await player.end();
    // Loaded, and mpv's `time-pos` is known (the reply comes after the events before it)...
    equal(await player.hold!(), 1.52);
    // ...but the previous picture is still on screen: no position to tell yet.
    equal(player.position!(), undefined, "no position before the first frame is shown");
    player.pause();
    await until(() => player.position!() !== undefined, {
      ms: 10_000,
      what: "a position once the first frame is shown",
    });
    equal(player.position!(), 1.52);
  } finally {
    await players.close();
    await Deno.remove(dir, { recursive: true });
  }
});
