/**
 * Bench and load helpers: lift an account's usage limits (they are per-level
 * defaults meant for customers, not for load generators).
 */
import type { RelayProcess } from "./relay_process.ts";

/** The `account set` flags that raise every usage limit to a billion. */
export function unlimitedFlags(): string[] {
  const flags: string[] = [];
  for (const what of ["messages", "recipients", "bytes"]) {
    for (const window of ["hour", "day", "month"]) {
      flags.push(`--limit-${what}-${window}`, "1000000000");
    }
  }
  return flags;
}

/** Lifts every usage limit of `login` through the CLI. */
export async function liftLimits(relay: RelayProcess, login: string): Promise<void> {
  const r = await relay.cli([
    "account",
    "set",
    login,
    "--level",
    "enterprise",
    ...unlimitedFlags(),
  ]);
  if (r.code !== 0) throw new Error(`Cannot lift limits of "${login}": ${r.stderr}`);
}
