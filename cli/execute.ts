/** Carry out one parsed command against the store and return what goes to stdout. */

import { addAccount, deleteAccount, listAccounts, updateAccount } from "../kv/accounts.ts";
import { setAdminPassword } from "../kv/admin_auth.ts";
import { addDomain, deleteDomain, getDomain, listDomains, updateDomain } from "../kv/domains.ts";
import { NotFoundError } from "../kv/errors.ts";
import { getQueueEntry, listQueue, type QueueEntry } from "../kv/queue.ts";
import { removeEntry, rescheduleNow } from "../kv/schedule.ts";
import type { AccountPatch, AccountRecord, NewAccount } from "../kv/accounts.ts";
import type { GreylistTiming } from "../kv/greylist_settings.ts";
import { enableAccount, showAccount } from "./account_usage.ts";
import type { CliCommand } from "./args.ts";
import { executeConnectCommand } from "./connect_commands.ts";
import { describeDkimCommand, executeDkimCommand } from "./dkim_commands.ts";
import { describeGreylistCommand, executeGreylistCommand } from "./greylist_commands.ts";
import { USAGE } from "./help.ts";
import { executeVerifyCommand } from "./verify_commands.ts";
import { formatAge, formatTable } from "./table.ts";

/** What a command may need besides the store. */
export interface ExecuteContext {
  /** Current time in milliseconds. */
  now: number;
  /** First line of standard input, for `admin password`. */
  readLine: () => Promise<string>;
  /** This node's spool directory (queue delete removes the body there). */
  spoolDir?: string;
  /** The config's `[greylist]` timing, which per-domain overrides are checked against. */
  greylistDefaults?: GreylistTiming;
}

/** The phrase naming what a command does, for `relay: cannot <action>: ...`. */
export function describeAction(command: CliCommand): string {
  switch (command.kind) {
    case "help":
      return "show help";
    case "domain-add":
      return `add domain "${command.name}"`;
    case "domain-set":
      return `update domain "${command.name}"`;
    case "domain-list":
      return "list domains";
    case "domain-delete":
      return `delete domain "${command.name}"`;
    case "domain-show":
      return `show domain "${command.name}"`;
    case "greylist-list":
    case "greylist-delete":
    case "greylist-clear":
      return describeGreylistCommand(command);
    case "dkim-generate":
    case "dkim-show":
    case "dkim-list":
    case "dkim-delete":
      return describeDkimCommand(command);
    case "account-add":
      return `add account "${command.login}"`;
    case "account-set":
      return `update account "${command.login}"`;
    case "account-list":
      return "list accounts";
    case "account-show":
      return `show account "${command.login}"`;
    case "account-enable":
      return `enable account "${command.login}"`;
    case "account-delete":
      return `delete account "${command.login}"`;
    case "admin-password":
      return "set admin password";
    case "verify-list":
      return "list verify cache";
    case "verify-delete":
      return command.address === null
        ? "purge verify cache"
        : `delete verify entry "${command.address}"`;
    case "queue-list":
      return "list queue";
    case "queue-show":
      return `show queue entry "${command.id}"`;
    case "queue-retry":
      return command.id === null ? "retry queue" : `retry queue entry "${command.id}"`;
    case "queue-delete":
      return `delete queue entry "${command.id}"`;
    case "queue-bounce":
      return `bounce queue entry "${command.id}"`;
    case "allow-list":
      return "list allow entries";
    case "allow-add":
      return `add allow entry "${command.cidr}"`;
    case "allow-delete":
      return `delete allow entry "${command.cidr}"`;
    case "block-list":
      return "list blocks";
    case "block-add":
      return `add block "${command.ip}"`;
    case "block-delete":
      return `delete block "${command.ip}"`;
  }
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

function accountRow(account: AccountRecord): string[] {
  return [
    account.login,
    account.type,
    account.level,
    account.enabled ? "yes" : "no",
    account.ipv4 ?? "-",
    account.ipv6 ?? "-",
    String(account.bcc.length),
    String(account.mirror.length),
  ];
}

function queueRow(entry: QueueEntry, now: number): string[] {
  const addresses = entry.recipients.map((r) => r.address);
  const shown = addresses.slice(0, 3).join(",") +
    (addresses.length > 3 ? ` (+${addresses.length - 3})` : "");
  return [
    entry.id,
    formatAge(now - entry.receivedAt),
    entry.from === "" ? "<>" : entry.from,
    shown,
    String(entry.size),
  ];
}

/** Run a command; throws the kv/ errors (TypeError, RangeError, NotFoundError, ...) unchanged. */
export async function executeCommand(
  kv: Deno.Kv,
  command: CliCommand,
  context: ExecuteContext,
): Promise<string> {
  const { now } = context;
  switch (command.kind) {
    case "help":
      return USAGE;
    case "domain-add":
      await addDomain(kv, { name: command.name, ...command.flags }, now, {
        greylistDefaults: context.greylistDefaults,
      });
      return `domain ${command.name.toLowerCase()} added\n`;
    case "domain-set":
      await updateDomain(kv, command.name, command.flags, {
        greylistDefaults: context.greylistDefaults,
      });
      return `domain ${command.name.toLowerCase()} updated\n`;
    case "domain-list":
      return formatTable(
        ["DOMAIN", "DESTINATION", "GREYLIST", "POSTMASTER"],
        (await listDomains(kv)).map((d) => [
          d.name,
          d.destination ?? "mx",
          d.greylist ? "yes" : "no",
          d.postmaster ?? "-",
        ]),
      );
    case "domain-delete":
      await deleteDomain(kv, command.name);
      return `domain ${command.name.toLowerCase()} deleted\n`;
    case "domain-show": {
      const domain = await getDomain(kv, command.name);
      if (domain === null) {
        throw new NotFoundError(`Cannot show domain "${command.name}": not found`);
      }
      return json(domain);
    }
    case "greylist-list":
    case "greylist-delete":
    case "greylist-clear":
      return await executeGreylistCommand(kv, command, { now });
    case "dkim-generate":
    case "dkim-show":
    case "dkim-list":
    case "dkim-delete":
      return await executeDkimCommand(kv, command, now);
    case "account-add": {
      const { type, login, password } = command;
      const added = await addAccount(kv, { type, login, password } as NewAccount, now);
      return `account ${added.login} added\n`;
    }
    case "account-set": {
      const updated = await updateAccount(kv, command.login, command.flags as AccountPatch, now);
      return `account ${updated.login} updated\n`;
    }
    case "account-list":
      return formatTable(
        ["LOGIN", "TYPE", "LEVEL", "ENABLED", "IPV4", "IPV6", "BCC", "MIRROR"],
        (await listAccounts(kv)).map(accountRow),
      );
    case "account-show":
      return json(await showAccount(kv, command.login, now));
    case "account-enable":
      return await enableAccount(kv, command.login, now);
    case "account-delete":
      await deleteAccount(kv, command.login);
      return `account ${command.login} deleted\n`;
    case "admin-password":
      await setAdminPassword(kv, await context.readLine());
      return "admin password set\n";
    case "verify-list":
    case "verify-delete":
      return await executeVerifyCommand(kv, command, now);
    case "queue-list":
      return formatTable(
        ["ID", "AGE", "FROM", "RECIPIENTS", "SIZE"],
        (await listQueue(kv)).map((entry) => queueRow(entry, now)),
      );
    case "queue-show": {
      const entry = await getQueueEntry(kv, command.id);
      if (entry === null) {
        throw new NotFoundError(`Cannot show queue entry "${command.id}": not found`);
      }
      return json(entry);
    }
    case "queue-retry": {
      const ids = command.id === null ? (await listQueue(kv)).map((e) => e.id) : [command.id];
      for (const id of ids) {
        if (!await rescheduleNow(kv, id, { now })) {
          throw new NotFoundError(`Cannot retry queue entry "${id}": not found`);
        }
      }
      return `${ids.length} queue ${ids.length === 1 ? "entry" : "entries"} due now\n`;
    }
    case "queue-delete": {
      const entry = await removeEntry(kv, command.id);
      if (entry === null) {
        throw new NotFoundError(`Cannot delete queue entry "${command.id}": not found`);
      }
      // The body lives in the spool of the node that accepted it; remove it when it is ours.
      // A shared segment (issue #9) is never deleted from here: the server's
      // periodic recount frees it once no entry references it.
      if (context.spoolDir && entry.offset === undefined) {
        await Deno.remove(`${context.spoolDir}/${entry.spool}`).catch(() => {});
      }
      return `queue entry ${command.id} deleted\n`;
    }
    case "queue-bounce":
      if (!await rescheduleNow(kv, command.id, { now, bounce: true })) {
        throw new NotFoundError(`Cannot bounce queue entry "${command.id}": not found`);
      }
      return `queue entry ${command.id} will be returned to its sender\n`;
    case "allow-list":
    case "allow-add":
    case "allow-delete":
    case "block-list":
    case "block-add":
    case "block-delete":
      return await executeConnectCommand(kv, command, now);
  }
}
