/**
 * Envelope sender normalization for greylisting: the parts of a sender that
 * change from one delivery attempt (or one message) to the next are removed,
 * so a retry meets the triplet of the first attempt.
 *
 * - BATV (draft-levine-smtp-batv-01 §4): `prvs=TAG=user@domain` signs the
 *   local part with a tag that carries the day; `msprvs1=`, `btv1==` too.
 * - SRS (libsrs2 "Sender Rewriting Scheme"): `SRS0=HH=TT=orig.example=user@fwd`
 *   and `SRS1=HH=fwd1==HH=TT=orig.example=user@fwd2` stand for the original
 *   `user@orig.example`, with a timestamp that moves every day.
 * - Sub-addresses (`user+tag@`) and VERP (`list-bounces+user=host@`,
 *   `bounce-12345-67@`): the tag is dropped and every run of digits (or long
 *   hex token) becomes `#`, as postgrey does.
 *
 * Pure: strings in, strings out. Only for greylisting keys: the envelope
 * itself is never rewritten.
 *
 * @module
 */

// draft-levine-smtp-batv-01 §4.1: "prvs=" tag-val "=" loc-core; Microsoft and
// older btv1 signers use the same shape.
const BATV = /^(?:prvs|msprvs1)=[^=]+=(.+)$|^btv1==[^=]+==(.+)$/;
// libsrs2: SRS0 separator is "=", "+" or "-"; hash, timestamp, domain, local.
const SRS0 = /^srs0[=+-][^=]+=[^=]+=([^=]+)=(.+)$/;
// SRS1: hash, first forwarder, then "=" and the SRS0 tail (hash=tt=domain=local).
const SRS1 = /^srs1[=+-][^=]+=[^=]+==[^=]+=[^=]+=([^=]+)=(.+)$/;
// A VERP or message-id token: a run of digits, or 8+ hex digits holding a digit.
const VARIABLE = /\d+|(?=[0-9a-f]*\d)[0-9a-f]{8,}/g;

/**
 * The stable form of an envelope sender for greylisting, lowercased.
 *
 * @example
 * ```ts
 * normalizeSender("prvs=1234abcd5e=Bob+news@Example.com"); // "bob@example.com"
 * normalizeSender("SRS0=HHH=TT=orig.example=alice@fwd.example"); // "alice@orig.example"
 * ```
 */
export function normalizeSender(address: string): string {
  const at = address.lastIndexOf("@");
  if (at <= 0) return address.toLowerCase();
  let local = address.slice(0, at).toLowerCase();
  let domain = address.slice(at + 1).toLowerCase();
  const batv = BATV.exec(local);
  if (batv !== null) local = batv[1] ?? batv[2];
  const srs = SRS1.exec(local) ?? SRS0.exec(local);
  if (srs !== null) {
    domain = srs[1];
    local = srs[2];
  }
  // RFC 5233 §2 sub-address: everything from the first "+" on.
  const plus = local.indexOf("+");
  if (plus > 0) local = local.slice(0, plus);
  local = local.replace(VARIABLE, "#");
  return `${local}@${domain}`;
}
