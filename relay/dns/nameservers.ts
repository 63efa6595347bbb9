/**
 * Nameserver addresses: the `[dns] nameservers` spellings and the
 * `nameserver` lines of /etc/resolv.conf.
 *
 * @module
 */

import { isIP } from "node:net";

/** One nameserver to send queries to. */
export interface Nameserver {
  host: string;
  port: number;
  family: 4 | 6;
}

// RFC 1035 §4.2: DNS is served on port 53 over UDP and TCP.
const DNS_PORT = 53;

/** Where queries go when neither the config nor resolv.conf names a server. */
export const FALLBACK_NAMESERVER: Nameserver = {
  host: "127.0.0.1",
  port: DNS_PORT,
  family: 4,
};

/** Parses "ip", "ip:port", "[v6]" or "[v6]:port" (a bare IPv6 address takes port 53). */
export function parseNameserver(text: string): Nameserver {
  const value = text.trim();
  let host = value;
  let port = DNS_PORT;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = parsePort(text, bracketed[2]);
  } else if (value.split(":").length === 2) {
    const colon = value.indexOf(":");
    host = value.slice(0, colon);
    port = parsePort(text, value.slice(colon + 1));
  }
  const family = isIP(host);
  if (family === 0) {
    throw new TypeError(
      `Cannot parse nameserver "${text}": not an IP address`,
    );
  }
  if (bracketed && family !== 6) {
    throw new TypeError(
      `Cannot parse nameserver "${text}": brackets hold an IPv6 address`,
    );
  }
  return { host, port, family: family as 4 | 6 };
}

/** Reads the `nameserver` lines of a resolv.conf text, skipping ones it cannot use. */
export function parseResolvConf(text: string): Nameserver[] {
  const servers: Nameserver[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/[#;].*$/, "").trim();
    const match = /^nameserver\s+(\S+)$/.exec(line);
    if (!match) continue;
    // A link-local scope ("fe80::1%eth0") is not something we can dial here.
    const address = match[1];
    if (address.includes("%") || isIP(address) === 0) continue;
    servers.push({
      host: address,
      port: DNS_PORT,
      family: isIP(address) as 4 | 6,
    });
  }
  return servers;
}

/** Reads /etc/resolv.conf (or `path`); an unreadable file yields no servers. */
export async function readResolvConf(
  path = "/etc/resolv.conf",
): Promise<Nameserver[]> {
  try {
    return parseResolvConf(await Deno.readTextFile(path));
  } catch {
    return [];
  }
}

function parsePort(text: string, portText: string): number {
  if (!/^\d{1,5}$/.test(portText)) {
    throw new TypeError(`Cannot parse nameserver "${text}": invalid port`);
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    throw new RangeError(
      `Cannot parse nameserver "${text}": port out of range 1-65535`,
    );
  }
  return port;
}
