/**
 * The page's side of the WebSocket transport: the shared client's {@linkcode ByteTransport} over
 * a browser WebSocket carrying the protocol's frames as binary messages (docs/PROTOCOL.md,
 * "Transports"), so that the page runs the very `ClientSession` of the terminal.
 * @module
 */

import type { ByteTransport } from "../../client/transport.ts";
import { ChunkQueue } from "../../protocol/chunk_queue.ts";

/** How much the browser may hold unsent before a write waits. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The WebSocket URL of the page's own server.
 *
 * @param location The page's location.
 * @returns `ws://host/ws`, or `wss://` when the page came over https.
 */
export function websocketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

/**
 * Opens a WebSocket to the page's server and adapts it to a {@linkcode ByteTransport}.
 *
 * @param url The endpoint.
 * @param timeoutMs How long the opening may take.
 * @returns The open stream.
 * @throws {Error} When the socket cannot open (the server refused the origin, or is down).
 */
export function openWebSocketStream(url: string, timeoutMs = 10_000): Promise<ByteTransport> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const chunks = new ChunkQueue();
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.addEventListener("message", (event) => {
    // The server only sends binary messages; anything else ends the stream.
    if (event.data instanceof ArrayBuffer) chunks.push(new Uint8Array(event.data));
    else socket.close(1003);
    notify();
  });
  socket.addEventListener("close", () => {
    ended = true;
    notify();
  });
  const stream: ByteTransport = {
    async read(buffer) {
      while (chunks.empty) {
        if (ended) return null;
        await new Promise<void>((resolve) => wake = resolve);
      }
      return chunks.take(buffer);
    },
    async write(bytes) {
      if (socket.readyState !== WebSocket.OPEN) throw new Error("The connection is closed");
      // A copy: the session may reuse its buffer once the write resolves.
      socket.send(bytes.slice());
      while (socket.bufferedAmount > HIGH_WATER_BYTES && socket.readyState === WebSocket.OPEN) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return bytes.length;
    },
    close() {
      ended = true;
      notify();
      socket.close(1000);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`Cannot connect to ${url}: no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      resolve(stream);
    }, { once: true });
    socket.addEventListener("close", () => {
      clearTimeout(timer);
      reject(new Error(`Cannot connect to ${url}: the server refused or is not running`));
    }, { once: true });
  });
}
