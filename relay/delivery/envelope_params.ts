/**
 * Which MAIL and RCPT parameters to send to one server, and the checks that
 * fail a message before MAIL: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8
 * (RFC 6531), DSN (RFC 3461).
 *
 * Pure: the server's EHLO keywords and an envelope in, parameters or a
 * synthetic refusal out.
 *
 * @module
 */

import type { ParsedReply } from "../smtp/reply_parser.ts";
import { advertisedSizeLimit } from "./ehlo_reply.ts";

/** One recipient and the RCPT parameters the caller would like to send (e.g. NOTIFY, ORCPT). */
export interface EnvelopeRecipient {
  address: string;
  params: string[];
}

/** What to send: the reverse-path, the recipients, the MAIL parameters and the message size. */
export interface TransactionEnvelope {
  /** Reverse-path without angle brackets; "" for the null sender. */
  from: string;
  recipients: EnvelopeRecipient[];
  /**
   * Wanted MAIL parameters, e.g. "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS",
   * "ENVID=x". Each is sent only when the server advertises its extension;
   * SIZE is computed from `size`, never taken from here.
   */
  mailParams: string[];
  /** Octets of the CRLF-normalised message; enables the SIZE check and SIZE=n. */
  size?: number;
}

/** Parameters to send, or the reply that fails the message before MAIL. */
export type EnvelopeParams =
  | { ok: true; mail: string[]; rcpt: string[][] }
  | { ok: false; reply: ParsedReply };

// The EHLO keyword that must be advertised before a parameter may be sent
// (RFC 5321 §4.1.1.11); a parameter missing here needs its own name (AUTH).
const PARAM_EXTENSION: Record<string, string> = {
  SIZE: "SIZE", // RFC 1870 §5
  BODY: "8BITMIME", // RFC 6152 §2
  SMTPUTF8: "SMTPUTF8", // RFC 6531 §3.4
  RET: "DSN", // RFC 3461 §4.3
  ENVID: "DSN", // RFC 3461 §4.4
  NOTIFY: "DSN", // RFC 3461 §4.1
  ORCPT: "DSN", // RFC 3461 §4.2
};

// Only these BODY values can travel over DATA; BINARYMIME needs BDAT (RFC 3030 §3).
const DATA_BODY_VALUES = new Set(["7BIT", "8BITMIME"]);

function keywordOf(param: string): string {
  const equals = param.indexOf("=");
  return (equals === -1 ? param : param.slice(0, equals)).toUpperCase();
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function advertised(param: string, extensions: Map<string, string>): boolean {
  const keyword = keywordOf(param);
  if (keyword === "BODY" && !DATA_BODY_VALUES.has(param.slice(5).toUpperCase())) return false;
  return extensions.has(PARAM_EXTENSION[keyword] ?? keyword);
}

/**
 * Chooses the parameters for this server. Fails with 552 5.3.4 when the
 * message exceeds the advertised SIZE (RFC 1870 §6), and with 553 5.6.7 when
 * the message needs SMTPUTF8 (asked for, or a non-ASCII address) and the
 * server lacks it (RFC 6531 §3.4). BODY=8BITMIME is dropped, not fatal, when
 * 8BITMIME is missing: the message goes as is, like Postfix without MIME
 * conversion.
 */
export function planEnvelopeParams(
  extensions: Map<string, string>,
  envelope: TransactionEnvelope,
): EnvelopeParams {
  const limit = advertisedSizeLimit(extensions);
  const size = envelope.size;
  if (size !== undefined && limit !== null && limit > 0 && size > limit) {
    return {
      ok: false,
      reply: {
        code: 552,
        enhanced: "5.3.4",
        lines: [`Message size ${size} exceeds the server's limit of ${limit} octets (SIZE)`],
      },
    };
  }
  const wantsUtf8 = envelope.mailParams.some((param) => keywordOf(param) === "SMTPUTF8") ||
    !isAscii(envelope.from) || envelope.recipients.some(({ address }) => !isAscii(address));
  if (wantsUtf8 && !extensions.has("SMTPUTF8")) {
    return {
      ok: false,
      reply: {
        code: 553,
        enhanced: "5.6.7",
        lines: ["Message needs SMTPUTF8 and the server does not offer it"],
      },
    };
  }
  const mail = envelope.mailParams.filter((param) => {
    const keyword = keywordOf(param);
    return keyword !== "SIZE" && keyword !== "SMTPUTF8" && advertised(param, extensions);
  });
  if (size !== undefined && limit !== null) mail.unshift(`SIZE=${size}`);
  if (wantsUtf8) mail.push("SMTPUTF8");
  const rcpt = envelope.recipients.map(({ params }) =>
    params.filter((param) => advertised(param, extensions))
  );
  return { ok: true, mail, rcpt };
}
