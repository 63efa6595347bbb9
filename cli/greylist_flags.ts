/**
 * The per-domain greylisting and recipient flags of `domain add` and
 * `domain set`, turned into the kv patch fields `greylistOptions` and
 * `recipients` (still unvalidated: kv/ checks them). Pure: no KV, no I/O.
 */

import { parseDuration } from "../relay/duration.ts";

/** The options these flags add to node:util's parseArgs spec. */
export const GREYLIST_FLAG_SPEC = {
  "greylist-delay": { type: "string" },
  "greylist-retry-window": { type: "string" },
  "greylist-pass-lifetime": { type: "string" },
  "greylist-max-retries": { type: "string" },
  "greylist-auto-whitelist": { type: "string" },
  "greylist-subnet": { type: "string" },
  "greylist-normalize-sender": { type: "string" },
  "greylist-header": { type: "string" },
  "greylist-privacy": { type: "string" },
  "greylist-allow-client": { type: "string", multiple: true },
  "greylist-allow-recipient": { type: "string", multiple: true },
  "greylist-defaults": { type: "boolean" },
  "recipient": { type: "string", multiple: true },
} as const;

/** Each flag's GreylistOptions field and the kind of value it takes. */
const FIELDS = {
  "greylist-delay": ["delayMs", "duration"],
  "greylist-retry-window": ["retryWindowMs", "duration"],
  "greylist-pass-lifetime": ["passLifetimeMs", "duration"],
  "greylist-max-retries": ["maxRetries", "count"],
  "greylist-auto-whitelist": ["autoWhitelist", "count"],
  "greylist-subnet": ["subnet", "bool"],
  "greylist-normalize-sender": ["normalizeSender", "bool"],
  "greylist-header": ["header", "bool"],
  "greylist-privacy": ["privacy", "bool"],
  "greylist-allow-client": ["allowClients", "list"],
  "greylist-allow-recipient": ["allowRecipients", "list"],
} as const;

/** What the flags ask to change. */
export interface GreylistFlagValues {
  greylistOptions?: Record<string, unknown> | null;
  recipients?: string[];
}

function convert(flag: string, kind: string, raw: string): unknown {
  // "default" drops the domain's override, so the config's value applies again.
  if (raw === "default") return null;
  switch (kind) {
    case "duration":
      try {
        return parseDuration(raw);
      } catch {
        throw new SyntaxError(`--${flag} must be a duration like "5m" or "default", got "${raw}"`);
      }
    case "count":
      if (!/^[0-9]{1,7}$/.test(raw)) {
        throw new SyntaxError(`--${flag} must be a whole number or "default", got "${raw}"`);
      }
      return Number(raw);
    default:
      if (raw !== "true" && raw !== "false") {
        throw new SyntaxError(`--${flag} must be true, false or "default", got "${raw}"`);
      }
      return raw === "true";
  }
}

/** A repeatable flag's values; a single "" clears the list. */
function listOf(values: string[]): string[] {
  return values.length === 1 && values[0] === "" ? [] : values;
}

/**
 * Reads the flags out of parseArgs values; throws SyntaxError with a one-line
 * reason (the caller adds the action) when a value is malformed.
 */
export function greylistFlagValues(
  values: Record<string, string | boolean | string[] | undefined>,
): GreylistFlagValues {
  const out: GreylistFlagValues = {};
  const options: Record<string, unknown> = {};
  for (const [flag, [field, kind]] of Object.entries(FIELDS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    options[field] = kind === "list" ? listOf(raw as string[]) : convert(flag, kind, raw as string);
  }
  if (values["greylist-defaults"] === true) {
    if (Object.keys(options).length > 0) {
      throw new SyntaxError("give --greylist-defaults alone, without other --greylist-* options");
    }
    out.greylistOptions = null;
  } else if (Object.keys(options).length > 0) {
    out.greylistOptions = options;
  }
  if (values.recipient !== undefined) out.recipients = listOf(values.recipient as string[]);
  return out;
}
