/**
 * Entry point of the operator CLI: `runCli(args, { kvPath })`, called by
 * main.ts after it has read the config. Works while the server runs: every
 * write is one atomic commit that retries "database is locked".
 */

import { ConflictError, NotFoundError } from "../kv/errors.ts";
import type { GreylistTiming } from "../kv/greylist_settings.ts";
import { openStore } from "../kv/open.ts";
import { type CliCommand, CliUsageError, parseCliArgs } from "./args.ts";
import { describeAction, executeCommand } from "./execute.ts";
import { USAGE } from "./help.ts";

/** Exit status for bad input: the line on stderr says what to fix, nothing was changed. */
const EXIT_USAGE = 2;
/** Exit status for anything else that went wrong (store unreachable, ...). */
const EXIT_FAILURE = 1;

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Deno KV path, ":memory:" or KV Connect URL, from the config's `storage.kv`. */
  kvPath: string;
  /** Standard input (for `admin password`); default `Deno.stdin.readable`. */
  stdin?: ReadableStream<Uint8Array>;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
  /** This node's spool directory, so `queue delete` removes the body too. */
  spoolDir?: string;
  /** The config's `[greylist]` timing, which per-domain overrides are checked against. */
  greylistDefaults?: GreylistTiming;
}

/** What the process should print and exit with. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Read up to the first line feed and stop, leaving the rest of the stream unread. */
async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.includes("\n")) break;
    }
  } finally {
    await reader.cancel();
  }
  return text.split("\n")[0].replace(/\r$/, "");
}

/** Turn an error into the one stderr line, reusing kv's detail without repeating the action. */
function errorLine(action: string | null, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/\s*\n\s*/g, " ");
  if (action === null) return `relay: ${message}`;
  // kv says `Cannot add account "a@b.example": already exists`; keep the detail only.
  const verbs = action.replace(/ ".*$/, "");
  const own = new RegExp(`^Cannot ${verbs}( "[^"]*")?: `, "i").exec(message);
  const detail = own !== null
    ? message.slice(own[0].length)
    : message.charAt(0).toLowerCase() + message.slice(1);
  return `relay: cannot ${action}: ${detail}`;
}

/**
 * Bad input is what kv/ refuses on purpose: its own classes, or a built-in
 * error with a std-style message (`Cannot set "x": ...`). A bare TypeError
 * from Deno KV or from a bug is a failure, not the user's fault.
 */
function isBadInput(error: unknown): boolean {
  if (error instanceof NotFoundError || error instanceof ConflictError) return true;
  return (error instanceof TypeError || error instanceof RangeError ||
    error instanceof SyntaxError) && /^Cannot [a-z ]+ "/.test(error.message);
}

/** Run one CLI command against the KV store and report its output and exit code. */
export async function runCli(args: string[], options: RunCliOptions): Promise<CliResult> {
  let command: CliCommand;
  try {
    command = parseCliArgs(args);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    return { code: EXIT_USAGE, stdout: "", stderr: errorLine(error.action, error) + "\n" };
  }
  if (command.kind === "help") return { code: 0, stdout: USAGE, stderr: "" };
  const action = describeAction(command);
  let kv: Deno.Kv | null = null;
  try {
    kv = await openStore(options.kvPath);
    const stdout = await executeCommand(kv, command, {
      now: (options.now ?? Date.now)(),
      readLine: () => readFirstLine(options.stdin ?? Deno.stdin.readable),
      spoolDir: options.spoolDir,
      greylistDefaults: options.greylistDefaults,
    });
    return { code: 0, stdout, stderr: "" };
  } catch (error) {
    const code = isBadInput(error) ? EXIT_USAGE : EXIT_FAILURE;
    return { code, stdout: "", stderr: errorLine(action, error) + "\n" };
  } finally {
    kv?.close();
  }
}
