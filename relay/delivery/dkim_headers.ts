/**
 * The header side of DKIM signing: split a header section into fields, find
 * the author domain of the one RFC5322.From field, and choose the `h=` list
 * (RFC 6376 §5.4).
 *
 * Header text is a binary string (one char per octet), as in dkim_canon.ts.
 *
 * @module
 */

/** One header field: its name as written and the whole field without the final CRLF. */
export interface HeaderField {
  name: string;
  /** `Name: value` including folds (inner CRLFs), without the terminating CRLF. */
  raw: string;
}

/**
 * Headers signed once per occurrence and once more (RFC 6376 §8.15
 * "oversigning"): these may appear at most once (RFC 5322 §3.6), so the
 * extra entry makes a verifier reject a copy with a second one added above.
 */
const OVERSIGNED = [
  "from",
  "to",
  "cc",
  "subject",
  "date",
  "message-id",
  "reply-to",
  "in-reply-to",
  "references",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
] as const;

/**
 * Headers signed as often as they appear, never to cover their absence:
 * lists add and change these on the way (RFC 6376 §5.4.1 lists them as ones
 * to consider); List-Unsubscribe and List-Unsubscribe-Post must be signed
 * for one-click unsubscribe (RFC 8058 §4).
 */
const SIGNED = [
  "sender",
  "content-id",
  "content-description",
  "content-disposition",
  "resent-date",
  "resent-from",
  "resent-sender",
  "resent-to",
  "resent-cc",
  "resent-message-id",
  "list-id",
  "list-help",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "list-subscribe",
  "list-post",
  "list-owner",
  "list-archive",
  "feedback-id",
  "autocrypt",
  "openpgp",
] as const;

/** Splits a header section (binary string, CRLF line ends, no blank line) into fields. */
export function splitHeaderFields(section: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = section.split("\r\n");
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const last = fields.at(-1);
    if ((line.startsWith(" ") || line.startsWith("\t")) && last) {
      last.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(":");
    // A line that is neither a field nor a fold cannot be signed as a field; skip it.
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).replace(/[ \t]+$/, ""), raw: line });
  }
  return fields;
}

/**
 * The lower-cased domain of the single author in the single From field, or
 * null when there is no From, more than one, or not exactly one address.
 */
export function authorDomain(fields: readonly HeaderField[]): string | null {
  const from = fields.filter((f) => f.name.toLowerCase() === "from");
  if (from.length !== 1) return null;
  const value = from[0].raw.slice(from[0].raw.indexOf(":") + 1).replace(/\r\n/g, "");
  // Quoted display names and comments may hold "@" and "<" of their own.
  const bare = value.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\((?:[^()\\]|\\.)*\)/g, " ");
  const angled = [...bare.matchAll(/<([^<>]*)>/g)].map((m) => m[1]);
  let address: string;
  if (angled.length > 1) return null;
  if (angled.length === 1) address = angled[0];
  else {
    address = bare.trim();
    if (address.includes(",") || /\s/.test(address)) return null;
  }
  const at = address.lastIndexOf("@");
  if (at <= 0 || address.indexOf("@") !== at) return null;
  const domain = address.slice(at + 1).trim().toLowerCase().replace(/\.$/, "");
  return isHostName(domain) ? domain : null;
}

/**
 * The `h=` list for `fields`: each known header as often as it appears, the
 * oversigned ones once more, in the order of {@linkcode OVERSIGNED} then
 * {@linkcode SIGNED}. From is always included (RFC 6376 §5.4).
 */
export function signedHeaderNames(fields: readonly HeaderField[]): string[] {
  const count = new Map<string, number>();
  for (const field of fields) {
    const name = field.name.toLowerCase();
    count.set(name, (count.get(name) ?? 0) + 1);
  }
  const names: string[] = [];
  for (const name of OVERSIGNED) {
    const n = count.get(name) ?? 0;
    if (n > 0 || name === "from") names.push(...Array(n + 1).fill(name));
  }
  for (const name of SIGNED) names.push(...Array(count.get(name) ?? 0).fill(name));
  return names;
}

/**
 * Picks the fields a verifier will hash for `names` (RFC 6376 §5.4.2): each
 * repeat of a name takes the next instance from the bottom; a name with no
 * instance left contributes nothing.
 */
export function selectSignedFields(
  fields: readonly HeaderField[],
  names: readonly string[],
): HeaderField[] {
  const used = new Map<string, number>();
  const picked: HeaderField[] = [];
  for (const name of names) {
    const instances = fields.filter((f) => f.name.toLowerCase() === name);
    const taken = used.get(name) ?? 0;
    used.set(name, taken + 1);
    const field = instances[instances.length - 1 - taken];
    if (field) picked.push(field);
  }
  return picked;
}

function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) =>
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label) || /^xn--[a-z0-9-]+$/.test(label)
  ) && name.includes(".");
}
