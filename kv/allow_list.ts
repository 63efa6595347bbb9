/**
 * The operator allow-list kept in KV (`["allow", cidr]`), editable while the
 * relay runs; it adds to the `[policy] allow` list of the config file. An
 * allowed client skips DNSBL checks and IP blocks.
 *
 * @module
 */

import { parseCidr } from "./cidr.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import { allowKey, allowPrefix, allowVersionKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** One allow-list entry. */
export interface AllowEntry {
  /** Canonical IP or CIDR text: "192.0.2.1", "10.0.0.0/8", "2001:db8::/32". */
  cidr: string;
  /** What the operator wrote down about it. */
  note: string | null;
  createdAt: number;
}

/** Longest note kept, in characters. */
const MAX_NOTE = 200;

/** Adds an IP or CIDR to the allow-list; throws TypeError/RangeError on bad input, ConflictError if present. */
export async function addAllowEntry(
  kv: Deno.Kv,
  input: { cidr: string; note?: string | null },
  now: number,
): Promise<AllowEntry> {
  const cidr = canonical(input.cidr, "add allow entry");
  const note = input.note ?? null;
  // deno-lint-ignore no-control-regex -- control characters would break the one-line CLI output
  if (note !== null && (note.length > MAX_NOTE || /[\x00-\x1f\x7f]/.test(note))) {
    throw new RangeError(
      `Cannot add allow entry "${input.cidr}": note must be at most ${MAX_NOTE} printable characters`,
    );
  }
  const entry: AllowEntry = { cidr, note: note === "" ? null : note, createdAt: now };
  const key = allowKey(cidr);
  const result = await commitWithRetry(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, entry).set(allowVersionKey(), now)
  );
  if (!result.ok) throw new ConflictError(`Cannot add allow entry "${cidr}": already exists`);
  return entry;
}

/** Removes an entry; throws NotFoundError when it is not on the list. */
export async function deleteAllowEntry(kv: Deno.Kv, text: string): Promise<void> {
  const cidr = canonical(text, "delete allow entry");
  const key = allowKey(cidr);
  const current = await retryLocked(() => kv.get(key));
  if (current.value === null) {
    throw new NotFoundError(`Cannot delete allow entry "${text}": not found`);
  }
  await commitWithRetry(() =>
    kv.atomic().check(current).delete(key).set(allowVersionKey(), Date.now())
  );
}

/** Every allow-list entry, in key order. */
export async function listAllowEntries(kv: Deno.Kv): Promise<AllowEntry[]> {
  return await retryLocked(async () => {
    const out: AllowEntry[] = [];
    for await (const entry of kv.list<AllowEntry>({ prefix: allowPrefix() })) out.push(entry.value);
    return out;
  });
}

function canonical(text: string, action: string): string {
  const parsed = typeof text === "string" ? parseCidr(text) : null;
  if (parsed === null) throw new TypeError(`Cannot ${action}: expected an IP address or CIDR`);
  if (!parsed.ok) throw new RangeError(`Cannot ${action} "${text}": ${parsed.problem}`);
  return parsed.cidr.text;
}
