/**
 * Validation of hosted-domain fields, shared by the CLI and the admin API
 * through kv/domains.ts. Every failure names the field.
 */

import { fieldError } from "./errors.ts";
import {
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
      default:
        throw fieldError(field, "is not a domain setting", "type");
    }
  }
  return out;
}
