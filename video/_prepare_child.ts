/**
 * A test helper run as its own process: prepares every title of a folder into a cache folder and
 * prints, one line each, the log lines and `prepared TITLE DIR`. Used to show that processes
 * sharing a cache never prepare one title twice at once nor disturb each other.
 *
 * ```sh
 * deno run -A video/_prepare_child.ts VIDEOS CACHE
 * ```
 * @module
 */

import { scanLibrary } from "./library_scan.ts";
import { prepareTitle } from "./segmenter.ts";

if (import.meta.main) {
  const [videos, cacheDir] = Deno.args;
  for (const title of await scanLibrary(videos)) {
    const prepared = await prepareTitle(title, {
      cacheDir,
      segmentSeconds: 1,
      onLog: (line) => console.log(`log ${line}`),
    });
    const dir = prepared.renditions[0].segments[0].path.replace(/\/r0\/[^/]+$/, "");
    console.log(`prepared ${title.name} ${dir}`);
  }
}
