/**
 * A message being received, held in memory while it is small and moved to a
 * spool file of its own once it grows past a limit (issue #9): small messages
 * can then be stored by group commit with one write per batch, while a large
 * one streams to disk and memory stays bounded by the limit.
 *
 * @module
 */

import type { MessageWriter } from "../receive.ts";

/** Options of {@linkcode MessageBuffer}. */
export interface MessageBufferOptions {
  /** Octets kept in memory; one more and the message moves to a file. */
  limit: number;
  /** Opens the file a large message moves to (called at most once). */
  spill: () => Promise<MessageWriter>;
}

/** Collects a message's octets in memory, or in a spool file once they pass the limit. */
export class MessageBuffer {
  #options: MessageBufferOptions;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #writer: MessageWriter | null = null;

  constructor(options: MessageBufferOptions) {
    this.#options = options;
  }

  /** Octets written so far. */
  get size(): number {
    return this.#size;
  }

  /** The spool file the message moved to, or null while it is in memory. */
  get writer(): MessageWriter | null {
    return this.#writer;
  }

  /** Appends octets (copied: the caller may reuse its buffer). */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.#size += chunk.length;
    if (this.#writer !== null) {
      await this.#writer.write(chunk);
      return;
    }
    this.#chunks.push(chunk.slice());
    if (this.#size <= this.#options.limit) return;
    // Past the limit: write what was held, then stream everything else.
    this.#writer = await this.#options.spill();
    const held = this.#chunks;
    this.#chunks = [];
    for (const part of held) await this.#writer.write(part);
  }

  /**
   * The message's octets in order while it is in memory (the copies `write`
   * made, never joined: the segment write takes them as they are, issue #9);
   * null once it moved to a file.
   */
  parts(): readonly Uint8Array[] | null {
    return this.#writer === null ? this.#chunks : null;
  }

  /** Drops the message: memory, or the partial spool file. */
  async abort(): Promise<void> {
    this.#chunks = [];
    await this.#writer?.abort();
  }
}
