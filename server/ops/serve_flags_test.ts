import { deepEqual, equal, throws } from "node:assert/strict";
import { UsageError } from "../../cli/output.ts";
import { intFlag, limitsFrom, parseServeFlags, webAddress, webUrl } from "./serve_flags.ts";

Deno.test("parseServeFlags() gives the defaults with no flag", () => {
  const flags = parseServeFlags([]);
  equal(flags.port, 7878);
  equal(flags.codec, "h264");
  equal(flags.logFormat, "text");
  equal(flags.renameTo, undefined);
});

Deno.test("parseServeFlags() reads the port, codec, log format and the NEW of --rename", () => {
  const flags = parseServeFlags([
    "--port",
    "0",
    "--codec",
    "mjpeg",
    "--log-format",
    "json",
    "--rename",
    "old",
    "new",
  ]);
  deepEqual([flags.port, flags.codec, flags.logFormat, flags.renameTo], [
    0,
    "mjpeg",
    "json",
    "new",
  ]);
  equal(flags.values.rename, "old");
});

Deno.test("parseServeFlags() with --help skips the other checks", () => {
  equal(parseServeFlags(["--help", "--codec", "vp9", "stray"]).values.help, true);
});

Deno.test("parseServeFlags() refuses each misuse with a UsageError that says what to do", () => {
  const cases: [string[], RegExp][] = [
    [["--port", "65536"], /Invalid --port "65536": expected a whole number from 0 to 65535/],
    [["--port=-1"], /Invalid --port "-1"/],
    [["--port", "80x"], /Invalid --port "80x"/],
    [["--codec", "vp9"], /Invalid --codec "vp9": use h264 or mjpeg/],
    [["--tls-cert", "c.pem"], /--tls-cert and --tls-key go together/],
    [["--tls-key", "k.pem"], /--tls-cert and --tls-key go together/],
    [
      ["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"],
      /alternatives; pick one/,
    ],
    [["--log-format", "xml"], /Invalid --log-format "xml": use text or json/],
    [["stray"], /Unexpected argument "stray": serve takes options only/],
    [["--rename", "old"], /--rename takes two names: --rename OLD NEW/],
    [["--rename", "old", "a", "b"], /--rename takes two names/],
    [["--no-such-flag"], /no-such-flag/],
  ];
  for (const [args, message] of cases) {
    throws(() => parseServeFlags(args), (error: unknown) => {
      equal(error instanceof UsageError, true, args.join(" "));
      return message.test((error as Error).message);
    }, args.join(" "));
  }
});

Deno.test("intFlag() takes 0 and the max, refuses max + 1, and falls back when absent", () => {
  equal(intFlag("n", undefined, 7), 7);
  equal(intFlag("n", "0", 7, 10), 0);
  equal(intFlag("n", "10", 7, 10), 10);
  throws(() => intFlag("n", "11", 7, 10), /Invalid --n "11": expected a whole number from 0 to 10/);
  throws(() => intFlag("n", "1.5", 7, 10), UsageError);
  throws(() => intFlag("n", "", 7, 10), UsageError);
});

Deno.test("webAddress() reads [HOST:]PORT, IPv6 in brackets, and refuses anything else", () => {
  const cases: [string, { hostname: string; port: number }][] = [
    ["8080", { hostname: "0.0.0.0", port: 8080 }],
    ["127.0.0.1:0", { hostname: "127.0.0.1", port: 0 }],
    ["[::1]:65535", { hostname: "::1", port: 65535 }],
    ["localhost:80", { hostname: "localhost", port: 80 }],
  ];
  for (const [text, expected] of cases) deepEqual(webAddress(text, "0.0.0.0"), expected, text);
  throws(() => webAddress("65536", "h"), /Invalid --web "65536"/);
  throws(() => webAddress("host:", "h"), /Invalid --web "host:": expected \[HOST:\]PORT/);
  throws(() => webAddress("a b:1", "h", "metrics"), /Invalid --metrics "a b:1"/);
});

Deno.test("webUrl() shows a wildcard address as localhost and brackets IPv6", () => {
  const addr = (hostname: string): Deno.NetAddr => ({ transport: "tcp", hostname, port: 8080 });
  equal(webUrl(addr("0.0.0.0"), false), "http://localhost:8080/");
  equal(webUrl(addr("::"), true), "https://localhost:8080/");
  equal(webUrl(addr("::1"), false), "http://[::1]:8080/");
  equal(webUrl(addr("10.0.0.1"), true), "https://10.0.0.1:8080/");
});

Deno.test("limitsFrom() takes the environment's overrides, then the flags over them", () => {
  deepEqual(limitsFrom({}, undefined), {});
  const limits = limitsFrom(
    { "max-connections": "5", "max-per-address": "0" },
    JSON.stringify({ maxConnections: 9, idleMs: 1000 }),
  );
  equal(limits.maxConnections, 5);
  equal(limits.maxConnectionsPerAddress, 0);
  equal(limits.idleMs, 1000);
  throws(() => limitsFrom({ "max-connections": "x" }, undefined), /Invalid --max-connections "x"/);
});

Deno.test("limitsFrom() takes the room flags up to what the room messages can list", () => {
  deepEqual(limitsFrom({ "room-members": "1000", "rooms-per-person": "500" }, undefined), {
    roomMembers: 1000,
    roomsPerPerson: 500,
  });
  throws(() => limitsFrom({ "room-members": "1001" }, undefined), /from 0 to 1000/);
  throws(() => limitsFrom({ "rooms-per-person": "501" }, undefined), /from 0 to 500/);
});
