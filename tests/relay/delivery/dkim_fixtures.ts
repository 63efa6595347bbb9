/**
 * DKIM test fixtures: an independent verifier (mailauth's, not ours) that
 * reads the public keys from a real DNS server on loopback through the
 * relay's resolver, and the sample messages the tests sign.
 *
 * @module
 */

import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { dkimTxtValue, splitTxtValue } from "../../../relay/delivery/dkim_keygen.ts";
import type { ZoneRecord } from "../../helpers/dns_server.ts";

/** One signature's verdict as mailauth reports it. */
export interface VerifyResult {
  result: string;
  domain: string;
  selector: string;
  algorithm: string;
  comment: string;
}

/** Verifies every DKIM-Signature of `message` with public keys from the DNS server at `nameserver`. */
export async function verifyWithMailauth(
  message: Uint8Array | string,
  nameserver: string,
  now: number = Date.now(),
): Promise<VerifyResult[]> {
  const dns = createResolver({ nameservers: [nameserver], timeoutMs: 1000, cache: false });
  const resolver = async (name: string, type: string) => {
    if (type !== "TXT") throw Object.assign(new Error("not served"), { code: "ENOTFOUND" });
    const answer = await dns.resolveTxt(name);
    if (answer.kind === "ok") return answer.records.map((r) => [r]);
    const code = answer.kind === "error" ? "ESERVFAIL" : "ENOTFOUND";
    throw Object.assign(new Error(`TXT ${name}: ${answer.kind}`), { code });
  };
  const input = typeof message === "string" ? new TextEncoder().encode(message) : message;
  // deno-lint-ignore no-explicit-any
  const out: any = await dkimVerify(input as any, { resolver, curTime: new Date(now) } as any);
  // deno-lint-ignore no-explicit-any
  return out.results.map((r: any) => ({
    result: r.status?.result,
    domain: r.signingDomain,
    selector: r.selector,
    algorithm: r.algo,
    comment: r.status?.comment ?? "",
  }));
}

/** The zone record that publishes a key, split into 255-octet strings as an operator would. */
export function dkimZoneRecord(
  domain: string,
  key: { selector: string; algorithm: "rsa-sha256" | "ed25519-sha256"; publicKey: string },
): ZoneRecord {
  return {
    name: `${key.selector}._domainkey.${domain}`,
    type: "TXT",
    data: splitTxtValue(dkimTxtValue(key)),
  };
}

/** Sample messages (CRLF) covering the canonicalization corners. */
export const SAMPLES: Record<string, string> = {
  plain: [
    "From: Alice <alice@example.com>",
    "To: bob@example.net",
    "Subject: Hello",
    "Date: Tue, 07 Jul 2026 10:00:00 +0000",
    "Message-ID: <plain@example.com>",
    "",
    "Hi Bob,",
    "just text.",
    "",
  ].join("\r\n"),
  eightBit: [
    "From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.com>",
    "To: bob@example.net",
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Grüße aus Köln — ½ € ✓",
    "Tabs\tand  spaces   inside,  and at the end   ",
    "",
  ].join("\r\n"),
  longHeaders: [
    'From: "Very, long; display name (with parens)" <sender@example.com>',
    "To: first@example.net, second@example.net, third@example.net,",
    "\tfourth@example.net,   fifth@example.net",
    "Subject: A subject that goes on and on and on so that it has to be folded",
    "  over\tseveral  lines   with odd    whitespace  ",
    "References: <a@example.com> <b@example.com> <c@example.com>",
    " <d@example.com> <e@example.com>",
    "X-Not-Signed: whatever",
    "List-Unsubscribe: <mailto:unsubscribe@example.com>",
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    "",
    "Body.",
    "",
  ].join("\r\n"),
  dotStuffed: [
    "From: dots@example.com",
    "To: bob@example.net",
    "Subject: dots",
    "",
    ".leading dot",
    "..two dots",
    ".",
    "middle",
    ". ",
    "",
  ].join("\r\n"),
  trailingEmpty: [
    "From: trail@example.com",
    "To: bob@example.net",
    "Subject: trailing",
    "",
    "line one  ",
    "",
    "line three",
    "",
    "   ",
    "",
    "",
    "",
  ].join("\r\n"),
};
