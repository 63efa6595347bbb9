/**
 * The spool: message bodies on disk. A large message (or a DSN) is one file
 * per queue id; small messages share segment files (issue #9, see
 * `segments.ts`). Callers reach a body only through its queue entry
 * ({@linkcode Spool.open}, {@linkcode Spool.release}), so none knows which.
 *
 * A file is written to `tmp/`, fsynced, then renamed into place and the
 * directory fsynced, so a file in the spool directory is always complete.
 * The queue entry in KV is committed only after that (see `accept.ts`).
 *
 * @module
 */

import type { QueueEntry } from "../../kv/queue.ts";
import { type SegmentOptions, SegmentStore, syncDirectory } from "./segments.ts";

/** The fields of a queue entry that locate its body. */
export type BodyRef = Pick<QueueEntry, "spool" | "offset" | "length">;

// Buffer small writes; one write per 64 KiB keeps syscalls few and memory bounded.
const WRITE_BUFFER = 64 * 1024;

/** A message being written to the spool. */
export class SpoolWriter {
  #file: Deno.FsFile;
  #tmpPath: string;
  #finalPath: string;
  #dir: string;
  // One fixed buffer per message: no copy per chunk to collect later, so a
  // large message leaves little garbage behind (RSS follows the GC otherwise).
  #buffer = new Uint8Array(WRITE_BUFFER);
  #buffered = 0;
  #size = 0;
  #closed = false;

  constructor(file: Deno.FsFile, paths: { tmp: string; final: string; dir: string }) {
    this.#file = file;
    this.#tmpPath = paths.tmp;
    this.#finalPath = paths.final;
    this.#dir = paths.dir;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends bytes; resolves once memory use is back under the buffer size. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#size += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, WRITE_BUFFER - this.#buffered);
      // The caller may reuse its buffer: what we hold on to is copied.
      this.#buffer.set(chunk.subarray(at, at + n), this.#buffered);
      this.#buffered += n;
      at += n;
      if (this.#buffered === WRITE_BUFFER) await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const data = this.#buffer.subarray(0, this.#buffered);
    let offset = 0;
    while (offset < data.length) offset += await this.#file.write(data.subarray(offset));
    this.#buffered = 0;
  }

  /** Flushes, fsyncs and moves the file into place; returns its size. */
  async finish(): Promise<number> {
    await this.#flush();
    await this.#file.sync();
    this.#file.close();
    this.#closed = true;
    await Deno.rename(this.#tmpPath, this.#finalPath);
    await syncDirectory(this.#dir);
    return this.#size;
  }

  /** Drops the partial file (message refused or connection lost). */
  async abort(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#file.close();
      } catch { /* already closed */ }
    }
    await Deno.remove(this.#tmpPath).catch(() => {});
  }
}

/** The spool directory. */
export class Spool {
  readonly dir: string;
  /** The shared files of small messages and their reference counts. */
  readonly segments: SegmentStore;

  constructor(dir: string, options: SegmentOptions = {}) {
    this.dir = dir;
    this.segments = new SegmentStore(dir, options);
  }

  /** Creates the directories. */
  async init(): Promise<void> {
    await Deno.mkdir(`${this.dir}/tmp`, { recursive: true });
  }

  /** The file name of a queue id inside the spool directory. */
  fileName(id: string): string {
    return `${id}.eml`;
  }

  /** The path of a stored message. */
  path(id: string): string {
    return `${this.dir}/${this.fileName(id)}`;
  }

  /** Starts writing a message. */
  async create(id: string): Promise<SpoolWriter> {
    const tmp = `${this.dir}/tmp/${id}`;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    return new SpoolWriter(file, { tmp, final: this.path(id), dir: this.dir });
  }

  /**
   * Gives a stored message a second name (a BCC or mirror copy): a hard link,
   * so no bytes are copied and each queue entry removes only its own name.
   */
  async link(fromId: string, toId: string): Promise<void> {
    await Deno.link(this.path(fromId), this.path(toId));
    await syncDirectory(this.dir);
  }

  /** Streams the body of a queue entry, after `prepend` (header lines). */
  async *open(entry: BodyRef, prepend: Uint8Array | null = null): AsyncIterable<Uint8Array> {
    if (prepend !== null && prepend.length > 0) yield prepend;
    if (entry.offset !== undefined) {
      yield* this.segments.read({
        spool: entry.spool,
        offset: entry.offset,
        length: entry.length ?? 0,
      });
      return;
    }
    using file = await Deno.open(`${this.dir}/${entry.spool}`, { read: true });
    const buffer = new Uint8Array(256 * 1024);
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      // The consumer may keep chunks after asking for more (delivery gathers small ones): copies.
      yield buffer.slice(0, n);
    }
  }

  /**
   * Lets go of a queue entry's body once the entry is gone from KV: a file of
   * its own is removed; a range leaves memory and drops one reference to its
   * segment, which is deleted when none is left.
   */
  async release(entry: BodyRef): Promise<void> {
    if (entry.offset !== undefined) {
      this.segments.forget({ spool: entry.spool, offset: entry.offset, length: entry.length ?? 0 });
      await this.segments.unpin(entry.spool, 1);
      return;
    }
    await Deno.remove(`${this.dir}/${entry.spool}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /** Ids of the complete messages on disk. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (entry.isFile && entry.name.endsWith(".eml")) ids.push(entry.name.slice(0, -4));
    }
    return ids;
  }
}
