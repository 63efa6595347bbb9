/**
 * MTA-STS (RFC 8461) as pure functions: the `_mta-sts` TXT record, the
 * policy file, and whether an MX host name matches the policy.
 *
 * @module
 */

/** A parsed policy file (RFC 8461 §3.2). */
export interface MtaStsPolicy {
  mode: "enforce" | "testing" | "none";
  /** MX patterns, lower-cased: "mx.example.com" or "*.example.com". */
  mx: string[];
  /** Seconds the policy may be cached. */
  maxAge: number;
}

/** What the `_mta-sts.<domain>` TXT records say. */
export type StsRecord =
  | { kind: "ok"; id: string }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;

/** RFC 8461 §3.3: senders may refuse policy bodies over 64 KiB. */
export const MAX_POLICY_BYTES = 64 * 1024;

// RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT).
const STS_ID = /^[A-Za-z0-9]{1,32}$/;
// RFC 8461 §3.2: mx-pattern = ["*."] Domain, Domain as in RFC 5321 §4.1.2.
const MX_PATTERN =
  /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * Reads the TXT records of `_mta-sts.<domain>` (RFC 8461 §3.1): records
 * not starting with "v=STSv1;" are discarded; anything but exactly one left
 * means no usable record ("none" when there were none, else "invalid").
 */
export function parseStsRecord(records: readonly string[]): StsRecord {
  const sts = records.filter((r) => /^v=STSv1[ \t]*;/.test(r));
  if (sts.length === 0) return { kind: "none" };
  if (sts.length > 1) return { kind: "invalid", reason: "more than one v=STSv1 record" };
  let id: string | null = null;
  for (const field of sts[0].split(";").slice(1)) {
    const text = field.trim();
    if (text === "") continue;
    const eq = text.indexOf("=");
    if (eq <= 0) return { kind: "invalid", reason: `field "${text}" has no value` };
    const name = text.slice(0, eq);
    const value = text.slice(eq + 1);
    // The first id wins; extension fields are ignored (RFC 8461 §3.1).
    if (name === "id" && id === null) {
      if (!STS_ID.test(value)) {
        return { kind: "invalid", reason: `id "${value}" is not 1-32 letters or digits` };
      }
      id = value;
    }
  }
  return id === null ? { kind: "invalid", reason: "no id field" } : { kind: "ok", id };
}

/**
 * Parses a policy file (RFC 8461 §3.2): `key: value` lines (CRLF or LF),
 * version STSv1, mode, max_age, and one `mx` per pattern (required unless
 * the mode is "none"). The first of a repeated key wins; unknown keys are
 * ignored. Throws SyntaxError naming what is wrong.
 */
export function parseStsPolicy(text: string): MtaStsPolicy {
  const fields = new Map<string, string>();
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "mx") {
      const pattern = value.toLowerCase().replace(/\.$/, "");
      if (!MX_PATTERN.test(pattern)) {
        throw new SyntaxError(`Cannot parse MTA-STS policy: mx "${value}" is not a host pattern`);
      }
      if (!mx.includes(pattern)) mx.push(pattern);
    } else if (!fields.has(key)) fields.set(key, value);
  }
  const version = fields.get("version");
  if (version !== "STSv1") {
    throw new SyntaxError(
      `Cannot parse MTA-STS policy: version must be "STSv1", got ${
        JSON.stringify(version ?? null)
      }`,
    );
  }
  const mode = fields.get("mode");
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") {
    throw new SyntaxError(
      `Cannot parse MTA-STS policy: mode must be enforce, testing or none, got ${
        JSON.stringify(mode ?? null)
      }`,
    );
  }
  const maxAgeText = fields.get("max_age") ?? "";
  const maxAge = Number(maxAgeText);
  if (!/^[0-9]{1,10}$/.test(maxAgeText) || maxAge > MAX_AGE_LIMIT) {
    throw new SyntaxError(
      `Cannot parse MTA-STS policy: max_age must be 0 to ${MAX_AGE_LIMIT} seconds, got "${maxAgeText}"`,
    );
  }
  if (mode !== "none" && mx.length === 0) {
    throw new SyntaxError(`Cannot parse MTA-STS policy: mode "${mode}" needs at least one mx`);
  }
  return { mode, mx, maxAge };
}

/**
 * Whether an MX host matches one of the patterns (RFC 8461 §4.1): equal, or
 * "*.example.com" for exactly one more label on the left, case-insensitive.
 */
export function mxMatchesPolicy(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((pattern) => {
    if (!pattern.startsWith("*.")) return name === pattern;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}
