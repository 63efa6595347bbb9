/** The admin UI password: one scrypt hash at `["admin", "password"]`. */

import { validatePassword } from "./account_rules.ts";
import { adminPasswordKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";
import { dummyVerify, hashPassword, verifyPassword } from "./password.ts";

/** Set (or replace) the admin password; same length rules as account passwords. */
export async function setAdminPassword(kv: Deno.Kv, password: string): Promise<void> {
  const hash = await hashPassword(validatePassword(password));
  await commitWithRetry(() => kv.atomic().set(adminPasswordKey(), hash));
}

/** Check a password against the stored admin hash; false (after the same work) when none is set. */
export async function verifyAdminPassword(
  kv: Deno.Kv,
  password: string,
): Promise<boolean> {
  const stored = await retryLocked(() => kv.get<string>(adminPasswordKey()));
  if (typeof stored.value !== "string") return await dummyVerify(password);
  return await verifyPassword(password, stored.value);
}

/** Tell whether an admin password has been set. */
export async function hasAdminPassword(kv: Deno.Kv): Promise<boolean> {
  const stored = await retryLocked(() => kv.get<string>(adminPasswordKey()));
  return typeof stored.value === "string";
}

/** Set the admin password only when none is set yet (first start); false when one already was. */
export async function setAdminPasswordIfUnset(kv: Deno.Kv, password: string): Promise<boolean> {
  const hash = await hashPassword(validatePassword(password));
  const key = adminPasswordKey();
  const commit = await commitWithRetry(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, hash)
  );
  return commit.ok;
}
