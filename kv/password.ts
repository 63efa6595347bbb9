/**
 * Password hashing with scrypt (RFC 7914) from node:crypto, stored as
 * `scrypt$N$r$p$<saltB64>$<hashB64>` so the cost can be raised later without
 * invalidating stored hashes.
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** Cost parameters for new hashes (RFC 7914 §2: N a power of two; 16 MiB of memory). */
const SCRYPT = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** Upper bounds accepted when verifying, so a tampered hash cannot make us burn minutes. */
const LIMITS = { maxN: 1 << 20, maxR: 32, maxP: 16, minKey: 16, maxKey: 64 } as const;

/** Fixed salt used by {@linkcode dummyVerify}; its value does not matter. */
const DUMMY_SALT = new Uint8Array(SCRYPT.saltBytes);

/**
 * Each scrypt run holds 128·N·r bytes (16 MiB here) of native memory. Runs
 * beyond the number of cores gain nothing (the work is CPU-bound) but pile up
 * memory that the allocator keeps afterwards: 20 clients logging in at once
 * grew the relay by 400 MiB. So runs queue for one of a few slots.
 */
const MAX_CONCURRENT = Math.max(1, navigator.hardwareConcurrency || 2);
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(task: () => Promise<T>): Promise<T> {
  while (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await task();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function derive(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number; keyBytes: number },
): Promise<Uint8Array> {
  return withSlot(() => deriveNow(password, salt, params));
}

function deriveNow(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number; keyBytes: number },
): Promise<Uint8Array> {
  const { N, r, p, keyBytes } = params;
  // node:crypto refuses work above maxmem (32 MiB by default); give 128*N*r
  // plus headroom so the accepted LIMITS never trip it.
  const maxmem = 128 * N * r * 2 + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, { N, r, p, maxmem }, (error, key) => {
      if (error) reject(error);
      else resolve(new Uint8Array(key));
    });
  });
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Hash a password with a fresh random salt, as `scrypt$16384$8$1$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(SCRYPT.saltBytes));
  const key = await derive(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${toBase64(salt)}$${toBase64(key)}`;
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Uint8Array;
  key: Uint8Array;
}

function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map((part) =>
    /^[1-9][0-9]{0,7}$/.test(part) ? Number(part) : NaN
  );
  const salt = fromBase64(parts[4]);
  const key = fromBase64(parts[5]);
  if (salt === null || key === null || salt.length === 0) return null;
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > LIMITS.maxN) return null;
  if (!(r >= 1 && r <= LIMITS.maxR && p >= 1 && p <= LIMITS.maxP)) return null;
  if (key.length < LIMITS.minKey || key.length > LIMITS.maxKey) return null;
  return { N, r, p, salt, key };
}

/** Check a password against a stored hash in constant time; a malformed hash gives false. */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === null) {
    // Same cost as a real check, so a broken record does not stand out.
    await dummyVerify(password);
    return false;
  }
  const key = await derive(password, parsed.salt, {
    ...parsed,
    keyBytes: parsed.key.length,
  });
  return timingSafeEqual(key, parsed.key);
}

/** Spend the time of one verification and return false, for logins that do not exist. */
export async function dummyVerify(password: string): Promise<boolean> {
  const key = await derive(password, DUMMY_SALT, SCRYPT);
  // Compare anyway so the work matches verifyPassword step for step.
  timingSafeEqual(key, key);
  return false;
}
