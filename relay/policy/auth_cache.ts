/**
 * Remembers recent successful logins so a client that reconnects for every
 * message (devices, scripts) does not pay a scrypt run (16 MiB, tens of ms of
 * CPU) each time.
 *
 * Only a keyed hash of the password is kept (HMAC-SHA-256 with a random key
 * that never leaves this process), tied to the stored password hash: a
 * password change or reset invalidates the entry at once. Failures are never
 * cached, so a wrong password always costs the full verification.
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

interface Entry {
  storedHash: string;
  mac: Buffer;
  expiresAt: number;
}

/** A bounded in-memory cache of verified credentials. */
export class AuthCache {
  #key = randomBytes(32);
  #entries = new Map<string, Entry>();
  #ttlMs: number;
  #max: number;
  #now: () => number;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#max = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #mac(login: string, password: string): Buffer {
    return createHmac("sha256", this.#key).update(login).update("\0").update(password).digest();
  }

  /** Whether this password was verified for this stored hash recently. */
  matches(login: string, password: string, storedHash: string): boolean {
    const entry = this.#entries.get(login);
    if (!entry || entry.storedHash !== storedHash || entry.expiresAt <= this.#now()) return false;
    return timingSafeEqual(entry.mac, this.#mac(login, password));
  }

  /** Records a successful verification. */
  remember(login: string, password: string, storedHash: string): void {
    this.#entries.delete(login);
    if (this.#entries.size >= this.#max) {
      // Oldest first: Map keeps insertion order.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(login, {
      storedHash,
      mac: this.#mac(login, password),
      expiresAt: this.#now() + this.#ttlMs,
    });
  }
}
