/**
 * Complaint data: the secret that signs the X-Relay-ID header of every
 * submitted message (`["complaint", "secret"]`, made once by whichever node
 * needs it first), and one marker per complained-about message
 * (`["complaint", "seen", relayId]`) so a message counts once however many
 * reports about it arrive. Complaints are counted in the account's hourly
 * health counters (kv/account_health.ts).
 */

import { complaintSeenKey, healthKey, relayIdSecretKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** Octets of the X-Relay-ID signing secret (HMAC-SHA256 key, RFC 2104 §3: at least the hash length). */
const SECRET_BYTES = 32;
/** How long a complained-about message stays counted once (reports come days later, not months). */
export const COMPLAINT_SEEN_MS = 90 * 86_400_000;
/** Margin of KV's garbage-collection expiry beyond the logical one. */
const GC_MARGIN_MS = 86_400_000;

/** What is stored for a complained-about message. */
export interface ComplaintSeen {
  login: string;
  at: number;
  expiresAt: number;
}

const secrets = new WeakMap<Deno.Kv, Promise<Uint8Array>>();

/** The signing secret, created on first use; every node reads the same one. */
export function relayIdSecret(kv: Deno.Kv): Promise<Uint8Array> {
  let secret = secrets.get(kv);
  if (secret === undefined) {
    secret = loadOrCreateSecret(kv);
    // A failed read must not stick: the next message tries again.
    secret.catch(() => secrets.delete(kv));
    secrets.set(kv, secret);
  }
  return secret;
}

async function loadOrCreateSecret(kv: Deno.Kv): Promise<Uint8Array> {
  const key = relayIdSecretKey();
  for (;;) {
    const entry = await retryLocked(() => kv.get<Uint8Array>(key));
    if (entry.value !== null) return entry.value;
    const fresh = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
    const commit = await commitWithRetry(() => kv.atomic().check(entry).set(key, fresh));
    // Lost the race to another node: read the secret it stored.
    if (commit.ok) return fresh;
  }
}

/**
 * Counts one complaint against `login` for the message `relayId`, unless
 * that message was complained about already; true when it was counted.
 */
export async function recordComplaint(
  kv: Deno.Kv,
  relayId: string,
  login: string,
  now: number,
): Promise<boolean> {
  const key = complaintSeenKey(relayId);
  const hour = Math.floor(now / 3_600_000) * 3_600_000;
  const seen: ComplaintSeen = { login, at: now, expiresAt: now + COMPLAINT_SEEN_MS };
  for (;;) {
    const entry = await retryLocked(() => kv.get<ComplaintSeen>(key));
    if (entry.value !== null && entry.value.expiresAt > now) return false;
    // The check makes a retried commit safe: it cannot count twice.
    const commit = await commitWithRetry(() =>
      kv.atomic()
        .check(entry)
        .set(key, seen, { expireIn: COMPLAINT_SEEN_MS + GC_MARGIN_MS })
        .sum(healthKey(login, hour, "complaints"), 1n)
    );
    if (commit.ok) return true;
  }
}
