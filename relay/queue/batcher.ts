/**
 * Batching without a timer (issue #9): what callers submit while one batch is
 * being processed becomes the next batch, so an idle system handles an item at
 * once and batches grow only while the store is the bottleneck. The group
 * commit of accepted messages works this way; the queue runner uses this for
 * the KV commits that settle finished deliveries.
 *
 * @module
 */

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/** Hands submitted items to `run` in batches of at most `maxItems`, one batch at a time. */
export class Batcher<T, R> {
  #run: (items: T[]) => Promise<R[]>;
  #maxItems: number;
  #waiting: Waiting<T, R>[] = [];
  #running = false;

  /** `run` resolves to one result per item, in order; if it throws, the whole batch rejects. */
  constructor(run: (items: T[]) => Promise<R[]>, options: { maxItems?: number } = {}) {
    this.#run = run;
    this.#maxItems = options.maxItems ?? 256;
    if (!Number.isInteger(this.#maxItems) || this.#maxItems < 1) {
      throw new RangeError(`Cannot create batcher: maxItems must be a positive integer`);
    }
  }

  /** Resolves with this item's result once its batch is processed. */
  submit(item: T): Promise<R> {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    this.#waiting.push({ item, resolve, reject });
    if (!this.#running) void this.#drain();
    return promise;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, this.#maxItems);
        try {
          const results = await this.#run(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(results[i]));
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
