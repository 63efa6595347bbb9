/**
 * Segment files (issue #9): the bodies of many small messages appended to one
 * file, so a batch of messages costs one write and one fdatasync instead of a
 * file, an fsync, a rename and a directory fsync each.
 *
 * A queue entry names its segment in `spool` and its body's place in
 * `offset`/`length`. This node counts, in memory, the queue entries that
 * reference each segment; a segment is deleted when its count drops to zero,
 * except the one still being appended to. The counts are rebuilt from KV at
 * start-up; a periodic sweep ({@linkcode SegmentStore.recount}) deletes the
 * closed segments KV no longer references, which catches entries removed by
 * another process (CLI `queue delete`), whose releases this process never sees.
 *
 * @module
 */

import { joinBytes } from "../bytes.ts";

/** A small message's body as it is stored: its parts in order (never joined into one array). */
export type Body = readonly Uint8Array[];

/** Octets in `body`. */
export function bodySize(body: Body): number {
  let size = 0;
  for (const part of body) size += part.length;
  return size;
}

/** Where one body lies inside a segment file. */
export interface BodyRange {
  /** The segment's file name inside the spool directory. */
  spool: string;
  offset: number;
  length: number;
}

/** Options of {@linkcode SegmentStore}. */
export interface SegmentOptions {
  /** Start a new segment once the current one holds this many octets (default 64 MiB). */
  maxSegmentBytes?: number;
  /** Keep up to this many octets of just-written bodies for their first read (default 8 MiB). */
  recentBytes?: number;
}

/** Default rotation size: large enough that rotations (and their directory fsync) are rare. */
export const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;

/**
 * Bodies just made durable are usually read moments later by their delivery
 * (twice for an authenticated message: the DKIM signer reads its header
 * first): serving those reads from memory saves an open, a seek and a read
 * each. A body is kept until its entry lets go of it ({@linkcode SegmentStore.forget})
 * or the bound pushes it out, oldest first; a body not in memory is read from disk.
 */
export const RECENT_BYTES = 8 * 1024 * 1024;

const SEGMENT_NAME = /^seg-[0-9a-z]+\.seg$/;
// Positional reads of a range; small bodies come back in one read.
const READ_CHUNK = 256 * 1024;
/**
 * An append copies parts smaller than this together and writes each larger
 * part as it is: for small mail one write per batch, and no second copy of a
 * large body (issue #9: joining 100 KB bodies was a third of their garbage).
 */
const JOIN_BELOW = 16 * 1024;

interface OpenSegment {
  name: string;
  size: number;
}

/** The segment files of one spool directory and their reference counts. */
export class SegmentStore {
  readonly dir: string;
  #maxBytes: number;
  #current: OpenSegment | null = null;
  #refs = new Map<string, number>();
  /** Segments no longer appended to: the only ones a count of zero may delete. */
  #closed = new Set<string>();
  /** Segments created by this process (named before the file exists). */
  #mine = new Set<string>();
  #recounting: Promise<string[]> | null = null;
  /** Durable bodies whose entries still need them, by range, oldest first; `#recentSize` octets in all. */
  #recent = new Map<string, { body: Body; size: number }>();
  #recentSize = 0;
  #recentMax: number;
  /** The segment appends go to, open between batches (see {@linkcode closeFile}). */
  #appending: { name: string; file: Deno.FsFile } | null = null;

  constructor(dir: string, options: SegmentOptions = {}) {
    this.dir = dir;
    this.#maxBytes = options.maxSegmentBytes ?? MAX_SEGMENT_BYTES;
    this.#recentMax = options.recentBytes ?? RECENT_BYTES;
  }

  /** Tell whether a spool file name is a segment. */
  static isSegment(name: string): boolean {
    return SEGMENT_NAME.test(name);
  }

  /** The segment being appended to, or null before the first append. */
  get current(): string | null {
    return this.#current?.name ?? null;
  }

  /** Queue entries known to reference `name` (0 when none). */
  references(name: string): number {
    return this.#refs.get(name) ?? 0;
  }

  /**
   * Appends `bodies` to the current segment with ONE fdatasync (and one write
   * when they are small) and returns their ranges; only after it resolves may
   * entries point there. Callers must not overlap calls (the group committer
   * runs one batch at a time) and must not change the parts afterwards: reads
   * of a body may be served from them.
   */
  async append(bodies: readonly Body[]): Promise<BodyRange[]> {
    const sizes = bodies.map(bodySize);
    const total = sizes.reduce((sum, n) => sum + n, 0);
    if (
      this.#current !== null && this.#current.size > 0 &&
      this.#current.size + total > this.#maxBytes
    ) {
      await this.#rotate();
    }
    const segment = this.#current ?? await this.#create();
    const ranges: BodyRange[] = [];
    let at = 0;
    for (const size of sizes) {
      ranges.push({ spool: segment.name, offset: segment.size + at, length: size });
      at += size;
    }
    try {
      const file = await this.#appendFile(segment);
      for (const data of writeUnits(bodies)) {
        let written = 0;
        while (written < data.length) written += await file.write(data.subarray(written));
      }
      // fdatasync also writes the new file size, which reading the appended bytes needs.
      await file.syncData();
    } catch (err) {
      // After a failed write or fsync the file's state is unknown: never append there again.
      this.closeFile();
      await this.#rotate();
      throw err;
    }
    segment.size += total;
    bodies.forEach((body, i) => this.#remember(ranges[i], body, sizes[i]));
    return ranges;
  }

  /**
   * The current segment open for writing at its end, kept open from batch to
   * batch (issue #9: an open, a seek and a close per batch were ~2% of the CPU
   * under load and ~0.4 ms of an idle relay's reply to the final dot).
   */
  async #appendFile(segment: OpenSegment): Promise<Deno.FsFile> {
    if (this.#appending?.name === segment.name) return this.#appending.file;
    this.closeFile();
    const file = await Deno.open(`${this.dir}/${segment.name}`, { write: true });
    try {
      await file.seek(segment.size, Deno.SeekMode.Start);
    } catch (err) {
      file.close();
      throw err;
    }
    this.#appending = { name: segment.name, file };
    return file;
  }

  /**
   * Closes the descriptor appends keep open (a later append opens it again):
   * at shutdown, and by `using` in tests. Rotation and a failed write close it too.
   */
  closeFile(): void {
    const appending = this.#appending;
    this.#appending = null;
    appending?.file.close();
  }

  /** Same as {@linkcode closeFile}, for `using`. */
  [Symbol.dispose](): void {
    this.closeFile();
  }

  #remember(range: BodyRange, body: Body, size: number): void {
    if (size > this.#recentMax) return;
    this.#recent.set(rangeKey(range), { body, size });
    this.#recentSize += size;
    for (const [key, old] of this.#recent) {
      if (this.#recentSize <= this.#recentMax) break;
      this.#recent.delete(key);
      this.#recentSize -= old.size;
    }
  }

  /** Drops a body from memory: its queue entry is gone (a copy sharing it reads from disk). */
  forget(range: BodyRange): void {
    const key = rangeKey(range);
    const recent = this.#recent.get(key);
    if (recent === undefined) return;
    this.#recent.delete(key);
    this.#recentSize -= recent.size;
  }

  /** Counts `n` more queue entries referencing `name` (before their commit, so no reader races it). */
  pin(name: string, n: number): void {
    this.#refs.set(name, this.references(name) + n);
  }

  /** Drops `n` references to `name`; a closed segment left with none is deleted. */
  async unpin(name: string, n: number): Promise<void> {
    const left = this.references(name) - n;
    if (left > 0) {
      this.#refs.set(name, left);
      return;
    }
    this.#refs.delete(name);
    if (this.#closed.has(name)) await this.#delete(name);
  }

  /** Streams one body's octets (from memory while it is kept there, see {@linkcode RECENT_BYTES}). */
  async *read(range: BodyRange): AsyncIterable<Uint8Array> {
    const recent = this.#recent.get(rangeKey(range));
    if (recent !== undefined && recent.size === range.length) {
      yield* recent.body;
      return;
    }
    using file = await Deno.open(`${this.dir}/${range.spool}`, { read: true });
    await file.seek(range.offset, Deno.SeekMode.Start);
    let left = range.length;
    while (left > 0) {
      const buffer = new Uint8Array(Math.min(left, READ_CHUNK));
      let filled = 0;
      while (filled < buffer.length) {
        const n = await file.read(buffer.subarray(filled));
        if (n === null) {
          throw new RangeError(
            `Cannot read body at ${range.offset} in "${range.spool}": the segment is too short`,
          );
        }
        filled += n;
      }
      left -= filled;
      yield buffer;
    }
  }

  /**
   * Deletes the closed segments no queue entry references any more, as
   * `count` (this node's references in KV, read after this call begins) says,
   * and gives segments left on disk by an earlier run their counts. Only
   * closed segments are touched: they get no new entries, so one that KV does
   * not reference while it is listed never will be again. Returns the names deleted.
   */
  recount(count: () => Promise<Map<string, number>>): Promise<string[]> {
    // A slow recount (a long queue) is joined, never run twice at once.
    this.#recounting ??= this.#recount(count).finally(() => this.#recounting = null);
    return this.#recounting;
  }

  async #recount(count: () => Promise<Map<string, number>>): Promise<string[]> {
    for await (const item of Deno.readDir(this.dir)) {
      // Segments this process did not create are leftovers of an earlier run: closed.
      if (item.isFile && SegmentStore.isSegment(item.name) && !this.#mine.has(item.name)) {
        this.#closed.add(item.name);
      }
    }
    const closed = [...this.#closed];
    const counts = await count();
    const deleted: string[] = [];
    for (const name of closed) {
      const n = counts.get(name) ?? 0;
      if (n > 0) {
        // A count kept here is never lowered from KV: a release racing the
        // listing could then count twice and free a segment still in use. Too
        // high (entries deleted by the CLI) only delays deletion to a later sweep.
        if (!this.#refs.has(name)) this.#refs.set(name, n);
        continue;
      }
      this.#refs.delete(name);
      await this.#delete(name);
      deleted.push(name);
    }
    return deleted;
  }

  async #create(): Promise<OpenSegment> {
    const name = newSegmentName();
    this.#mine.add(name);
    const path = `${this.dir}/${name}`;
    try {
      const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      file.close();
      // Once per segment: make its directory entry durable before any entry points into it.
      await syncDirectory(this.dir);
    } catch (err) {
      this.#mine.delete(name);
      await Deno.remove(path).catch(() => {});
      throw err;
    }
    this.#current = { name, size: 0 };
    return this.#current;
  }

  async #rotate(): Promise<void> {
    this.closeFile();
    const old = this.#current;
    if (old === null) return;
    this.#current = null;
    this.#closed.add(old.name);
    if (this.references(old.name) === 0) await this.#delete(old.name);
  }

  async #delete(name: string): Promise<void> {
    this.#closed.delete(name);
    this.#mine.delete(name);
    await Deno.remove(`${this.dir}/${name}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/** What one append writes, in order: runs of small parts joined, large parts as they are. */
function writeUnits(bodies: readonly Body[]): Uint8Array[] {
  const units: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runSize = 0;
  const endRun = () => {
    if (run.length === 1) units.push(run[0]);
    if (run.length > 1) units.push(joinBytes(run, runSize));
    run = [];
    runSize = 0;
  };
  for (const body of bodies) {
    for (const part of body) {
      if (part.length >= JOIN_BELOW) {
        endRun();
        units.push(part);
      } else if (part.length > 0) {
        run.push(part);
        runSize += part.length;
      }
    }
  }
  endRun();
  return units;
}

/** A new segment name that sorts by creation time. */
function newSegmentName(): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => (b % 36).toString(36))
    .join("");
  return `seg-${time}${random}.seg`;
}

/** Makes a new directory entry durable: fsync the directory that holds it. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function rangeKey(range: BodyRange): string {
  return `${range.spool}:${range.offset}`;
}
