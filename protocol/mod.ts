/**
 * The peerstream wire protocol: frames, messages, errors, names and end-to-end encryption.
 * Pure code: nothing here touches the network, the file system or timers.
 * @module
 */

export * from "./errors.ts";
export * from "./frame.ts";
export * from "./messages.ts";
export * from "./names.ts";
export * from "./e2e.ts";
export * from "./text.ts";
