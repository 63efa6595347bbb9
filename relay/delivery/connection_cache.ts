/**
 * Idle SMTP connections kept for the next message to the same server (as
 * Postfix's connection cache): a busy queue then pays the connect, greeting,
 * EHLO, STARTTLS and QUIT once per connection instead of once per message.
 *
 * A connection is kept only after a transaction that ended cleanly (final
 * reply to the data was 2xx: the server is back in its initial state, RFC 5321
 * §4.1.1.4), for at most `idleMs`, at most `maxUses` transactions and
 * `maxAgeMs` in all; then it is closed with QUIT. A kept connection the server
 * dropped meanwhile costs one failed MAIL: the courier then opens a new one.
 *
 * @module
 */

import type { SmtpClient } from "./smtp_client.ts";

/** How long and how much a connection may be reused. */
export interface ConnectionCacheOptions {
  /** Close a connection nobody took for this long (default 2 s, Postfix's time limit). */
  idleMs?: number;
  /** Transactions per connection (default 100). */
  maxUses?: number;
  /** Age of a connection after which it is not reused (default 300 s). */
  maxAgeMs?: number;
  /** Idle connections kept for one server (default 20). */
  maxIdlePerKey?: number;
  now?: () => number;
}

/** A connection with its history; `uses` counts finished transactions. */
export interface Lease {
  client: SmtpClient;
  uses: number;
  openedAt: number;
}

interface Idle {
  lease: Lease;
  timer: ReturnType<typeof setTimeout>;
}

/** Idle connections by server (address, port, TLS mode and name). */
export class ConnectionCache {
  #idle = new Map<string, Idle[]>();
  #idleMs: number;
  #maxUses: number;
  #maxAgeMs: number;
  #maxIdlePerKey: number;
  #now: () => number;
  #closed = false;

  constructor(options: ConnectionCacheOptions = {}) {
    this.#idleMs = options.idleMs ?? 2_000;
    this.#maxUses = options.maxUses ?? 100;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
    this.#maxIdlePerKey = options.maxIdlePerKey ?? 20;
    this.#now = options.now ?? Date.now;
  }

  /** Idle connections kept now. */
  get size(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /** A lease for a connection just opened. */
  adopt(client: SmtpClient): Lease {
    return { client, uses: 0, openedAt: this.#now() };
  }

  /** A kept connection for `key` (the most recently used), or null. */
  take(key: string): Lease | null {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const { lease, timer } = list.pop()!;
      clearTimeout(timer);
      if (list.length === 0) this.#idle.delete(key);
      if (!lease.client.closed) return lease;
    }
    return null;
  }

  /**
   * Gives back a connection after a transaction: kept if it may serve another,
   * else closed with QUIT (resolves once it is). `clean` says the transaction
   * ended with a 2xx to the data.
   */
  async release(key: string, lease: Lease, clean: boolean): Promise<void> {
    lease.uses++;
    const list = this.#idle.get(key) ?? [];
    if (
      !clean || this.#closed || lease.client.closed || lease.uses >= this.#maxUses ||
      this.#now() - lease.openedAt >= this.#maxAgeMs || list.length >= this.#maxIdlePerKey
    ) {
      await lease.client.quit().catch(() => {});
      return;
    }
    const entry: Idle = {
      lease,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at === -1) return;
        list.splice(at, 1);
        if (list.length === 0 && this.#idle.get(key) === list) this.#idle.delete(key);
        void lease.client.quit().catch(() => {});
      }, this.#idleMs),
    };
    // An idle connection never keeps the process alive.
    Deno.unrefTimer(entry.timer);
    list.push(entry);
    this.#idle.set(key, list);
  }

  /** Closes every idle connection (QUIT) and keeps none from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    await Promise.all(all.map(({ lease, timer }) => {
      clearTimeout(timer);
      return lease.client.quit().catch(() => {});
    }));
  }
}
