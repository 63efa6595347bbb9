/**
 * signMessage() checked by an independent verifier: mailauth's dkimVerify,
 * reading the published keys from a real DNS server on loopback.
 */
import assert from "node:assert/strict";
import {
  defaultSelector,
  type DkimKeyPair,
  ed25519Selector,
  generateDkimKey,
} from "../../../relay/delivery/dkim_keygen.ts";
import { type DkimKey, MAX_HEADER_BYTES, signMessage } from "../../../relay/delivery/dkim_sign.ts";
import { startDnsServer } from "../../helpers/dns_server.ts";
import { dkimZoneRecord, SAMPLES, verifyWithMailauth } from "./dkim_fixtures.ts";

const NOW = Date.UTC(2026, 6, 7, 10, 0, 0);
const RSA = generateDkimKey(defaultSelector(NOW), "rsa-sha256");
const ED = generateDkimKey(ed25519Selector(defaultSelector(NOW)), "ed25519-sha256");

function signingKeys(domain: string, pairs: DkimKeyPair[]): DkimKey[] {
  return pairs.map((p) => ({ domain, ...p }));
}

async function* chunks(text: string | Uint8Array, size = 7): AsyncIterable<Uint8Array> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

/** Signs `message` for example.com (keys from `held`) and returns signature + message. */
async function signed(message: string, held: Record<string, DkimKeyPair[]>) {
  const signature = await signMessage(chunks(message), {
    keysFor: (author) => {
      const domain = Object.keys(held).find((d) => author === d || author.endsWith(`.${d}`));
      return Promise.resolve(domain ? signingKeys(domain, held[domain]) : []);
    },
    now: NOW,
  });
  return { signature, out: signature === null ? message : signature.header + message };
}

async function withZone<T>(domain: string, fn: (nameserver: string) => Promise<T>): Promise<T> {
  const dns = await startDnsServer({
    records: [dkimZoneRecord(domain, RSA), dkimZoneRecord(domain, ED)],
  });
  try {
    return await fn(dns.address);
  } finally {
    await dns.close();
  }
}

Deno.test("signMessage() signs each sample so that mailauth verifies RSA and Ed25519", async () => {
  await withZone("example.com", async (nameserver) => {
    for (const [name, message] of Object.entries(SAMPLES)) {
      const { signature, out } = await signed(message, { "example.com": [RSA, ED] });
      assert.ok(signature, name);
      const results = await verifyWithMailauth(out, nameserver, NOW);
      assert.deepEqual(
        results.map((r) => [r.result, r.algorithm, r.selector]),
        [["pass", "rsa-sha256", RSA.selector], ["pass", "ed25519-sha256", ED.selector]],
        `${name}: ${results.map((r) => r.comment).join("; ")}`,
      );
    }
  });
});

Deno.test("signMessage() writes relaxed/relaxed, t=, oversigned From, no l=, folded lines", async () => {
  const { signature } = await signed(SAMPLES.longHeaders, { "example.com": [RSA] });
  assert.ok(signature);
  const field = signature.header;
  assert.match(field, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/);
  assert.match(field, new RegExp(`t=${NOW / 1000};`));
  const h = /h=([^;]*);/.exec(field.replace(/\r\n /g, " "))![1].replace(/\s+/g, "");
  assert.equal(
    h,
    "from:from:to:to:subject:subject:references:references:" +
      "list-unsubscribe:list-unsubscribe-post",
  );
  assert.doesNotMatch(field, /[; ]l=/);
  for (const line of field.split("\r\n")) assert.ok(line.length <= 78, line);
  assert.ok(field.endsWith("\r\n"));
});

Deno.test("signMessage() output fails verification once the message is changed", async () => {
  await withZone("example.com", async (nameserver) => {
    const { out } = await signed(SAMPLES.plain, { "example.com": [RSA] });
    const body = out.replace("just text.", "just texts.");
    const [changed] = await verifyWithMailauth(body, nameserver, NOW);
    assert.notEqual(changed.result, "pass");
    assert.match(changed.comment, /body hash/);
    // Oversigning: a second From added on top breaks the signature.
    const from = out.replace("From: Alice", "From: Mallory <m@evil.test>\r\nFrom: Alice");
    assert.notEqual((await verifyWithMailauth(from, nameserver, NOW))[0].result, "pass");
    // Whitespace changes are what relaxed canonicalization forgives.
    const spaced = out.replace("Subject: Hello", "Subject:   Hello  ");
    assert.equal((await verifyWithMailauth(spaced, nameserver, NOW))[0].result, "pass");
  });
});

Deno.test("signMessage() uses the key of a parent domain for a subdomain author", async () => {
  await withZone("example.com", async (nameserver) => {
    const message = SAMPLES.plain.replace("alice@example.com", "alice@mail.example.com");
    const { signature, out } = await signed(message, { "example.com": [RSA] });
    assert.equal(signature?.author, "mail.example.com");
    assert.equal(signature?.domain, "example.com");
    const [result] = await verifyWithMailauth(out, nameserver, NOW);
    assert.equal(result.result, "pass");
    assert.equal(result.domain, "example.com");
  });
});

Deno.test("signMessage() leaves a message unsigned without a single From author or a key", async () => {
  const held = { "example.com": [RSA] };
  assert.equal(
    (await signed(SAMPLES.plain.replace("example.com>", "other.org>"), held)).signature,
    null,
  );
  const twoFroms = SAMPLES.plain.replace("To:", "From: b@example.com\r\nTo:");
  assert.equal((await signed(twoFroms, held)).signature, null);
  const twoAuthors = SAMPLES.plain.replace(
    "Alice <alice@example.com>",
    "a@example.com, b@example.com",
  );
  assert.equal((await signed(twoAuthors, held)).signature, null);
  const noFrom = SAMPLES.plain.replace(/^From: .*\r\n/, "");
  assert.equal((await signed(noFrom, held)).signature, null);
});

Deno.test("signMessage() signs a message that has no body", async () => {
  await withZone("example.com", async (nameserver) => {
    const message = "From: a@example.com\r\nSubject: header only\r\n";
    const { signature, out } = await signed(message, { "example.com": [RSA, ED] });
    assert.ok(signature);
    const results = await verifyWithMailauth(out, nameserver, NOW);
    assert.deepEqual(results.map((r) => r.result), ["pass", "pass"]);
  });
});

Deno.test("signMessage() stops reading at the header when it will not sign", async () => {
  let pulled = 0;
  async function* big(): AsyncIterable<Uint8Array> {
    yield new TextEncoder().encode("From: x@unsigned.test\r\nSubject: s\r\n\r\n");
    for (let i = 0; i < 1000; i++) {
      pulled++;
      yield new Uint8Array(64 * 1024).fill(65);
    }
  }
  const result = await signMessage(big(), { keysFor: () => Promise.resolve([]), now: NOW });
  assert.equal(result, null);
  assert.equal(pulled, 0);
});

Deno.test("signMessage() gives up on a header section over the limit", async () => {
  const header = `From: a@example.com\r\nX-Big: ${"a".repeat(MAX_HEADER_BYTES)}\r\n\r\nbody\r\n`;
  const { signature } = await signed(header, { "example.com": [RSA] });
  assert.equal(signature, null);
});

Deno.test("signMessage() streams a 32 MiB body and mailauth verifies it", async () => {
  await withZone("example.com", async (nameserver) => {
    const line = new TextEncoder().encode("0123456789 abcdefghij  KLMNOPQRST\tuvwxyz ...\r\n");
    const head = new TextEncoder().encode("From: big@example.com\r\nSubject: big\r\n\r\n");
    const total = 32 * 1024 * 1024;
    const message = new Uint8Array(head.length + total - (total % line.length));
    message.set(head);
    for (let at = head.length; at + line.length <= message.length; at += line.length) {
      message.set(line, at);
    }
    const started = performance.now();
    const signature = await signMessage(chunks(message, 256 * 1024), {
      keysFor: () => Promise.resolve(signingKeys("example.com", [RSA])),
      now: NOW,
    });
    const ms = performance.now() - started;
    assert.ok(signature);
    console.log(`signed 32 MiB in ${ms.toFixed(0)} ms`);
    const header = new TextEncoder().encode(signature.header);
    const out = new Uint8Array(header.length + message.length);
    out.set(header);
    out.set(message, header.length);
    assert.equal((await verifyWithMailauth(out, nameserver, NOW))[0].result, "pass");
  });
});
