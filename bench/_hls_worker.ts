/**
 * Worker thread that runs a share of an HLS viewer fleet, answering the same commands as
 * `_fleet_worker.ts` so that {@linkcode ViewerFleet} drives both: `connect` opens one keep-alive
 * HTTP connection per name (the names only count viewers), `play` takes the playlist path as its
 * title.
 * @module
 */

import type { FleetCommand, FleetReply } from "./_fleet_worker.ts";
import { HlsViewer } from "./_hls_viewer.ts";
import { HttpConnection } from "./_http.ts";
import { markOf, staggered } from "./_viewer.ts";

const scope = self as unknown as {
  postMessage(message: FleetReply): void;
  onmessage: ((event: MessageEvent<FleetCommand>) => void) | null;
};

let viewers: HlsViewer[] = [];
let playing: Promise<unknown>[] = [];

async function handle(command: FleetCommand): Promise<FleetReply> {
  switch (command.type) {
    case "connect": {
      // In batches, under the listen backlog (511), as the peerstream viewers connect.
      for (let at = 0; at < command.names.length; at += command.batch) {
        const batch = command.names.slice(at, at + command.batch);
        const conns = await Promise.all(batch.map(() => HttpConnection.connect(command.port)));
        viewers.push(...conns.map((c) => new HlsViewer(c)));
      }
      return { type: "connected" };
    }
    case "play":
      playing = staggered(viewers, command.spreadMs, (v) => v.play(command.title));
      return { type: "mark", mediaBytes: 0, firstBytes: 0 };
    case "mark":
      return markOf(viewers);
    case "finish": {
      const now = performance.now();
      const results = viewers.map((v) => v.result(now));
      for (const v of viewers) v.stop();
      await Promise.all(playing);
      await Promise.all(viewers.map((v) => v.conn.done));
      viewers = [];
      return { type: "finished", results, bytesAfterEnd: 0 };
    }
  }
}

scope.onmessage = (event) => {
  handle(event.data).then(
    (reply) => scope.postMessage(reply),
    (error) => scope.postMessage({ type: "failed", message: String(error?.stack ?? error) }),
  );
};
