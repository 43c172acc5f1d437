/**
 * What a registered client's requests do: directory lookups, the relay of sealed messages, the
 * video requests (play, stop, quality, pause, resume, seek), rooms (`room_requests.ts`) and
 * keepalives. Synchronous, so that the replies to one read leave in one write; only a room change
 * awaits (its entry's signature), holding the client's next messages until it is applied, and a
 * cluster's look-up of a name offline since before its node started is answered when Redis answers.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import { quoted } from "../protocol/text.ts";
import { closeAfterFlush, type ServerClient } from "./member.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import { listVideos, startPlay } from "./streaming/play_request.ts";
import { sendReleased } from "./community/community_events.ts";
import type { StreamSession } from "./streaming/stream_session.ts";
import { roomRequest } from "./room_requests.ts";
import { answerTime, roomControl } from "./watch_requests.ts";
import type { PeerKeys } from "./community/community.ts";

/**
 * Handles one message of a registered client.
 *
 * @param client The registered client.
 * @param message The message.
 * @param ctx The server's parts.
 * @returns A promise while a room change is checked: the caller awaits it before the client's
 * next message, and answers its rejection as it answers a throw.
 * @throws {PeerstreamError} When the request is refused; the caller answers with the error.
 */
export function dispatch(
  client: ServerClient,
  message: ClientMessage,
  ctx: DispatchContext,
): Promise<void> | void {
  switch (message.type) {
    case "hello":
      throw new PeerstreamError("ALREADY_REGISTERED", `Already registered as "${client.name}"`);
    case "list":
      client.conn.send({ type: "videos", re: message.id, videos: listVideos(ctx.videos()) });
      return;
    case "key":
      return keyInfo(client, message, ctx);
    case "send":
      return relaySend(client, message, ctx);
    case "receipt":
      return receipt(client, message, ctx);
    case "play":
      return startPlay(client, message, ctx);
    case "stop":
      return playing(client, "stop").stop(message.id);
    case "quality": {
      const stream = playing(client, "change quality");
      if (message.position === undefined) {
        stream.setQuality(message.quality);
        client.conn.send({ type: "ok", re: message.id });
      } else {
        // At the position on the viewer's screen: a jump there in the new rendition.
        stream.seek(message.position, { requestId: message.id, quality: message.quality });
      }
      return;
    }
    case "pause":
      playing(client, "pause").pause();
      client.conn.send({ type: "ok", re: message.id });
      return;
    case "resume":
      playing(client, "resume").resume();
      client.conn.send({ type: "ok", re: message.id });
      return;
    case "seek":
      return playing(client, "seek").seek(message.position, { requestId: message.id });
    case "seg-ack":
      if (client.stream?.streamId === message.streamId) {
        client.stream.ack(message.epoch, message.index);
      }
      return;
    case "ping":
      client.conn.send({ type: "pong", id: message.id });
      return;
    case "pong":
      return;
    case "quit":
      return closeAfterFlush(client, "quit", { reason: "quit" });
    case "room-create":
    case "room-change":
    case "room-chain":
    case "room-send":
      return roomRequest(client, message, ctx);
    case "time":
      return answerTime(client, message.id, ctx.rooms);
    case "room-control":
      return roomControl(client, message, ctx);
  }
}

/** The client's running stream, or `NOT_PLAYING` naming what could not be done. */
function playing(client: ServerClient, action: string): StreamSession {
  if (client.stream === undefined) {
    throw new PeerstreamError(
      "NOT_PLAYING",
      `Cannot ${action}: nothing is playing; PLAY a title first`,
    );
  }
  return client.stream;
}

function keyInfo(
  client: ServerClient,
  message: Extract<ClientMessage, { type: "key" }>,
  ctx: DispatchContext,
) {
  const name = message.name.normalize("NFC");
  const unknown = () =>
    new PeerstreamError(
      "UNKNOWN_PEER",
      `No peer named ${quoted(message.name)}; run WHO to see who is online`,
    );
  const found = ctx.community.lookup(name);
  if (found === undefined && ctx.community.find !== undefined) {
    // In a cluster, a bound name offline since before this node started: ask Redis.
    ctx.community.find(name).then((keys) => {
      if (keys === undefined) throw unknown();
      sendKeyInfo(client, message.id, name, keys);
    }).catch((error) => {
      const { code, message: text } = error instanceof PeerstreamError
        ? error
        : new PeerstreamError("INTERNAL", "Cannot look the name up: the server failed");
      client.conn.send({ type: "error", re: message.id, code, message: text });
    });
    return;
  }
  if (found === undefined) throw unknown();
  sendKeyInfo(client, message.id, name, found);
}

function sendKeyInfo(client: ServerClient, re: number, name: string, found: PeerKeys) {
  client.conn.send({
    type: "key-info",
    re,
    name,
    encKey: found.keys.encKey,
    signKey: found.keys.signKey,
    online: found.online,
  });
}

function relaySend(
  client: ServerClient,
  message: Extract<ClientMessage, { type: "send" }>,
  ctx: DispatchContext,
) {
  const to = message.to.normalize("NFC");
  const { body } = message;
  if (body.length > ctx.limits.maxSealedBytes) {
    throw new PeerstreamError(
      "MESSAGE_TOO_LARGE",
      `Cannot send to ${
        quoted(to)
      }: ${body.length} bytes exceeds the ${ctx.limits.maxSealedBytes}-byte limit`,
    );
  }
  // UNKNOWN_PEER, PEER_OFFLINE, PEER_UNREACHABLE or INBOX_FULL (fair budgets) are thrown here; a
  // recipient on this server gets the message before this returns, in the same corked write.
  const sent = ctx.community.send(client, { requestId: message.id, to, body });
  if (sent?.queued) {
    client.conn.send({ type: "queued", re: message.id, to, qseq: sent.qseq });
    return;
  }
  ctx.stats.relayed++;
}

function receipt(
  client: ServerClient,
  message: Extract<ClientMessage, { type: "receipt" }>,
  ctx: DispatchContext,
) {
  // Its place in the window is free: the next message, fairly chosen, goes out with this read's
  // replies.
  sendReleased(client, client.outbox.confirm(message.rid, performance.now()));
  ctx.community.receipt(client, { rid: message.rid, ok: message.ok, code: message.code });
}
