/**
 * `PlayerProcess.kill()` against a player that ignores SIGTERM (as mpv under Xvfb does): STOP
 * escalates to SIGKILL after the grace period instead of waiting forever.
 * @module
 */

import { deepEqual, ok } from "node:assert/strict";
import { PLAYER_KILL_GRACE_MS, PlayerProcess } from "../client/player.ts";
import { deadline, pgrep, until } from "./_util.ts";

Deno.test("PlayerProcess.kill() ends a player that ignores SIGTERM", async () => {
  // mpv with its default video output under Xvfb ignores SIGTERM; STOP must not wait for it forever.
  const seconds = `60.${Math.floor(Math.random() * 1e6)}`;
  const player = new PlayerProcess(["sh", "-c", `trap '' TERM; exec sleep ${seconds}`]);
  try {
    // Once `sleep` runs, the trap is set (and inherited): only then is SIGTERM ignored.
    await until(async () => (await pgrep(`^sleep ${seconds}$`)).length === 1, {
      ms: 20_000,
      what: "the sleep under the SIGTERM trap",
    });
    await player.write(new Uint8Array(188));
    const started = performance.now();
    await deadline(player.kill(), PLAYER_KILL_GRACE_MS + 3_000, "the player to end");
    await player.exited;
    ok(performance.now() - started >= PLAYER_KILL_GRACE_MS - 50, "SIGTERM was not ignored");
    deepEqual(await pgrep(`^sleep ${seconds}$`), []);
  } finally {
    for (const pid of await pgrep(`^sleep ${seconds}$`)) Deno.kill(pid, "SIGKILL");
    await deadline(player.exited, 5_000, "the player to exit").catch(() => {});
  }
});
