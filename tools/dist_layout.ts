/**
 * The layout of `dist/peerstream` when no `denort` is at hand (issue 23): a POSIX `sh` script,
 * then Deno's runtime (gzip) and the bundled program, back to back. The script unpacks both once,
 * checked by SHA-256, into `${XDG_CACHE_HOME:-$HOME/.cache}/peerstream/runtime-KEY/` (a temporary
 * folder renamed into place, so a run sees all of it or nothing) and `exec`s the runtime with the
 * flags of the `serve` or `join` task.
 *
 * Pure: text and numbers in, text out; `tools/dist.ts` does the I/O.
 * @module
 */

/** The name of the runtime inside the unpacked folder. */
export const RUNTIME_FILE = "deno";
/** The name of the bundled program inside the unpacked folder. */
export const PROGRAM_FILE = "peerstream.js";

/**
 * Every command the script runs: `sh` (dash), `gzip`, `find` and coreutils, all essential packages on
 * Debian, so that the file needs nothing installed. Its test runs it with only these on the PATH.
 */
export const SCRIPT_TOOLS: readonly string[] = [
  "sh",
  "uname",
  "mkdir",
  "find",
  "mktemp",
  "tail",
  "head",
  "gzip",
  "sha256sum",
  "chmod",
  "mv",
  "rm",
];

/**
 * Flags every run gets besides its task's: the unpacked program is one self-contained file, so no
 * `deno.json`, lock file or `package.json` found around the working folder may change how it runs,
 * and nothing may be resolved from the network.
 */
export const ISOLATION_FLAGS: readonly string[] = [
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
];

/** What the script needs to know about the build. */
export interface DistLayout {
  /** The program's version (deno.json). */
  version: string;
  /** The commit it was built from (`-dirty` when the tree had changes). */
  commit: string;
  /** The Deno version it carries. */
  denoVersion: string;
  /** The runtime as stored: gzip bytes, and the SHA-256 (hex) of the runtime unpacked. */
  runtime: { storedBytes: number; sha256: string };
  /** The bundled program, stored as it is: its length and SHA-256 (hex). */
  program: { bytes: number; sha256: string };
  /** `deno run` flags of the `serve` task (V8 flags and permissions). */
  serveFlags: readonly string[];
  /** `deno run` flags of the `join` task. */
  joinFlags: readonly string[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes a word for a POSIX shell; plain words stay as they are.
 *
 * @param word Any text.
 * @returns The word, single-quoted when it holds anything but letters, digits and `_@%+=:,./-`.
 */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The `deno run` flags of a task of the form `deno run FLAGS main.ts SUBCOMMAND`.
 *
 * @param task The task's command line (deno.json).
 * @param subcommand The subcommand the task runs (`serve` or `join`).
 * @returns The flags between `deno run` and `main.ts`.
 * @throws {SyntaxError} When the task has another shape, or a flag that is not a plain word.
 */
export function taskRunFlags(task: string, subcommand: string): string[] {
  const words = task.trim().split(/\s+/);
  const n = words.length;
  if (
    n < 4 || words[0] !== "deno" || words[1] !== "run" || words[n - 2] !== "main.ts" ||
    words[n - 1] !== subcommand
  ) {
    throw new SyntaxError(
      `Cannot read the "${subcommand}" task: expected "deno run FLAGS main.ts ${subcommand}", got "${task}"; keep the task in that shape`,
    );
  }
  const flags = words.slice(2, n - 2);
  const odd = flags.find((flag) => !flag.startsWith("-") || !SAFE_WORD.test(flag));
  if (odd !== undefined) {
    throw new SyntaxError(
      `Cannot read the "${subcommand}" task: "${odd}" is not a plain flag; keep its flags plain words`,
    );
  }
  return flags;
}

/**
 * The name of the folder a build unpacks into: one per (runtime, program) pair, so two builds never
 * share one and the same build always reuses its own.
 *
 * @param runtimeSha256 SHA-256 (hex) of the runtime unpacked.
 * @param programSha256 SHA-256 (hex) of the program.
 * @returns The text whose SHA-256 is the folder's key (hash it with WebCrypto).
 */
export function runtimeKeyInput(runtimeSha256: string, programSha256: string): string {
  return `peerstream-runtime\n${runtimeSha256}\n${programSha256}\n`;
}

function _checkLayout(layout: DistLayout, key: string): void {
  for (
    const [what, value] of [
      ["key", key],
      ["runtime SHA-256", layout.runtime.sha256],
      ["program SHA-256", layout.program.sha256],
    ]
  ) {
    if (!HEX64.test(value)) throw new TypeError(`Cannot write the header: bad ${what} "${value}"`);
  }
  for (
    const [what, value] of [["version", layout.version], ["commit", layout.commit], [
      "Deno version",
      layout.denoVersion,
    ]]
  ) {
    if (!/^[0-9A-Za-z.+-]+$/.test(value)) {
      throw new TypeError(`Cannot write the header: bad ${what} "${value}"`);
    }
  }
  for (const n of [layout.runtime.storedBytes, layout.program.bytes]) {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new RangeError(`Cannot write the header: bad length ${n}`);
    }
  }
}

function _run(flags: readonly string[]): string {
  return ["run", ...ISOLATION_FLAGS, ...flags].map(shellQuote).join(" ");
}

/** The script, with the payload's offset as given. Shell `${...}` is escaped as `\${...}`. */
function _script(layout: DistLayout, key: string, offset: number): string {
  const { version, commit, denoVersion: deno } = layout;
  // Anything but serve and join (help, --version, a mistake) needs no permission at all.
  const [serve, join, other] = [layout.serveFlags, layout.joinFlags, []].map(_run);
  const tools = SCRIPT_TOOLS.filter((tool) => tool !== "sh").join(" ");
  return `#!/bin/sh
# peerstream ${version} (commit ${commit}) for Linux x86-64, with Deno ${deno}. This file is this
# shell script followed by Deno's runtime (gzip) and the bundled program. The first run unpacks
# them, checked by SHA-256, into \${XDG_CACHE_HOME:-$HOME/.cache}/peerstream/runtime-KEY/ (KEY
# below); later runs reuse that folder. Nothing else is written and nothing is fetched.
# Made by \`deno task dist\` (tools/dist.ts).
set -eu
ps_key=${key}
ps_offset=${offset}
ps_runtime_bytes=${layout.runtime.storedBytes}
ps_runtime_sha256=${layout.runtime.sha256}
ps_program_bytes=${layout.program.bytes}
ps_program_sha256=${layout.program.sha256}

ps_fail() {
  printf 'error: %s\\n' "$1" >&2
  exit 1
}

for ps_tool in ${tools}; do
  command -v "$ps_tool" >/dev/null 2>&1 ||
    ps_fail "Cannot start peerstream: \\"$ps_tool\\" is not on the PATH; put it there (every Debian has it)"
done
case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) ps_fail "Cannot start peerstream: this file is for Linux x86-64, not $(uname -s) $(uname -m); build one there with deno task dist" ;;
esac
if [ -n "\${XDG_CACHE_HOME:-}" ]; then
  ps_cache=$XDG_CACHE_HOME/peerstream
elif [ -n "\${HOME:-}" ]; then
  ps_cache=$HOME/.cache/peerstream
else
  ps_fail "Cannot start peerstream: neither XDG_CACHE_HOME nor HOME is set; set HOME"
fi
ps_dir=$ps_cache/runtime-$ps_key

# Unpacks into a temporary folder beside the final one, checks both files, then renames it into
# place: rename(2) is atomic, and fails when another run got there first (its copy is as good).
ps_unpack() {
  mkdir -p "$ps_cache" || ps_fail "Cannot unpack peerstream: cannot create \\"$ps_cache\\"; check that it is writable"
  # A run killed while unpacking (SIGKILL, power loss) leaves its temporary folder: sweep those
  # untouched for an hour (unpacking takes seconds, so none of them is still being written).
  find "$ps_cache" -maxdepth 1 -name '.runtime-*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  ps_tmp=$(mktemp -d "$ps_cache/.runtime-$ps_key.XXXXXX") ||
    ps_fail "Cannot unpack peerstream: cannot create a folder in \\"$ps_cache\\"; check that it is writable"
  trap 'rm -rf "$ps_tmp"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  printf 'peerstream: unpacking Deno %s and the program into %s (once)\\n' ${deno} "$ps_dir" >&2
  tail -c +$((ps_offset + 1)) "$0" | head -c "$ps_runtime_bytes" | gzip -dc >"$ps_tmp/${RUNTIME_FILE}" 2>/dev/null || true
  tail -c +$((ps_offset + ps_runtime_bytes + 1)) "$0" | head -c "$ps_program_bytes" >"$ps_tmp/${PROGRAM_FILE}" || true
  printf '%s  %s\\n' "$ps_runtime_sha256" "$ps_tmp/${RUNTIME_FILE}" "$ps_program_sha256" "$ps_tmp/${PROGRAM_FILE}" |
    sha256sum -c --status - ||
    ps_fail "Cannot unpack peerstream: \\"$0\\" is damaged (a checksum differs); get the file again"
  chmod 755 "$ps_tmp" "$ps_tmp/${RUNTIME_FILE}"
  chmod 644 "$ps_tmp/${PROGRAM_FILE}"
  if ! mv -T "$ps_tmp" "$ps_dir" 2>/dev/null; then
    [ -d "$ps_dir" ] || ps_fail "Cannot unpack peerstream into \\"$ps_dir\\"; check that \\"$ps_cache\\" is writable"
    rm -rf "$ps_tmp"
  fi
  trap - EXIT HUP INT TERM
}

[ -d "$ps_dir" ] || ps_unpack
[ -f "$ps_dir/${RUNTIME_FILE}" ] && [ -f "$ps_dir/${PROGRAM_FILE}" ] ||
  ps_fail "Cannot start peerstream: \\"$ps_dir\\" is incomplete; remove that folder and run again"
# access(2) refuses X_OK on a noexec mount too.
[ -x "$ps_dir/${RUNTIME_FILE}" ] ||
  ps_fail "Cannot start peerstream: \\"$ps_dir/${RUNTIME_FILE}\\" may not be run (a noexec mount?); set XDG_CACHE_HOME to a folder where programs may run"

# Deno's own cache (code cache) lives in the folder too; no update check, no prompt.
export DENO_DIR="$ps_dir/deno_dir" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 DENO_NO_PACKAGE_JSON=1
case "\${1:-}" in
serve) exec "$ps_dir/${RUNTIME_FILE}" ${serve} "$ps_dir/${PROGRAM_FILE}" "$@" ;;
join) exec "$ps_dir/${RUNTIME_FILE}" ${join} "$ps_dir/${PROGRAM_FILE}" "$@" ;;
*) exec "$ps_dir/${RUNTIME_FILE}" ${other} "$ps_dir/${PROGRAM_FILE}" "$@" ;;
esac
exit 1
`;
}

/**
 * The script at the head of the file. The payload (runtime, then program) starts right after it,
 * at an offset the script states: its own length in bytes, found as a fixed point.
 *
 * @param layout The build's facts.
 * @param key The unpacked folder's key: SHA-256 (hex) of {@linkcode runtimeKeyInput}.
 * @returns The script (ASCII), ending with a newline.
 * @throws {TypeError} When a field would not be a plain word in the script.
 */
export function renderHeader(layout: DistLayout, key: string): string {
  _checkLayout(layout, key);
  let offset = 0;
  for (;;) {
    const text = _script(layout, key, offset);
    // Printable ASCII, so that characters are bytes: every field was checked to be a plain word.
    if (/[^\n -~]/.test(text)) throw new TypeError("Cannot write the header: not printable ASCII");
    if (text.length === offset) return text;
    offset = text.length;
  }
}

/**
 * Where each part lies in the file.
 *
 * @param headerBytes The header's length.
 * @param layout The parts' lengths.
 * @returns Byte ranges `[start, end)` of the runtime and the program, and the file's length.
 */
export function payloadRanges(
  headerBytes: number,
  layout: Pick<DistLayout, "runtime" | "program">,
): { runtime: [number, number]; program: [number, number]; total: number } {
  const runtimeEnd = headerBytes + layout.runtime.storedBytes;
  const total = runtimeEnd + layout.program.bytes;
  return { runtime: [headerBytes, runtimeEnd], program: [runtimeEnd, total], total };
}
