/**
 * DKIM keys in the CLI (issue #8): `dkim generate DOMAIN [--selector S]
 * [--ed25519]`, `dkim show DOMAIN`, `dkim list`, `dkim delete DOMAIN`.
 * generate and show print the zone-file lines to publish, with ";" comments.
 */

import { deleteDkimKeys, getDkimKeys, listDkimKeys, putDkimKeys } from "../kv/dkim_keys.ts";
import type { DkimKeyRecord } from "../kv/dkim_keys.ts";
import { NotFoundError } from "../kv/errors.ts";
import {
  defaultSelector,
  dkimDnsRecord,
  ed25519Selector,
  generateDkimKey,
} from "../relay/delivery/dkim_keygen.ts";
import { formatTable } from "./table.ts";

/** The DKIM commands, as parsed by cli/args.ts. */
export type DkimCommand =
  | { kind: "dkim-generate"; domain: string; selector: string | null; ed25519: boolean }
  | { kind: "dkim-show"; domain: string }
  | { kind: "dkim-list" }
  | { kind: "dkim-delete"; domain: string };

/** The phrase naming what a DKIM command does, for `relay: cannot <action>: ...`. */
export function describeDkimCommand(command: DkimCommand): string {
  switch (command.kind) {
    case "dkim-generate":
      return `generate DKIM keys for "${command.domain}"`;
    case "dkim-show":
      return `show DKIM keys for "${command.domain}"`;
    case "dkim-list":
      return "list DKIM keys";
    case "dkim-delete":
      return `delete DKIM keys for "${command.domain}"`;
  }
}

/** Runs one DKIM command and returns what goes to stdout. */
export async function executeDkimCommand(
  kv: Deno.Kv,
  command: DkimCommand,
  now: number,
): Promise<string> {
  switch (command.kind) {
    case "dkim-generate": {
      const domain = command.domain.toLowerCase().replace(/\.$/, "");
      const selector = command.selector ?? defaultSelector(now);
      const keys = [generateDkimKey(selector, "rsa-sha256")];
      if (command.ed25519) keys.push(generateDkimKey(ed25519Selector(selector), "ed25519-sha256"));
      const replaced = await putDkimKeys(kv, { domain, keys, createdAt: now });
      const note = replaced.length > 0
        ? ` (replacing ${replaced.join(", ")}: keep the old record published a few days)`
        : "";
      return `; DKIM keys for ${domain} generated${note}; publish in its zone:\n` +
        records({ domain, keys, createdAt: now });
    }
    case "dkim-show": {
      const record = await getDkimKeys(kv, command.domain);
      if (record === null) {
        throw new NotFoundError(`Cannot show DKIM keys for "${command.domain}": not found`);
      }
      const created = new Date(record.createdAt).toISOString().slice(0, 10);
      return `; DKIM keys for ${record.domain}, created ${created}\n${records(record)}`;
    }
    case "dkim-list":
      return formatTable(
        ["DOMAIN", "SELECTORS", "ALGORITHMS", "CREATED"],
        (await listDkimKeys(kv)).map((r) => [
          r.domain,
          r.keys.map((k) => k.selector).join(","),
          r.keys.map((k) => k.algorithm).join(","),
          new Date(r.createdAt).toISOString().slice(0, 10),
        ]),
      );
    case "dkim-delete":
      if (!await deleteDkimKeys(kv, command.domain)) {
        throw new NotFoundError(`Cannot delete DKIM keys for "${command.domain}": not found`);
      }
      return `DKIM keys for ${command.domain.toLowerCase()} deleted; mail from it goes out unsigned\n`;
  }
}

function records(record: DkimKeyRecord): string {
  return record.keys.map((key) => dkimDnsRecord(record.domain, key) + "\n").join("");
}
