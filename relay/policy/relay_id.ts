/**
 * The opaque id stamped on every submitted message (`X-Relay-ID`), so a
 * complaint about it can be traced to the account without the header
 * naming the account: `QUEUEID.MAC`, where MAC is the first 128 bits of
 * HMAC-SHA256 (RFC 2104) over the queue id and the login, keyed with a
 * secret kept in KV (kv/complaints.ts).
 *
 * Matching a complaint recomputes the MAC for each account: a few
 * microseconds per account, paid only when a report arrives, and no extra
 * KV write per message.
 *
 * @module
 */

import { listAccounts } from "../../kv/accounts.ts";
import { relayIdSecret } from "../../kv/complaints.ts";

/** Name of the header carrying the id. */
export const RELAY_ID_HEADER = "X-Relay-ID";

const ID_PATTERN = /^([0-9A-Z]{15})\.([A-Za-z0-9_-]{22})$/;
const encoder = new TextEncoder();
const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keys.set(secret, key);
  }
  return key;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The id of the message `queueId` submitted by `login`, signed with `secret`. */
export async function relayIdFor(
  secret: Uint8Array,
  queueId: string,
  login: string,
): Promise<string> {
  // NUL cannot occur in either part, so no two (id, login) pairs sign the same bytes.
  const data = encoder.encode(`${queueId}\0${login}`);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), data));
  return `${queueId}.${base64url(mac.subarray(0, 16))}`;
}

/** The header line (CRLF-terminated) to prepend to the message `queueId` of `login`. */
export async function relayIdHeader(kv: Deno.Kv, queueId: string, login: string): Promise<string> {
  return `${RELAY_ID_HEADER}: ${await relayIdFor(await relayIdSecret(kv), queueId, login)}\r\n`;
}

/** The queue id inside a well-formed relay id, or null for anything else. */
export function relayIdQueueId(relayId: string): string | null {
  return ID_PATTERN.exec(relayId)?.[1] ?? null;
}

/** The login whose message carried `relayId`, or null when no account signs to it. */
export async function matchRelayId(kv: Deno.Kv, relayId: string): Promise<string | null> {
  const queueId = relayIdQueueId(relayId);
  if (queueId === null) return null;
  const secret = await relayIdSecret(kv);
  for (const account of await listAccounts(kv)) {
    if (await relayIdFor(secret, queueId, account.login) === relayId) return account.login;
  }
  return null;
}
