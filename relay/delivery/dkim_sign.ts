/**
 * DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463),
 * relaxed/relaxed, over a streamed message: one pass reads the header
 * section (kept, it is small), picks the keys for the author domain, and
 * hashes the body as it flows by, so memory stays bounded whatever the size.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, sign } from "node:crypto";
import { RelaxedBody, relaxedHeader } from "./dkim_canon.ts";
import {
  authorDomain,
  type HeaderField,
  selectSignedFields,
  signedHeaderNames,
  splitHeaderFields,
} from "./dkim_headers.ts";

/** Signature algorithms we sign with. */
export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

/** One signing key: the `d=` and `s=` it signs as, and its private key (PKCS#8 PEM). */
export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: string;
}

/** The signature fields to put on top of the message, and what they name. */
export interface DkimSignature {
  /** One `DKIM-Signature:` field per key, each ending in CRLF. */
  header: string;
  /** The author domain (From) the keys were chosen for. */
  author: string;
  /** `d=` of the signatures. */
  domain: string;
  selectors: string[];
}

/** Options of {@linkcode signMessage}. */
export interface SignOptions {
  /** The keys to sign with for an author domain; empty: leave the message unsigned. */
  keysFor: (author: string) => Promise<DkimKey[]>;
  /** Signing time in milliseconds, for `t=`. */
  now: number;
}

/**
 * Largest header section we sign. Above it the message goes out unsigned
 * rather than holding an unbounded header in memory.
 */
export const MAX_HEADER_BYTES = 512 * 1024;

/** Folded lines stay under RFC 5322 §2.1.1's 78 characters. */
const LINE_WIDTH = 76;

/**
 * Reads `content` once and returns the signature fields, or null when the
 * message has no single From author, no key is held for it, or its header
 * section is over {@linkcode MAX_HEADER_BYTES}. Stops reading as soon as it
 * knows it will not sign.
 */
export async function signMessage(
  content: AsyncIterable<Uint8Array>,
  options: SignOptions,
): Promise<DkimSignature | null> {
  const hash = createHash("sha256");
  const body = new RelaxedBody((bytes) => hash.update(bytes));
  const head = new HeaderCollector();
  let plan: Plan | null = null;
  for await (const chunk of content) {
    if (plan !== null) {
      body.push(chunk);
      continue;
    }
    const bodyStart = head.push(chunk);
    if (bodyStart === -1) {
      if (head.length > MAX_HEADER_BYTES) return null;
      continue;
    }
    plan = await planFor(head.text(), options);
    if (plan === null) return null;
    body.push(chunk.subarray(bodyStart));
  }
  if (plan === null) {
    // A message without a body (RFC 5322 §3.5): the whole text is its header.
    const text = head.text(true);
    plan = await planFor(text.endsWith("\r\n") || text === "" ? text : `${text}\r\n`, options);
    if (plan === null) return null;
  }
  body.end();
  const bodyHash = hash.digest("base64");
  const names = signedHeaderNames(plan.fields);
  const signedFields = selectSignedFields(plan.fields, names);
  const header = plan.keys
    .map((key) => signatureField(key, { names, bodyHash, signedFields, now: options.now }))
    .join("");
  return {
    header,
    author: plan.author,
    domain: plan.keys[0].domain,
    selectors: plan.keys.map((k) => k.selector),
  };
}

interface Plan {
  author: string;
  keys: DkimKey[];
  fields: HeaderField[];
}

/**
 * Gathers the header section up to the blank line that ends it, scanning
 * only new octets (a header split into many small chunks stays linear).
 */
class HeaderCollector {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #sectionEnd = -1;
  /** CR LF CR LF matched so far, across chunk boundaries. */
  #matched = 0;

  get length(): number {
    return this.#length;
  }

  /** Takes a chunk; returns where the body starts in it, or -1 while the header goes on. */
  push(chunk: Uint8Array): number {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      const want = this.#matched % 2 === 0 ? 0x0d : 0x0a;
      if (b === want) this.#matched++;
      else this.#matched = b === 0x0d ? 1 : 0;
      // An empty header section: the message starts with CRLF.
      const empty = this.#length + i === 1 && this.#matched === 2;
      if (this.#matched === 4 || empty) {
        this.#chunks.push(chunk.subarray(0, i + 1));
        this.#length += i + 1;
        this.#sectionEnd = empty ? 0 : this.#length - 2;
        return i + 1;
      }
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    return -1;
  }

  /** The header section (binary string, ending in CRLF) or, with `all`, everything pushed. */
  text(all = false): string {
    const bytes = Buffer.concat(this.#chunks);
    const end = all || this.#sectionEnd === -1 ? bytes.length : this.#sectionEnd;
    return bytes.toString("latin1", 0, end);
  }
}

async function planFor(section: string, options: SignOptions): Promise<Plan | null> {
  if (section.length > MAX_HEADER_BYTES) return null;
  const fields = splitHeaderFields(section);
  const author = authorDomain(fields);
  if (author === null) return null;
  const keys = await options.keysFor(author);
  if (keys.length === 0) return null;
  return { author, keys, fields };
}

/** Builds one folded DKIM-Signature field, signed, ending in CRLF. */
function signatureField(
  key: DkimKey,
  input: {
    names: string[];
    bodyHash: string;
    signedFields: { raw: string }[];
    now: number;
  },
): string {
  const tags = [
    "v=1",
    `a=${key.algorithm}`,
    "c=relaxed/relaxed",
    `d=${key.domain}`,
    `s=${key.selector}`,
    `t=${Math.floor(input.now / 1000)}`,
    `h=${input.names.join(":")}`,
    `bh=${input.bodyHash}`,
  ];
  // The field as verifiers rebuild it: everything, with an empty b= last (RFC 6376 §3.7).
  const unsigned = fold("DKIM-Signature:", [...tags.map((tag) => `${tag};`), "b="]);
  const data = input.signedFields.map((f) => `${relaxedHeader(f.raw)}\r\n`).join("") +
    relaxedHeader(unsigned);
  const bytes = Buffer.from(data, "latin1");
  const privateKey = createPrivateKey(key.privateKey);
  // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data, not the data itself.
  const signature = key.algorithm === "ed25519-sha256"
    ? sign(null, createHash("sha256").update(bytes).digest(), privateKey)
    : sign("sha256", bytes, privateKey);
  return unsigned + foldValue(signature.toString("base64"), lastLineLength(unsigned)) + "\r\n";
}

/** Joins `tags` with spaces after `name`, folding before a tag (or inside h=) that would overflow. */
function fold(name: string, tags: string[]): string {
  let out = name;
  let line = name.length;
  tags.forEach((tag) => {
    const pieces = tag.startsWith("h=") ? splitHeaderList(tag) : [tag];
    pieces.forEach((piece, j) => {
      const gap = j === 0 ? " " : "";
      if (line + gap.length + piece.length > LINE_WIDTH && line > 1) {
        out += `\r\n ${piece}`;
        line = 1 + piece.length;
      } else {
        out += gap + piece;
        line += gap.length + piece.length;
      }
    });
  });
  return out;
}

/** Splits "h=a:b:c;" into "h=a", ":b", ":c;" so folds may fall before a colon. */
function splitHeaderList(text: string): string[] {
  const [first, ...rest] = text.split(":");
  return [first, ...rest.map((r) => `:${r}`)];
}

/** Folds a base64 value into lines (whitespace inside b= is allowed, RFC 6376 §3.5). */
function foldValue(value: string, used: number): string {
  let out = "";
  let at = 0;
  let room = Math.max(LINE_WIDTH - used, 0);
  while (at < value.length) {
    if (room <= 8) {
      out += "\r\n ";
      room = LINE_WIDTH - 1;
    }
    out += value.slice(at, at + room);
    at += room;
    room = 0;
  }
  return out;
}

function lastLineLength(text: string): number {
  return text.length - (text.lastIndexOf("\n") + 1);
}
