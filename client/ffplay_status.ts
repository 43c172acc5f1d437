/**
 * ffplay's own clock, read from its status line (pure). With `-stats`, ffplay writes to stderr,
 * every 30 ms and ended by a carriage return, a line that starts with its master clock (with
 * `-sync video`, the timestamp of the frame on screen, in the stream's own seconds), e.g.
 * `   7.52 M-V:  0.001 fd=   0 aq=    8KB vq=   49KB sq=    0B f=0/0`, or `nan` before its first
 * frame. Watching together (issue 21) steers ffplay from it: the wall clock since ffplay took its
 * first bytes (`position.ts`) runs ahead of its picture by its start-up (probing, decoding,
 * opening its window: 0.5-0.9 s measured on the loaded test machine).
 * @module
 */

/**
 * Reads ffplay's master clock from one line of its stderr.
 *
 * @param line One line (split at `\r` or `\n`).
 * @returns The clock, seconds; null for a status line before the first frame (`nan`); undefined
 * for any other line.
 */
export function parseFfplayStatus(line: string): number | null | undefined {
  const match = /^\s*(nan|-?\d+(?:\.\d+)?)\s+(?:[AMV]-[AMV])?\s*:\s/.exec(line);
  if (match === null) return undefined;
  return match[1] === "nan" ? null : Number(match[1]);
}
