/**
 * Values read once per transaction: fresh at MAIL, then reused by the same
 * connection's RCPTs and DATA (issue #9). A change made meanwhile (an account
 * edit, another message's usage) takes effect at the next MAIL, as with a
 * submission server that checks the sender once per transaction.
 *
 * @module
 */

/** Entries a table keeps before the oldest are dropped (connections that vanished). */
export const TABLE_MAX = 10_000;
/**
 * Values kept per {@linkcode PerTransaction}: more than the open transactions
 * of a busy node, and an evicted one is only read again. A transaction
 * abandoned without an end (QUIT after MAIL) leaves its value until evicted.
 */
export const PER_TRANSACTION_MAX = 1_024;

/** Drops the oldest entries of `map` beyond `max`. */
export function boundMap<K, V>(map: Map<K, V>, max = TABLE_MAX): void {
  while (map.size > max) map.delete(map.keys().next().value as K);
}

/** One read per connection and login, renewed when asked to be fresh. */
export class PerTransaction<T> {
  #values = new Map<string, Promise<T>>();
  #read: (login: string) => Promise<T>;

  constructor(read: (login: string) => Promise<T>) {
    this.#read = read;
  }

  /** The value for `login` on connection `cid`: read anew when `fresh` or not read yet. */
  get(cid: string, login: string, fresh: boolean): Promise<T> {
    const key = `${cid}\n${login}`;
    let value = fresh ? undefined : this.#values.get(key);
    if (value === undefined) {
      value = this.#read(login);
      // Re-inserted so that the map's order is the order of use.
      this.#values.delete(key);
      this.#values.set(key, value);
      boundMap(this.#values, PER_TRANSACTION_MAX);
      // A failed read is not kept: the next call reads again.
      value.catch(() => {
        if (this.#values.get(key) === value) this.#values.delete(key);
      });
    }
    return value;
  }

  /** Forgets the value of a transaction that ended. */
  forget(cid: string, login: string): void {
    this.#values.delete(`${cid}\n${login}`);
  }
}
