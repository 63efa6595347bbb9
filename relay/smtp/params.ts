/**
 * ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (RFC 6152),
 * RET/ENVID/NOTIFY/ORCPT (RFC 3461), SMTPUTF8 (RFC 6531), AUTH (RFC 4954).
 *
 * Pure: a parameter map in, typed values or a reply out.
 *
 * @module
 */

import { REPLY, type Reply, withText } from "./reply.ts";

/** The MAIL parameters the relay keeps for delivery and DSNs. */
export interface MailParams {
  size: number | null;
  body: "7BIT" | "8BITMIME" | null;
  ret: "FULL" | "HDRS" | null;
  envid: string | null;
  smtputf8: boolean;
}

/** The RCPT parameters the relay keeps (RFC 3461 §4.1, §4.2). */
export interface RcptParams {
  notify: string[] | null;
  orcpt: string | null;
}

/** Parameters or the reply that refuses them. */
export type ParamsResult<T> = { ok: true; value: T } | { ok: false; reply: Reply };

// RFC 3461 §4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG (upper case).
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;
// RFC 3461 §4.4: ENVID is at most 100 characters.
const ENVID_MAX = 100;

function unsupported(keyword: string): ParamsResult<never> {
  return {
    ok: false,
    reply: withText(
      { code: 555, enhanced: "5.5.4", text: "" },
      `Unsupported option: ${keyword.slice(0, 32)}`,
    ),
  };
}

function bad(keyword: string): ParamsResult<never> {
  return {
    ok: false,
    reply: withText(
      { code: 501, enhanced: "5.5.4", text: "" },
      `Bad ${keyword.slice(0, 32)} parameter syntax`,
    ),
  };
}

/** Parses MAIL FROM parameters; `maxSize` is the advertised SIZE limit. */
export function parseMailParams(
  params: Map<string, string | true>,
  maxSize: number,
): ParamsResult<MailParams> {
  const value: MailParams = {
    size: null,
    body: null,
    ret: null,
    envid: null,
    smtputf8: false,
  };
  for (const [key, raw] of params) {
    switch (key) {
      case "SIZE": {
        if (raw === true || !/^\d{1,20}$/.test(raw)) return bad(key);
        const size = Number(raw);
        // RFC 1870 §6: a declared size over the limit is refused at once.
        if (size > maxSize) return { ok: false, reply: REPLY.messageTooBig };
        value.size = size;
        break;
      }
      case "BODY": {
        const body = raw === true ? "" : raw.toUpperCase();
        if (body !== "7BIT" && body !== "8BITMIME") return unsupported(`BODY=${body}`);
        value.body = body;
        break;
      }
      case "RET": {
        const ret = raw === true ? "" : raw.toUpperCase();
        if (ret !== "FULL" && ret !== "HDRS") return bad(key);
        value.ret = ret;
        break;
      }
      case "ENVID":
        if (raw === true || raw.length > ENVID_MAX || !XTEXT.test(raw)) return bad(key);
        value.envid = raw;
        break;
      case "SMTPUTF8":
        if (raw !== true) return bad(key);
        value.smtputf8 = true;
        break;
      case "AUTH": // RFC 4954 §5: accepted; the relay trusts only its own AUTH.
        if (raw === true || !XTEXT.test(raw)) return bad(key);
        break;
      default:
        return unsupported(key);
    }
  }
  return { ok: true, value };
}

const NOTIFY_VALUES = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"]);

/** Parses RCPT TO parameters. */
export function parseRcptParams(
  params: Map<string, string | true>,
): ParamsResult<RcptParams> {
  const value: RcptParams = { notify: null, orcpt: null };
  for (const [key, raw] of params) {
    switch (key) {
      case "NOTIFY": {
        if (raw === true) return bad(key);
        const list = raw.toUpperCase().split(",");
        // RFC 3461 §4.1: NEVER stands alone; the others may be combined once each.
        if (
          list.some((v) => !NOTIFY_VALUES.has(v)) ||
          new Set(list).size !== list.length ||
          (list.includes("NEVER") && list.length > 1)
        ) return bad(key);
        value.notify = list;
        break;
      }
      case "ORCPT": {
        // RFC 3461 §4.2: addr-type ";" xtext.
        if (raw === true) return bad(key);
        const semi = raw.indexOf(";");
        if (semi < 1 || !XTEXT.test(raw.slice(semi + 1)) || raw.length > 500) {
          return bad(key);
        }
        value.orcpt = raw;
        break;
      }
      default:
        return unsupported(key);
    }
  }
  return { ok: true, value };
}
