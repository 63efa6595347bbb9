/**
 * Validation of hosted-domain fields, shared by the CLI and the admin API
 * through kv/domains.ts. Every failure names the field.
 */

import { fieldError } from "./errors.ts";
import {
  checkGreylistOptions,
  type GreylistOptions,
  type GreylistOptionsPatch,
  type GreylistTiming,
  mergeGreylistOptions,
  validateGreylistOptions,
} from "./greylist_settings.ts";
import {
  addressDomain,
  addressProblem,
  domainNameProblem,
  hostPortProblem,
  normalizeAddress,
} from "./validate.ts";

/** Fields of a hosted domain that can change after it is added. */
export interface DomainPatch {
  /** `host:port` that inbound mail for the domain is forwarded to; null or "" clears. */
  destination?: string | null;
  /** Greylist inbound mail for this domain. */
  greylist?: boolean;
  /** Address that receives reports about the domain; null or "" clears. */
  postmaster?: string | null;
  /** Greylisting overrides to merge in (a null field drops that override; null drops them all). */
  greylistOptions?: GreylistOptionsPatch | null;
  /** Valid recipients (addresses of the domain); an empty list accepts every address again. */
  recipients?: string[];
}

/** Settings a domain record carries only when set (kv/domains.ts). */
export interface DomainExtras {
  /** Greylisting settings that differ from the config's `[greylist]`. */
  greylistOptions?: GreylistOptions;
  /** Valid recipients, lowercased; absent: every address of the domain is accepted. */
  recipients?: string[];
}

/**
 * Merge the greylisting and recipient changes of `patch` into a domain record;
 * the merged greylisting timing is checked over `greylistDefaults` when given.
 */
export function applyDomainExtras<T extends DomainExtras & { name: string }>(
  record: T,
  patch: DomainPatch,
  greylistDefaults?: GreylistTiming,
): T {
  const out = { ...record };
  if (patch.greylistOptions !== undefined) {
    const merged = patch.greylistOptions === null
      ? {}
      : mergeGreylistOptions(record.greylistOptions, patch.greylistOptions);
    if (Object.keys(merged).length === 0) delete out.greylistOptions;
    else out.greylistOptions = merged;
    checkGreylistOptions(out.greylistOptions, greylistDefaults);
  }
  if (patch.recipients !== undefined) {
    const foreign = patch.recipients.find((r) => addressDomain(r) !== record.name);
    if (foreign !== undefined) {
      throw fieldError("recipients", `"${foreign}" is not an address of ${record.name}`);
    }
    if (patch.recipients.length === 0) delete out.recipients;
    else out.recipients = patch.recipients;
  }
  return out;
}

/** Lowercase a hosted domain name and check it is a fully qualified LDH name without a trailing dot. */
export function validateDomainName(name: unknown): string {
  if (typeof name !== "string") {
    throw fieldError("name", "must be a string", "type");
  }
  const lower = name.toLowerCase();
  const problem = domainNameProblem(lower, { minLabels: 2 });
  if (problem !== null) throw fieldError("name", problem);
  return lower;
}

function optionalText(
  field: string,
  value: unknown,
  problemOf: (text: string) => string | null,
): string | null {
  if (value === null || value === "") return null;
  if (typeof value !== "string") {
    throw fieldError(field, "must be a string or null", "type");
  }
  const problem = problemOf(value);
  if (problem !== null) throw fieldError(field, problem);
  return value;
}

/** Check a domain patch (possibly untrusted JSON) and return it normalised. */
export function validateDomainPatch(patch: Record<string, unknown>): DomainPatch {
  const out: DomainPatch = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    switch (field) {
      case "destination":
        out.destination = optionalText(field, value, hostPortProblem)
          ?.toLowerCase() ?? null;
        break;
      case "greylist":
        if (typeof value !== "boolean") {
          throw fieldError(field, "must be true or false", "type");
        }
        out.greylist = value;
        break;
      case "postmaster": {
        const address = optionalText(field, value, addressProblem);
        out.postmaster = address === null ? null : normalizeAddress(address);
        break;
      }
      case "greylistOptions":
        out.greylistOptions = value === null ? null : validateGreylistOptions(value);
        break;
      case "recipients":
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
          throw fieldError(field, "must be a list of addresses", "type");
        }
        for (const address of value as string[]) {
          const problem = addressProblem(address);
          if (problem !== null) throw fieldError(field, problem);
        }
        out.recipients = [...new Set((value as string[]).map((a) => a.toLowerCase()))];
        break;
      default:
        throw fieldError(field, "is not a domain setting", "type");
    }
  }
  return out;
}
