/**
 * Worker thread that runs a share of a viewer fleet on its own event loop, so that the load
 * client is not limited by the bench's main thread. Driven by {@linkcode ViewerFleet}.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import type { Quality } from "../protocol/messages.ts";
import { benchIdentity, connectMany, type LoadClient } from "./_client.ts";
import { markOf, staggered, Viewer, type ViewerResult } from "./_viewer.ts";

/** Commands from the main thread. */
export type FleetCommand =
  | { type: "connect"; port: number; names: string[]; batch: number }
  | { type: "play"; title: string; quality: Quality; spreadMs: number }
  | { type: "mark" }
  | { type: "finish" };

/** Replies to the main thread. */
export type FleetReply =
  | { type: "connected" }
  | { type: "mark"; mediaBytes: number; firstBytes: number }
  | { type: "finished"; results: ViewerResult[]; bytesAfterEnd: number }
  | { type: "failed"; message: string };

const scope = self as unknown as {
  postMessage(message: FleetReply): void;
  onmessage: ((event: MessageEvent<FleetCommand>) => void) | null;
};

let clients: LoadClient[] = [];
let viewers: Viewer[] = [];

async function handle(command: FleetCommand): Promise<FleetReply> {
  switch (command.type) {
    case "connect": {
      const who = await benchIdentity(await generateIdentity());
      ({ clients } = await connectMany(command.port, {
        names: command.names,
        who,
        batch: command.batch,
      }));
      // Peers joined announcements are not what a viewer measures: drop them from here on.
      viewers = clients.map((c) => new Viewer(c));
      return { type: "connected" };
    }
    case "play":
      staggered(viewers, command.spreadMs, (v) => v.play(command.title, command.quality));
      return { type: "mark", mediaBytes: 0, firstBytes: 0 };
    case "mark":
      return markOf(viewers);
    case "finish": {
      const now = performance.now();
      const results = viewers.map((v) => v.result(now));
      await Promise.all(viewers.map(async (v) => {
        if (!v.ended && !v.client.closed) {
          // The title may end as STOP goes out: the server then answers NOT_PLAYING, which is
          // no failure (bytes after a stream-end are still counted below).
          const stopped = v.stop().catch((error) => {
            if (!String(error).includes("NOT_PLAYING")) throw error;
          });
          await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
        }
      }));
      // Bytes that trail a stream-end would show up here; give them a moment to arrive.
      await new Promise((r) => setTimeout(r, 100));
      const bytesAfterEnd = viewers.reduce((n, v) => n + v.bytesAfterEnd, 0);
      for (const c of clients) {
        c.send({ type: "quit" });
      }
      await new Promise((r) => setTimeout(r, 50));
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.done));
      return { type: "finished", results, bytesAfterEnd };
    }
  }
}

scope.onmessage = (event) => {
  handle(event.data).then(
    (reply) => scope.postMessage(reply),
    (error) => scope.postMessage({ type: "failed", message: String(error?.stack ?? error) }),
  );
};
