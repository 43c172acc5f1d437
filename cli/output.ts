/**
 * Terminal output helpers shared by the subcommands: colour only on a terminal without NO_COLOR.
 * @module
 */

/** Whether to colour text written to stdout. */
export function useColor(): boolean {
  return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
}

/** ANSI styles that turn into no-ops when colour is off. */
export function styles(
  enabled = useColor(),
): Record<"bold" | "dim" | "red" | "green" | "yellow" | "cyan", (s: string) => string> {
  const wrap = (code: number) => (s: string) => enabled ? `\x1b[${code}m${s}\x1b[0m` : s;
  return {
    bold: wrap(1),
    dim: wrap(2),
    red: wrap(31),
    green: wrap(32),
    yellow: wrap(33),
    cyan: wrap(36),
  };
}

/** A usage error: the subcommand prints its help on stderr and exits with code 2. */
export class UsageError extends Error {
  /** @param message What was wrong with the command line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Formats the current time for log lines: `2026-11-25 18:01:02.123`. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace("T", " ").replace("Z", "");
}
