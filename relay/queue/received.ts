/**
 * The trace header the relay prepends to every accepted message
 * (RFC 5321 §4.4, protocol names from RFC 3848).
 *
 * @module
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An RFC 5322 §3.3 date-time in UTC, e.g. `Mon, 23 Nov 2026 11:09:14 +0000`. */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** What the Received header says about one transaction. */
export interface ReceivedFacts {
  helo: string;
  clientIp: string;
  hostname: string;
  esmtp: boolean;
  tls: boolean;
  authenticated: boolean;
  smtputf8: boolean;
  id: string;
  recipients: string[];
  time: number;
}

/** The `with` protocol keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP... (RFC 3848, RFC 6531 §3.7.3). */
export function protocolName(
  facts: Pick<ReceivedFacts, "esmtp" | "tls" | "authenticated" | "smtputf8">,
): string {
  if (!facts.esmtp) return "SMTP";
  const base = facts.smtputf8 ? "UTF8SMTP" : "ESMTP";
  return base + (facts.tls ? "S" : "") + (facts.authenticated ? "A" : "");
}

/** Builds the Received header, folded, ending in CRLF. */
export function receivedHeader(facts: ReceivedFacts): string {
  const helo = facts.helo.replace(/[^\x21-\x7e]/g, "?").slice(0, 255);
  const ip = facts.clientIp.includes(":") ? `IPv6:${facts.clientIp}` : facts.clientIp;
  // A "for" clause only for a single recipient: more would disclose the Bcc list.
  const forClause = facts.recipients.length === 1 ? `\r\n\tfor <${facts.recipients[0]}>` : "";
  return `Received: from ${helo} ([${ip}])\r\n` +
    `\tby ${facts.hostname} (relay) with ${protocolName(facts)} id ${facts.id}` +
    `${forClause}; ${rfc5322Date(facts.time)}\r\n`;
}
