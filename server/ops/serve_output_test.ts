import { deepEqual, equal } from "node:assert/strict";
import { ServeOutput } from "./serve_output.ts";
import { DEFAULT_LIMITS } from "../limits.ts";

function outputWith(format: "text" | "json") {
  const out: string[] = [];
  const err: string[] = [];
  const output = new ServeOutput({ out: (l) => out.push(l), err: (l) => err.push(l) }, {
    format,
    limits: DEFAULT_LIMITS,
    wallClock: () => Date.UTC(2026, 11, 7, 6, 0, 0, 5),
  });
  return { output, out, err };
}

Deno.test("ServeOutput in text writes notices as they are and errors with a time", () => {
  const { output, out, err } = outputWith("text");
  output.notice("Listening on 0.0.0.0:7878", "listening");
  output.problem("Cannot open the video library: no ffmpeg\n; install ffmpeg", "video-failed");
  deepEqual(out, ["Listening on 0.0.0.0:7878"]);
  deepEqual(err, [
    "2026-12-07 06:00:00.005 error: Cannot open the video library: no ffmpeg\\n; install ffmpeg",
  ]);
});

Deno.test("ServeOutput in json writes notices, errors and log lines as JSON objects", () => {
  const { output, out, err } = outputWith("json");
  output.notice("Listening on 0.0.0.0:7878", "listening");
  output.problem("Cannot join the cluster\n", "cluster-fatal");
  output.log.line("stopped", { event: "stopped" });
  deepEqual(out.map((l) => JSON.parse(l).event), ["listening", "stopped"]);
  deepEqual(JSON.parse(err[0]), {
    time: "2026-12-07T06:00:00.005Z",
    level: "error",
    event: "cluster-fatal",
    msg: "Cannot join the cluster\\n",
  });
});

Deno.test("ServeOutput.web() limits the web page's lines per kind, numbers aside", () => {
  const { output, out } = outputWith("text");
  for (let i = 0; i < 100; i++) {
    output.web(`web: refused WebSocket from 10.0.${i}.1:5000: Origin "x${i}" is not "http://a"`);
  }
  equal(out.length, DEFAULT_LIMITS.logLineBurst);
});

Deno.test("ServeOutput.cannotStart() says error: in text, an error object in json", () => {
  const text = outputWith("text");
  text.output.cannotStart("Cannot listen on port 7878: it is in use; pick another", "port-in-use");
  deepEqual(text.err, ["error: Cannot listen on port 7878: it is in use; pick another"]);
  const json = outputWith("json");
  json.output.cannotStart("Cannot listen\n", "port-in-use");
  deepEqual(JSON.parse(json.err[0]), {
    time: "2026-12-07T06:00:00.005Z",
    level: "error",
    event: "port-in-use",
    msg: "Cannot listen\\n",
  });
});
