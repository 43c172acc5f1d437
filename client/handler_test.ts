import { deepEqual, equal, ok } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Quality, StreamStartMessage, VideoSummary } from "../protocol/messages.ts";
import type { SeekTarget } from "./commands.ts";
import {
  CommandHandler,
  type HandlerSession,
  type HandlerViewer,
  type HandlerWatching,
} from "./handler.ts";
import type { KeyTrust } from "./known_peers.ts";
import type { PlaybackState } from "./playback.ts";
import type { SendOutcome } from "./session.ts";

const ME_FP = "00112233445566778899aabbccddeeff";
const BOB_FP = "ffeeddccbbaa99887766554433221100";

class FakeSession implements HandlerSession {
  name = "alice";
  online = new Set(["bob"]);
  known = new Set(["bob", "carol"]);
  changed = new Set<string>();
  sent: [string, string][] = [];
  sendResult: Promise<SendOutcome> = Promise.resolve({ queued: false });
  keyLookups: string[] = [];
  peers = {
    names: () => [...this.online].sort(),
    has: (name: string) => this.online.has(name),
  };
  list(): Promise<VideoSummary[]> {
    return Promise.resolve([
      {
        title: "testcard",
        heights: [240, 720],
        duration: 12,
        hasAudio: true,
        state: "ready",
        progress: 1,
      },
    ]);
  }
  peerKeys(name: string): Promise<{ fingerprint: string; trust: KeyTrust }> {
    this.keyLookups.push(name);
    if (!this.online.has(name) && !this.known.has(name)) {
      return Promise.reject(new PeerstreamError("UNKNOWN_PEER", `Unknown peer "${name}"`));
    }
    return Promise.resolve({
      fingerprint: BOB_FP,
      trust: this.changed.has(name) ? "changed" : "known",
    });
  }
  knows(name: string): boolean {
    return this.known.has(name);
  }
  acceptKey(name: string): boolean {
    return this.changed.delete(name);
  }
  verifyKey(): boolean {
    return true;
  }
  sendText(to: string, text: string): Promise<SendOutcome> {
    this.sent.push([to, text]);
    return this.sendResult;
  }
  fingerprint(): Promise<string> {
    return Promise.resolve(ME_FP);
  }
}

class FakeViewer implements HandlerViewer {
  state: PlaybackState = "idle";
  playing: StreamStartMessage | undefined;
  calls: string[] = [];
  paused = false;
  play(title: string, quality: Quality): Promise<void> {
    this.calls.push(`play ${title} ${quality}`);
    this.state = "playing";
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.calls.push("stop");
    if (this.state === "idle") {
      return Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot stop: nothing is playing"));
    }
    this.state = "idle";
    return Promise.resolve();
  }
  pause(): boolean {
    this.calls.push("pause");
    const was = this.paused;
    this.paused = true;
    return !was;
  }
  resume(): boolean {
    this.calls.push("resume");
    const was = this.paused;
    this.paused = false;
    return was;
  }
  seek(target: SeekTarget): Promise<number> {
    this.calls.push(`seek ${JSON.stringify(target)}`);
    return Promise.resolve(0);
  }
  setQuality(quality: Quality): Promise<"now" | "next"> {
    this.calls.push(`quality ${quality}`);
    return Promise.resolve(quality === "auto" ? "next" : "now");
  }
}

function setup(answers: (string | null)[] = []) {
  const session = new FakeSession();
  const viewer = new FakeViewer();
  const out: string[] = [];
  const err: string[] = [];
  const prompts: string[] = [];
  let checks = 0;
  const handler = new CommandHandler({
    io: {
      print: (line) => out.push(line),
      error: (line) => err.push(line),
      read: (prompt) => {
        prompts.push(prompt);
        return Promise.resolve(answers.shift() ?? null);
      },
    },
    session,
    viewer,
    checkPlayer: () => {
      checks++;
      if (session.name === "nodisplay") {
        throw new PeerstreamError("INTERNAL", 'Cannot play with "ffplay": there is no display');
      }
    },
  });
  return { session, viewer, out, err, prompts, handler, checks: () => checks };
}

async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("CommandHandler.run() returns false only for QUIT", async () => {
  const { handler } = setup();
  equal(await handler.run(""), true);
  equal(await handler.run("HELP"), true);
  equal(await handler.run("frob"), true);
  equal(await handler.run("quit"), false);
  equal(await handler.run("EXIT"), false);
});

Deno.test("CommandHandler prints a refused command as one error and carries on", async () => {
  const { handler, err, viewer } = setup();
  await handler.run("FROB the knob");
  deepEqual(err, ['error: Unknown command "FROB"; type HELP for the list']);
  await handler.run("STOP");
  deepEqual(err.slice(1), ["error: Cannot stop: nothing is playing"]);
  deepEqual(viewer.calls, ["stop"]);
});

Deno.test("CommandHandler MESSAGE sends, and prints delivered when the peer confirms", async () => {
  const { handler, session, out } = setup();
  await handler.run("MESSAGE bob hello there");
  deepEqual(session.sent, [["bob", "hello there"]]);
  await settle();
  deepEqual(out, ["* delivered to bob"]);
});

Deno.test("CommandHandler MESSAGE never sends an empty message", async () => {
  const { handler, session, err } = setup(["   ", "\t"]);
  await handler.run("MESSAGE bob");
  await handler.run("MESSAGE bob \t ");
  deepEqual(session.sent, []);
  deepEqual(err, [
    'error: Cannot send to "bob": the message is empty; type some text',
    'error: Cannot send to "bob": the message is empty; type some text',
  ]);
});

Deno.test("CommandHandler MESSAGE asks for the recipient, checks the server knows them, then asks for text", async () => {
  const offline = setup(["zed", "never asked for"]);
  await offline.handler.run("MESSAGE");
  deepEqual(offline.out, ["Online: bob"]);
  deepEqual(offline.prompts, ["To: "], "no Message: prompt for an unknown peer");
  deepEqual(offline.err, ['error: Unknown peer "zed"']);
  deepEqual(offline.session.sent, []);

  // Known to the server but offline: the message may wait for them (a queue).
  const away = setup(["carol", "for later"]);
  away.session.known.add("carol");
  away.session.sendResult = Promise.resolve({ queued: true, qseq: 1 });
  await away.handler.run("MESSAGE");
  deepEqual(away.prompts, ["To: ", "Message: "]);
  deepEqual(away.out, [
    "Online: bob",
    "* carol is offline; the server keeps the message if it can",
    "* queued for carol (offline)",
  ]);
  deepEqual(away.session.sent, [["carol", "for later"]]);

  const direct = setup(["unused"]);
  await direct.handler.run("MESSAGE zed");
  deepEqual(direct.prompts, []);
  equal(direct.err.length, 1);

  const online = setup(["bob", "hi from the prompt"]);
  await online.handler.run("MESSAGE");
  deepEqual(online.prompts, ["To: ", "Message: "]);
  deepEqual(online.session.sent, [["bob", "hi from the prompt"]]);

  const nobody = setup();
  nobody.session.online.clear();
  await nobody.handler.run("MESSAGE");
  deepEqual(nobody.out, ["Nobody else is online"]);
  deepEqual(nobody.prompts, []);
});

Deno.test("CommandHandler MESSAGE reports a failed delivery on stderr", async () => {
  const { handler, session, err } = setup();
  session.sendResult = Promise.reject(
    new PeerstreamError("PEER_OFFLINE", 'Cannot send to "bob": they are offline'),
  );
  await handler.run("MSG bob hi");
  await settle();
  deepEqual(err, ['error: Cannot send to "bob": they are offline']);
});

Deno.test("CommandHandler WHO shows your own fingerprint first, then the peers", async () => {
  const { handler, out } = setup();
  await handler.run("WHO");
  equal(out.length, 2);
  ok(/^alice\s+0011 2233 4455 6677 {2}you$/.test(out[0]), out[0]);
  ok(/^bob\s+ffee ddcc bbaa 9988 {2}known$/.test(out[1]), out[1]);
  const alone = setup();
  alone.session.online.clear();
  await alone.handler.run("who");
  deepEqual(alone.out.slice(1), ["Nobody else is online"]);
});

Deno.test("CommandHandler VERIFY with your own name shows your full fingerprint", async () => {
  const { handler, out, session } = setup();
  await handler.run("VERIFY alice");
  equal(out[0], "alice (you): 0011 2233 4455 6677 8899 aabb ccdd eeff");
  ok(out[1].includes("VERIFY alice yes"));
  deepEqual(session.keyLookups, [], "no key lookup for yourself");
});

Deno.test("CommandHandler ACCEPT tells an unknown peer, an unchanged key and an accepted key apart", async () => {
  const { handler, out, err, session } = setup();
  await handler.run("ACCEPT zed");
  deepEqual(err, ['error: Cannot accept "zed": no such peer is known; WHO lists the peers online']);
  await handler.run("ACCEPT carol");
  deepEqual(out, ["carol's key has not changed; nothing to accept"]);
  session.changed.add("bob");
  await handler.run("ACCEPT bob");
  deepEqual(out.slice(1), ["* accepted bob's new key"]);
});

Deno.test("CommandHandler PLAY checks the player first; playback commands go to the viewer", async () => {
  const { handler, viewer, out, checks } = setup();
  await handler.run("PLAY testcard 720p");
  equal(checks(), 1);
  await handler.run("PAUSE");
  await handler.run("pause");
  await handler.run("RESUME");
  await handler.run("RESUME");
  await handler.run("SEEK 1:30");
  await handler.run("SEEK -10");
  await handler.run("QUALITY 240p");
  await handler.run("QUALITY auto");
  deepEqual(viewer.calls, [
    "play testcard 720",
    "pause",
    "pause",
    "resume",
    "resume",
    'seek {"absolute":90}',
    'seek {"relative":-10}',
    "quality 240",
    "quality auto",
  ]);
  deepEqual(out, [
    "* paused; RESUME to continue",
    "Already paused; RESUME to continue",
    "* resumed",
    "Not paused; PAUSE first",
    "* switching to 240p",
    "* quality auto from the next segment",
  ]);
  const blind = setup();
  blind.session.name = "nodisplay";
  await blind.handler.run("PLAY testcard");
  deepEqual(blind.viewer.calls, [], "no stream starts without a display");
  ok(blind.err[0].startsWith('error: Cannot play with "ffplay": there is no display'));
});

Deno.test("CommandHandler.interrupt() stops the video if one plays, else says how to leave", async () => {
  const { handler, viewer, out } = setup();
  await handler.interrupt();
  deepEqual(out, ["Type QUIT or press Ctrl-D to leave"]);
  deepEqual(viewer.calls, []);
  await handler.run("PLAY testcard");
  await handler.interrupt();
  deepEqual(viewer.calls, ["play testcard auto", "stop"]);
});

Deno.test("CommandHandler.completion() offers the titles of the last LIST with their heights", async () => {
  const { handler, viewer, out } = setup();
  deepEqual(handler.completion().titles, []);
  await handler.run("LIST");
  ok(/^testcard\s+240p 720p\s+0:12\s+audio$/.test(out[0]), out[0]);
  deepEqual(handler.completion(), {
    peers: ["bob"],
    titles: [{ title: "testcard", heights: [240, 720] }],
    playing: [],
    rooms: [],
  });
  viewer.playing = {
    renditions: [{ height: 240, width: 426, bitrate: 1 }, { height: 720, width: 1280, bitrate: 2 }],
  } as StreamStartMessage;
  deepEqual(handler.completion().playing, [240, 720]);
});

Deno.test("CommandHandler escapes names and titles from the network", async () => {
  const { handler, session, out } = setup();
  session.online = new Set(["evil\x1b[2J"]);
  await handler.run("MESSAGE");
  // Such a name breaks the name rules: it also carries the mark.
  deepEqual(out, ["Online: evil\\x1b[2J ⚠"]);
});

Deno.test("CommandHandler PLAY of a title being prepared says it will tell, and tells once it is ready", async () => {
  const { viewer, out, err, handler } = setup();
  viewer.play = (title) =>
    Promise.reject(
      new PeerstreamError(
        "VIDEO_NOT_READY",
        `Cannot play "${title}" yet: it is being prepared (40%); try again shortly`,
      ),
    );
  await handler.run("PLAY 'my film'");
  await handler.run("PLAY dog_720p.mp4");
  deepEqual(err, [
    'error: Cannot play "my film" yet: it is being prepared (40%); try again shortly; you will be told when it is ready',
    'error: Cannot play "dog_720p.mp4" yet: it is being prepared (40%); try again shortly; you will be told when it is ready',
  ]);
  const summary = (title: string, state: "ready" | "preparing" | "failed") => ({
    title,
    heights: [240, 480],
    duration: 10,
    hasAudio: true,
    state,
    progress: state === "preparing" ? 0.5 : 1,
  });
  // One still preparing: nothing said for it yet.
  handler.videosPushed([summary("dog", "preparing"), summary("my film", "ready")]);
  deepEqual(out, ['* "my film" is ready; PLAY "my film"']);
  handler.videosPushed([summary("dog", "ready"), summary("my film", "ready")]);
  deepEqual(out, ['* "my film" is ready; PLAY "my film"', '* "dog" is ready; PLAY dog']);
  // Told once; and Tab now offers the titles pushed.
  handler.videosPushed([summary("dog", "ready"), summary("my film", "ready")]);
  equal(out.length, 2);
  deepEqual(handler.completion().titles.map((t) => t.title), ["dog", "my film"]);
});

Deno.test("CommandHandler: WATCH goes to watching; while a room is watched PAUSE, RESUME, SEEK and STOP go to it, QUALITY stays the viewer's", async () => {
  const calls: string[] = [];
  let room: string | undefined;
  const watching: HandlerWatching = {
    get room() {
      return room;
    },
    watch: (r, options) => {
      calls.push(`watch ${r} ${JSON.stringify(options)}`);
      room = r;
      return Promise.resolve();
    },
    control: (action) => (calls.push(action), Promise.resolve(room !== undefined)),
    seek: (target) => (calls.push(`seek ${JSON.stringify(target)}`), Promise.resolve(true)),
    stopWatching: () => {
      calls.push("stop watching");
      const was = room !== undefined;
      room = undefined;
      return Promise.resolve(was);
    },
    roomStop: (r) => (calls.push(`room stop ${r}`), Promise.resolve()),
    noteQuality: (q) => void calls.push(`quality ${q}`),
  };
  const viewer = new FakeViewer();
  const handler = new CommandHandler({
    io: { print: () => {}, error: () => {}, read: () => Promise.resolve(null) },
    session: new FakeSession(),
    viewer,
    watching,
  });
  for (const line of ["WATCH #club film 240p", "PAUSE", "RESUME", "SEEK -10", "QUALITY 480p"]) {
    await handler.run(line);
  }
  await handler.run("STOP");
  await handler.run("ROOM STOP #club");
  deepEqual(calls, [
    'watch club {"title":"film","quality":240}',
    "pause",
    "resume",
    'seek {"relative":-10}',
    "quality 480",
    "stop watching",
    "room stop club",
  ]);
  deepEqual(viewer.calls, ["quality 480"], "only QUALITY reached the viewer");
  // Not watching: PAUSE is the viewer's own again.
  viewer.state = "playing";
  await handler.run("PAUSE");
  equal(viewer.calls.at(-1), "pause");
});

Deno.test("CommandHandler WATCH without rooms says so", async () => {
  const { err, handler } = setup();
  await handler.run("WATCH #club");
  ok(err[0].includes("Cannot watch together: this client has no rooms"), err[0]);
});
