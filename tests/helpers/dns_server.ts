/**
 * A real authoritative DNS server on loopback for tests: UDP and TCP on one
 * port, built on `npm:dns-packet`, serving a zone the test controls and
 * misbehaving on request (SERVFAIL, REFUSED, silence, truncation, spoofed or
 * malformed answers).
 *
 * @module
 */

import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import * as dnsPacket from "dns-packet";

/** One record of the served zone; `data` is shaped as dns-packet expects. */
export interface ZoneRecord {
  name: string;
  type: "A" | "AAAA" | "MX" | "TXT" | "CNAME" | "PTR" | "SOA";
  /** Seconds; default 300. */
  ttl?: number;
  data: unknown;
}

/**
 * How the server treats queries for one name: "truncate" sets TC over UDP
 * and answers fully over TCP; "timeout" never answers; "spoof" first sends
 * an answer with a wrong id and one with a wrong question, then the real
 * one; "malformed" sends undecodable bytes carrying the right id.
 */
export type DnsBehaviour =
  | "servfail"
  | "refused"
  | "timeout"
  | "truncate"
  | "spoof"
  | "malformed";

/** One query the server received. */
export interface ReceivedQuery {
  name: string;
  type: string;
  transport: "udp" | "tcp";
}

/** A running test DNS server. */
export interface DnsServer {
  /** "127.0.0.1:PORT", ready for `createResolver({ nameservers: [address] })`. */
  address: string;
  port: number;
  /** Every query received, in order. */
  queries: ReceivedQuery[];
  /** Replaces the zone. */
  setRecords(records: ZoneRecord[]): void;
  /** Sets or clears (null) the behaviour for a name. */
  setBehaviour(name: string, behaviour: DnsBehaviour | null): void;
  /** Closes both sockets and every TCP connection. */
  close(): Promise<void>;
}

/** Options of {@linkcode startDnsServer}. */
export interface DnsServerOptions {
  records: ZoneRecord[];
  /** Keyed by lowercase name. */
  behaviours?: Record<string, DnsBehaviour>;
  /** Follow CNAMEs inside the zone into the answer (default true), as authoritative servers do. */
  chaseCnames?: boolean;
}

const DEFAULT_TTL = 300;
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;

// deno-lint-ignore no-explicit-any
type Packet = any;

/** Starts a server on 127.0.0.1 with UDP and TCP sharing one free port. */
export async function startDnsServer(
  options: DnsServerOptions,
): Promise<DnsServer> {
  let records = options.records;
  const behaviours = new Map<string, DnsBehaviour>(
    Object.entries(options.behaviours ?? {}).map(([name, behaviour]) => [
      lower(name),
      behaviour,
    ]),
  );
  const chase = options.chaseCnames ?? true;
  const queries: ReceivedQuery[] = [];
  const connections = new Set<net.Socket>();

  function respond(bytes: Uint8Array, transport: "udp" | "tcp"): Buffer[] {
    let query: Packet;
    try {
      query = dnsPacket.decode(Buffer.from(bytes));
    } catch {
      return [];
    }
    const question = query.questions?.[0];
    if (!question) return [];
    queries.push({ name: question.name, type: question.type, transport });
    const behaviour = behaviours.get(lower(question.name));
    const rd = query.flags & FLAG_RD;
    const reply = (rcode: number, extra: Packet = {}) =>
      dnsPacket.encode({
        type: "response",
        id: query.id,
        flags: FLAG_AA | rd | rcode,
        questions: query.questions,
        ...extra,
      });
    switch (behaviour) {
      case "timeout":
        return [];
      case "servfail":
        return [reply(RCODE.SERVFAIL)];
      case "refused":
        return [reply(RCODE.REFUSED)];
      case "malformed": {
        // A header claiming one answer, then nothing: the id is right, the rest is garbage.
        const bytes = Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 9]);
        bytes.writeUInt16BE(query.id, 0);
        return [bytes];
      }
      case "truncate":
        if (transport === "udp") {
          return [
            dnsPacket.encode({
              type: "response",
              id: query.id,
              flags: FLAG_AA | FLAG_TC | rd,
              questions: query.questions,
            }),
          ];
        }
    }
    const real = authoritativeAnswer(records, question, chase);
    const packets = [reply(real.rcode, real.sections)];
    if (behaviour === "spoof") {
      const forged = [{
        name: question.name,
        type: question.type,
        ttl: 60,
        data: forgedData(question.type),
      }];
      const wrongId = dnsPacket.encode({
        type: "response",
        id: (query.id + 1) & 0xffff,
        flags: FLAG_AA | rd,
        questions: query.questions,
        answers: forged,
      });
      const wrongQuestion = dnsPacket.encode({
        type: "response",
        id: query.id,
        flags: FLAG_AA | rd,
        questions: [{ name: `evil.${question.name}`, type: question.type }],
        answers: forged,
      });
      packets.unshift(wrongId, wrongQuestion);
    }
    return packets;
  }

  const { udp, tcp, port } = await bindBoth(
    (packet, remote) => {
      for (const out of respond(packet, "udp")) {
        udp.send(out, remote.port, remote.address);
      }
    },
    (socket) => {
      connections.add(socket);
      socket.on("close", () => connections.delete(socket));
      socket.on("error", () => socket.destroy());
      let buffered = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (buffered.length < 2 + length) break;
          const message = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          for (const out of respond(message, "tcp")) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length, 0);
            socket.write(Buffer.concat([prefix, out]));
          }
        }
      });
    },
  );

  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    setRecords(next) {
      records = next;
    },
    setBehaviour(name, behaviour) {
      if (behaviour === null) behaviours.delete(lower(name));
      else behaviours.set(lower(name), behaviour);
    },
    async close() {
      for (const socket of connections) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

function authoritativeAnswer(
  zone: ZoneRecord[],
  question: { name: string; type: string },
  chase: boolean,
): { rcode: number; sections: Packet } {
  const qname = lower(question.name);
  if (!zone.some((record) => lower(record.name) === qname)) {
    return {
      rcode: RCODE.NXDOMAIN,
      sections: { authorities: [negativeSoa(zone, qname)] },
    };
  }
  const answers: Packet[] = [];
  let current = qname;
  const seen = new Set<string>();
  while (!seen.has(current)) {
    seen.add(current);
    const matching = zone.filter((record) =>
      lower(record.name) === current && record.type === question.type
    );
    if (matching.length > 0) {
      answers.push(...matching.map(toWire));
      break;
    }
    const alias = zone.find((record) => lower(record.name) === current && record.type === "CNAME");
    if (!alias || question.type === "CNAME") break;
    answers.push(toWire(alias));
    if (!chase) break;
    current = lower(String(alias.data));
  }
  if (answers.length === 0) {
    return {
      rcode: RCODE.NOERROR,
      sections: { authorities: [negativeSoa(zone, qname)] },
    };
  }
  return { rcode: RCODE.NOERROR, sections: { answers } };
}

// RFC 2308 §3: negative answers carry the zone's SOA; use the closest
// enclosing one from the zone, or a made-up one with a 300 s minimum.
function negativeSoa(zone: ZoneRecord[], qname: string): Packet {
  const soas = zone
    .filter((record) => record.type === "SOA")
    .filter((record) => {
      const apex = lower(record.name);
      return qname === apex || qname.endsWith(`.${apex}`);
    })
    .sort((a, b) => b.name.length - a.name.length);
  if (soas.length > 0) return toWire(soas[0]);
  const apex = qname.split(".").slice(-1)[0];
  return {
    name: apex,
    type: "SOA",
    ttl: DEFAULT_TTL,
    data: {
      mname: `ns.${apex}`,
      rname: `hostmaster.${apex}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: DEFAULT_TTL,
    },
  };
}

function toWire(record: ZoneRecord): Packet {
  return {
    name: record.name,
    type: record.type,
    ttl: record.ttl ?? DEFAULT_TTL,
    data: record.data,
  };
}

function forgedData(type: string): unknown {
  switch (type) {
    case "AAAA":
      return "2001:db8::666";
    case "MX":
      return { preference: 0, exchange: "evil.test" };
    case "TXT":
      return "forged";
    case "PTR":
    case "CNAME":
      return "evil.test";
    default:
      return "6.6.6.6";
  }
}

async function bindBoth(
  onPacket: (packet: Buffer, remote: dgram.RemoteInfo) => void,
  onConnection: (socket: net.Socket) => void,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  // Bind UDP on a free port, then TCP on the same number; retry if taken.
  for (let tries = 0; tries < 20; tries++) {
    const udp = dgram.createSocket("udp4");
    udp.on("message", onPacket);
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    const port = udp.address().port;
    const tcp = net.createServer(onConnection);
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (listening) return { udp, tcp, port };
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  }
  throw new Error("Cannot start DNS server: no port free for UDP and TCP");
}

function lower(name: string): string {
  const value = name.toLowerCase();
  return value.endsWith(".") ? value.slice(0, -1) : value;
}
