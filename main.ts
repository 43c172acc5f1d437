/**
 * peerstream: end-to-end encrypted chat and video streaming on your network.
 *
 * `main.ts` only dispatches subcommands; it is the one place that exits the process.
 * @module
 */

import { BUILD_COMMIT, versionLine } from "./cli/build_info.ts";
import { UsageError } from "./cli/output.ts";
import { join, JOIN_HELP } from "./client/cli.ts";
import { serve, SERVE_HELP } from "./server/ops/cli.ts";
import denoJson from "./deno.json" with { type: "json" };
import { escapeControls } from "./protocol/text.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

const HELP = `peerstream ${VERSION}: end-to-end encrypted chat and video streaming

Usage:
  peerstream serve [--host HOST] [--port PORT] [--videos DIR]   Run a server
                   [--web [HOST:]PORT]                          ... and the web page
  peerstream join --name NAME [--server HOST:PORT]              Join a server
  peerstream help [serve|join]                                  Show help
  peerstream --version                                          Show the version, the commit
                                                                and the Deno it runs on

Run "peerstream serve --help" or "peerstream join --help" for their options.`;

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((signal) => {
      const handler = () => {
        for (const [i, s] of signals.entries()) Deno.removeSignalListener(s, handlers[i]);
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
  });
}

/**
 * Runs the program.
 *
 * @param args Command-line arguments.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve":
        return await serve(rest, {
          out: (line) => console.log(line),
          err: (line) => console.error(line),
          stopSignal: stopSignal(),
        });
      case "join":
        return await join(rest);
      case "help":
      case "-h":
      case "--help":
        if (rest[0] === "serve") console.log(SERVE_HELP.trimEnd());
        else if (rest[0] === "join") console.log(JOIN_HELP.trimEnd());
        else console.log(HELP);
        return 0;
      case "--version":
      case "-V":
      case "version":
        console.log(versionLine(VERSION, { commit: BUILD_COMMIT, deno: Deno.version.deno }));
        return 0;
      case undefined:
        console.error(HELP);
        return 2;
      default:
        console.error(`error: Unknown command "${command}"; use serve, join or help\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n\n${command === "join" ? JOIN_HELP : SERVE_HELP}`);
      return 2;
    }
    // A server's refusal (its text) can end up here: shown escaped, like everything from the network.
    console.error(
      `error: ${escapeControls(error instanceof Error ? error.message : String(error))}`,
    );
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
