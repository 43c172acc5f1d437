/**
 * Helpers for end-to-end tests: real server and client processes on loopback, and in-process
 * clients, every wait bounded by a deadline.
 * @module
 */

export * from "./_program.ts";
export * from "./_server_process.ts";
export * from "./_test_client.ts";
export * from "./_cli_process.ts";
