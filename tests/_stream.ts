/**
 * Support of `tests/stream_test.ts`: bounded plays and waits, marked player processes, the
 * prepared segments read from the server's cache as the reference, a play to the end checked
 * complete (bytes, frames, audio) and the adaptive-switching title's own server.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { MediaSink } from "../client/session.ts";
import type { SegmentMessage, StreamStartMessage } from "../protocol/messages.ts";
import {
  type CliClient,
  type ClientEvent,
  type ServerProcess,
  startCli,
  startServer,
  TEST_CACHE,
  type TestClient,
} from "./_helpers.ts";
import { DecodingSink, probeFiles, type ProbeResult } from "./_stream_probe.ts";
import { deadline } from "./_util.ts";

// ---------------------------------------------------------------------------------------------
// Small bounded-wait helpers

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Plays, failing after 5 s when the server's `stream-start` does not answer (a PLAY that hangs
 * must fail the test, not stall it).
 */
export function playWithin(
  client: TestClient,
  title: string,
  options: { quality: number | "auto"; sink: (info: StreamStartMessage) => MediaSink },
): Promise<StreamStartMessage> {
  return deadline(client.session.play(title, options), 5_000, `PLAY ${title} to be answered`);
}

/** SIGKILLs a child unless it has exited. */
export function killChild(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
}

/** Waits for a segment event after the first `from` events that satisfies `predicate`. */
export async function segmentAfter(
  client: TestClient,
  from: number,
  predicate: (segment: SegmentMessage) => boolean,
  timeoutMs: number,
): Promise<{ segment: SegmentMessage; at: number }> {
  const event = await client.waitFor(
    (e) => e.kind === "segment" && client.events.indexOf(e) >= from && predicate(e.segment),
    timeoutMs,
  );
  return {
    segment: (event as Extract<ClientEvent, { kind: "segment" }>).segment,
    at: performance.now(),
  };
}

/** A unique word to put in a player's command line, to find the process later. */
export function newMarker(): string {
  return `psmark${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * A `--player` value: a real ffmpeg decoder whose command line carries `marker` (as output
 * metadata, which `-f null` ignores).
 */
export function playerSpec(marker: string): string {
  return `ffmpeg -v error -i pipe:0 -metadata comment=${marker} -f null -`;
}

/** Matches the player's own command line, not the CLI's (which also carries the marker). */
export function playerPattern(marker: string): string {
  return `^(\\S*/)?ffmpeg .*${marker}`;
}

// ---------------------------------------------------------------------------------------------
// The prepared segments, read from the server's cache (the reference for bytes and frames)

/** A prepared title's `manifest.json`, with each segment's absolute path. */
export interface Manifest {
  name: string;
  duration: number;
  fps: number;
  hasAudio: boolean;
  renditions: {
    height: number;
    width: number;
    bitrate: number;
    segments: { index: number; start: number; duration: number; bytes: number; path: string }[];
  }[];
}

/** Finds the prepared folder the server streams `info` from (name and bitrates match). */
export async function manifestFor(
  info: StreamStartMessage,
  cacheDir = TEST_CACHE,
): Promise<Manifest> {
  const root = `${cacheDir}/prepared`;
  for await (const entry of Deno.readDir(root)) {
    if (!entry.isDirectory || entry.name.startsWith(".")) continue;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await Deno.readTextFile(`${root}/${entry.name}/manifest.json`));
    } catch {
      continue;
    }
    if (manifest.name !== info.title) continue;
    const same = manifest.renditions.length === info.renditions.length &&
      manifest.renditions.every((r, i) =>
        r.height === info.renditions[i].height && r.bitrate === info.renditions[i].bitrate
      );
    if (!same) continue;
    for (const r of manifest.renditions) {
      for (const s of r.segments) s.path = `${root}/${entry.name}/${(s as { file?: string }).file}`;
    }
    return manifest;
  }
  throw new Error(`No prepared folder for "${info.title}" in ${root}`);
}

/** The prepared segment the server sent for a segment event. */
export function preparedSegment(
  manifest: Manifest,
  segment: SegmentMessage,
): Manifest["renditions"][number]["segments"][number] {
  const rendition = manifest.renditions.find((r) => r.height === segment.height);
  ok(rendition, `no ${segment.height}p rendition of "${manifest.name}"`);
  return rendition.segments[segment.index];
}

/** The segment events `client` got for stream `streamId`, in order. */
export function streamSegments(client: TestClient, streamId: number): SegmentMessage[] {
  return client.events.flatMap((e) =>
    e.kind === "segment" && e.segment.streamId === streamId ? [e.segment] : []
  );
}

/** Matches the end event of stream `streamId`. */
export function isStreamEnd(streamId: number): (e: ClientEvent) => boolean {
  return (e: ClientEvent) => e.kind === "stream-end" && e.end.streamId === streamId;
}

/**
 * Plays a title to the end into a {@linkcode DecodingSink} and checks everything the issue asks of
 * a complete stream: the decoder is silent, every byte of every prepared segment arrived, the
 * frame count and duration match the title and the reference, audio is there iff the title has it.
 */
export async function playToEnd(
  client: TestClient,
  title: string,
  quality: number | "auto",
  options: { sinks?: Set<DecodingSink>; cacheDir?: string } = {},
): Promise<{ info: StreamStartMessage; sink: DecodingSink; probe: ProbeResult }> {
  let sink: DecodingSink | undefined;
  const info = await playWithin(client, title, {
    quality,
    sink: (i) => {
      sink = new DecodingSink(i);
      options.sinks?.add(sink);
      return sink;
    },
  });
  ok(sink);
  const end = await client.waitFor(isStreamEnd(info.streamId), 60_000);
  equal(end.kind === "stream-end" && end.end.reason, "finished");
  const probe = await sink.probe.end();
  await checkComplete(client, info, sink, probe, options.cacheDir);
  return { info, sink, probe };
}

/** Asserts a finished stream complete: see {@linkcode playToEnd}. */
export async function checkComplete(
  client: TestClient,
  info: StreamStartMessage,
  sink: DecodingSink,
  probe: ProbeResult,
  cacheDir?: string,
): Promise<void> {
  const label = `"${info.title}" for ${client.session.name}`;
  equal(sink.ended, "finished", label);
  equal(sink.probe.writeError, undefined, `${label}: the decoder refused input`);
  equal(probe.code, 0, `${label}: ffprobe exit code`);
  equal(probe.stderr, "", `${label}: decoder errors/warnings`);
  equal(sink.validator.errors, 0, `${label}: MPEG-TS sync errors`);
  // Every segment, in order, each exactly as prepared.
  const segments = streamSegments(client, info.streamId);
  const manifest = await manifestFor(info, cacheDir);
  deepEqual(segments.map((s) => s.index), manifest.renditions[0].segments.map((s) => s.index));
  for (const s of segments) {
    equal(s.bytes, preparedSegment(manifest, s).bytes, `${label} #${s.index}`);
  }
  equal(sink.bytes, segments.reduce((n, s) => n + s.bytes, 0), `${label}: bytes received`);
  // Frames: as many as the title has (duration x fps, +-1), and as the reference decodes.
  const expected = Math.round(info.duration * info.fps);
  ok(
    Math.abs(probe.video.length - expected) <= 1,
    `${label}: ${probe.video.length} video frames, expected ${expected} +-1`,
  );
  const span = probe.video[probe.video.length - 1].pts - probe.video[0].pts + 1 / info.fps;
  ok(Math.abs(span - info.duration) <= 1.01 / info.fps, `${label}: ${span} s of video`);
  const reference = await probeFiles(segments.map((s) => preparedSegment(manifest, s).path));
  equal(probe.video.length, reference.video.length, `${label}: frames vs the prepared segments`);
  equal(
    probe.audioFrames,
    reference.audioFrames,
    `${label}: audio frames vs the prepared segments`,
  );
  // Audio iff the title has it.
  equal(probe.streams.includes("audio"), info.hasAudio, `${label}: audio stream`);
  equal(probe.audioFrames > 0, info.hasAudio, `${label}: audio frames`);
  ok(probe.streams.includes("video"));
}

/** Starts a CLI whose player is a real ffmpeg decoder with a marker in its command line. */
export function startPlayerCli(port: number, name: string, marker: string): Promise<CliClient> {
  return startCli(port, name, { args: ["--ephemeral", "--player", playerSpec(marker)] });
}

/** Every file and folder under `dir`, recursively. */
export async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    found.push(path);
    if (entry.isDirectory) found.push(...await listFiles(path));
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The adaptive-switching title: 30 s of 720p + tone, generated into a temporary library

/** The adaptive-switching title's length in seconds. */
export const DRIFT_SECONDS = 30;

/** Generates the adaptive-switching title under `root` and starts a server on it. */
export async function startDriftServer(root: string): Promise<ServerProcess> {
  const videos = `${root}/videos`;
  await Deno.mkdir(videos);
  const source = await new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc2=size=1280x720:rate=25:duration=${DRIFT_SECONDS}`,
      "-f",
      "lavfi",
      "-i",
      `sine=frequency=440:duration=${DRIFT_SECONDS}`,
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-c:a",
      "aac",
      "-shortest",
      `${videos}/drift_720p.mp4`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  equal(source.code, 0, new TextDecoder().decode(source.stderr));
  return await startServer({ args: ["--videos", videos], cacheDir: `${root}/cache` });
}
