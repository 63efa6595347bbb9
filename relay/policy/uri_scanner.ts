/**
 * The streaming URI scanner of a message: fed the decoded DATA bytes chunk by
 * chunk, it walks the MIME structure, decodes the text/plain and text/html
 * parts (and a non-MIME body), and collects the registrable domains and
 * public IPv4 literals of the URIs in them, deduplicated and capped. Memory
 * stays bounded whatever the message size: one line, one text segment and
 * the capped sets.
 *
 * @module
 */

import { type MimeEntity, MimeStream } from "./mime_stream.ts";
import { findUriHosts, uriTarget } from "./uri_text.ts";

/** Limits of {@linkcode createUriScanner}. */
export interface UriScannerOptions {
  /** Distinct domains and IPs kept (the rest is ignored and `capped` set). */
  maxUris: number;
  /** Decoded bytes scanned per text part. */
  maxPartBytes: number;
  /** False: only the top-level header section is read (no URI work at all). */
  uris?: boolean;
}

/** What a scan found. */
export interface UriScanResult {
  /** Registrable domains, in order of first appearance. */
  domains: string[];
  /** Public IPv4 literals, in order of first appearance. */
  ips: string[];
  /** More distinct domains and IPs were present than `maxUris`. */
  capped: boolean;
  /** The message's own header section (capped), for checks such as backscatter. */
  header: string;
}

/** A scanner for one message. */
export interface UriScanner {
  /** Feeds decoded message bytes (dot-unstuffed, CRLF) in order. */
  push(chunk: Uint8Array): void;
  /** Ends the message and returns what was found. */
  finish(): UriScanResult;
}

/** Text is scanned line by line; a longer line is cut into segments of this many characters. */
const SEGMENT = 16 * 1024;
/** Distinct host names remembered to skip re-parsing them. */
const MAX_SEEN_HOSTS = 10_000;
const TEXT_TYPES = new Set(["text/plain", "text/html"]);

/** Creates a scanner for one message. */
export function createUriScanner(options: UriScannerOptions): UriScanner {
  const wantUris = options.uris ?? true;
  const domains = new Set<string>();
  const ips = new Set<string>();
  const seen = new Set<string>();
  const parsed = new Map<string, string | null>();
  let capped = false;
  let header: string | null = null;
  let html = false;
  let buffer = "";
  let done = false;

  function addHost(host: string): void {
    if (capped || seen.has(host)) return;
    if (seen.size >= MAX_SEEN_HOSTS) seen.clear();
    seen.add(host);
    const target = uriTarget(host);
    if (target === null) return;
    const set = target.kind === "domain" ? domains : ips;
    const value = target.kind === "domain" ? target.domain : target.ip;
    if (set.has(value)) return;
    if (domains.size + ips.size >= options.maxUris) {
      capped = true;
      return;
    }
    set.add(value);
  }

  // Cuts are made only from the first SEGMENT characters, so where text is
  // cut depends on the text alone, never on how it arrived in chunks.
  function drain(final: boolean): void {
    if (parsed.size >= MAX_SEEN_HOSTS) parsed.clear();
    let pos = 0;
    while (!capped) {
      const nl = buffer.indexOf("\n", pos);
      if (nl !== -1 && nl - pos < SEGMENT) {
        findUriHosts(buffer.slice(pos, nl), html, addHost, parsed);
        pos = nl + 1;
      } else if (buffer.length - pos >= SEGMENT) {
        const cut = cutPoint(buffer, pos);
        findUriHosts(buffer.slice(pos, cut), html, addHost, parsed);
        pos = cut;
      } else break;
    }
    buffer = capped ? "" : buffer.slice(pos);
    if (final) {
      if (buffer !== "") findUriHosts(buffer, html, addHost, parsed);
      buffer = "";
    }
  }

  const stream = new MimeStream({
    entity(entity: MimeEntity) {
      header ??= entity.header;
      html = entity.type === "text/html";
      return wantUris && !capped && TEXT_TYPES.has(entity.type) ? "text" : "skip";
    },
    text(piece: string) {
      if (capped || !wantUris) return;
      buffer += piece;
      drain(false);
    },
    endText() {
      drain(true);
    },
  }, { maxPartBytes: options.maxPartBytes });

  return {
    push(chunk) {
      if (done) throw new TypeError("Cannot push to URI scanner: the scan is finished");
      // Without URI work, nothing past the message's own header matters.
      if (!wantUris && header !== null) return;
      stream.push(chunk);
    },
    finish() {
      if (!done) {
        done = true;
        stream.end();
      }
      return { domains: [...domains], ips: [...ips], capped, header: header ?? "" };
    },
  };
}

/** Just after the last whitespace, quote or angle bracket in the segment starting at `pos`. */
function cutPoint(text: string, pos: number): number {
  for (let i = pos + SEGMENT - 1; i > pos; i--) {
    const c = text.charCodeAt(i);
    // space, tab, CR, LF, ", ', <, >
    if (
      c === 32 || c === 9 || c === 13 || c === 10 || c === 34 || c === 39 || c === 60 || c === 62
    ) {
      return i + 1;
    }
  }
  return pos + SEGMENT;
}
