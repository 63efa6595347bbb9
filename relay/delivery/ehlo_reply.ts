/**
 * What an EHLO reply advertises (RFC 5321 §4.1.1.1): one keyword per line
 * after the first, with optional parameters.
 *
 * Pure: a parsed reply in, a keyword map out.
 *
 * @module
 */

import type { ParsedReply } from "../smtp/reply_parser.ts";

// RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** Maps each advertised keyword (upper case) to its parameters ("" when none). */
export function parseEhloReply(reply: ParsedReply): Map<string, string> {
  const extensions = new Map<string, string>();
  // The first line greets ("mx.example.net Hello ..."), the others advertise.
  for (const line of reply.lines.slice(1)) {
    const text = line.trim();
    const space = text.search(/\s/);
    const keyword = space === -1 ? text : text.slice(0, space);
    if (!KEYWORD.test(keyword)) continue;
    const params = space === -1 ? "" : text.slice(space + 1).trim();
    const name = keyword.toUpperCase();
    if (!extensions.has(name)) extensions.set(name, params);
  }
  return extensions;
}

/**
 * The SIZE limit in octets (RFC 1870 §4): a number, 0 for "SIZE" with no
 * limit or "SIZE 0", and null when SIZE is not advertised.
 */
export function advertisedSizeLimit(extensions: Map<string, string>): number | null {
  const value = extensions.get("SIZE");
  if (value === undefined) return null;
  return /^\d{1,15}$/.test(value) ? Number(value) : 0;
}
