/** DKIM keys: generation, the records to publish, storage in KV, and the dkim CLI verbs. */
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { runCli } from "../../../cli/run.ts";
import { ConflictError } from "../../../kv/errors.ts";
import {
  deleteDkimKeys,
  findDkimKeys,
  getDkimKeys,
  listDkimKeys,
  putDkimKeys,
} from "../../../kv/dkim_keys.ts";
import {
  defaultSelector,
  dkimDnsRecord,
  dkimTxtValue,
  generateDkimKey,
  splitTxtValue,
} from "../../../relay/delivery/dkim_keygen.ts";

const NOW = Date.UTC(2026, 6, 7);
const RSA = generateDkimKey("s1", "rsa-sha256");
const ED = generateDkimKey("s1-ed", "ed25519-sha256");

async function withKv<T>(fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(":memory:");
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

Deno.test("generateDkimKey() makes RSA 2048 and raw 32-octet Ed25519 public keys", () => {
  const rsa = createPublicKey({
    key: Buffer.from(RSA.publicKey, "base64"),
    format: "der",
    type: "spki",
  });
  assert.equal(rsa.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(RSA.privateKey, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(Buffer.from(ED.publicKey, "base64").length, 32);
});

Deno.test("defaultSelector() is relay plus the UTC year and month", () => {
  assert.equal(defaultSelector(NOW), "relay202607");
  assert.equal(defaultSelector(Date.UTC(2027, 0, 31, 23)), "relay202701");
});

Deno.test("dkimDnsRecord() splits the TXT value into strings of at most 255 octets", () => {
  const line = dkimDnsRecord("example.com", RSA);
  assert.match(line, /^s1\._domainkey\.example\.com IN TXT "v=DKIM1; k=rsa; p=/);
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  assert.ok(strings.length >= 2);
  assert.ok(strings.every((s) => s.length <= 255));
  assert.equal(strings.join(""), dkimTxtValue(RSA));
  assert.deepEqual(splitTxtValue("x".repeat(510)), ["x".repeat(255), "x".repeat(255)]);
  assert.equal(
    dkimDnsRecord("example.com", ED),
    `s1-ed._domainkey.example.com IN TXT "v=DKIM1; k=ed25519; p=${ED.publicKey}"`,
  );
});

Deno.test("putDkimKeys() replaces older selectors and refuses a selector twice", async () => {
  await withKv(async (kv) => {
    assert.deepEqual(
      await putDkimKeys(kv, { domain: "example.com", keys: [RSA], createdAt: NOW }),
      [],
    );
    const next = generateDkimKey("s2", "rsa-sha256");
    assert.deepEqual(
      await putDkimKeys(kv, { domain: "example.com", keys: [next, ED], createdAt: NOW }),
      ["s1"],
    );
    await assert.rejects(
      putDkimKeys(kv, { domain: "example.com", keys: [next], createdAt: NOW }),
      ConflictError,
    );
    assert.deepEqual((await getDkimKeys(kv, "Example.COM"))?.keys.map((k) => k.selector), [
      "s2",
      "s1-ed",
    ]);
    await assert.rejects(
      putDkimKeys(kv, { domain: "Bad_Domain", keys: [RSA], createdAt: NOW }),
      /Cannot set "domain"/,
    );
    await assert.rejects(
      putDkimKeys(kv, { domain: "x.example", keys: [{ ...RSA, selector: "A B" }], createdAt: NOW }),
      /Cannot set "selector"/,
    );
  });
});

Deno.test("findDkimKeys() takes the domain's own keys, else the closest parent's", async () => {
  await withKv(async (kv) => {
    await putDkimKeys(kv, { domain: "example.com", keys: [RSA], createdAt: NOW });
    await putDkimKeys(kv, { domain: "eu.example.com", keys: [ED], createdAt: NOW });
    assert.equal((await findDkimKeys(kv, "example.com"))?.domain, "example.com");
    assert.equal((await findDkimKeys(kv, "mail.eu.example.com"))?.domain, "eu.example.com");
    assert.equal(
      (await findDkimKeys(kv, "a.b.c.d.e.f.g.h.i.j.k.example.com"))?.domain,
      "example.com",
    );
    assert.equal(await findDkimKeys(kv, "example.org"), null);
    assert.equal(await findDkimKeys(kv, "com"), null);
    assert.equal(await deleteDkimKeys(kv, "eu.example.com"), true);
    assert.equal(await deleteDkimKeys(kv, "eu.example.com"), false);
    assert.deepEqual((await listDkimKeys(kv)).map((r) => r.domain), ["example.com"]);
  });
});

Deno.test("dkim CLI: generate prints the records, show repeats them, bad input exits 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay_dkim_cli_" });
  const cli = (args: string[]) => runCli(args, { kvPath: `${dir}/relay.kv`, now: () => NOW });
  try {
    const made = await cli(["dkim", "generate", "Example.com", "--ed25519"]);
    assert.equal(made.code, 0, made.stderr);
    const lines = made.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^; DKIM keys for example\.com generated; publish in its zone:$/);
    assert.match(lines[1], /^relay202607\._domainkey\.example\.com IN TXT "v=DKIM1; k=rsa; p=/);
    assert.match(
      lines[2],
      /^relay202607-ed\._domainkey\.example\.com IN TXT "v=DKIM1; k=ed25519; p=/,
    );
    const shown = await cli(["dkim", "show", "example.com"]);
    assert.deepEqual(shown.stdout.split("\n").slice(1), lines.slice(1).concat(""));
    assert.match((await cli(["dkim", "list"])).stdout, /example\.com +relay202607,relay202607-ed/);
    const again = await cli(["dkim", "generate", "example.com"]);
    assert.deepEqual(again, {
      code: 2,
      stdout: "",
      stderr:
        'relay: cannot generate DKIM keys for "example.com": selector "relay202607" is already in use\n',
    });
    for (
      const [args, line] of [
        [
          ["dkim", "show", "nope.example"],
          'relay: cannot show DKIM keys for "nope.example": not found',
        ],
        [
          ["dkim", "generate", "x.example", "--rsa"],
          'relay: cannot generate DKIM keys: unknown option "--rsa"',
        ],
        [["dkim", "generate"], "relay: cannot generate DKIM keys: missing DOMAIN"],
        [
          ["dkim", "rotate", "x"],
          'relay: unknown dkim command "rotate" (expected generate, show, list, delete)',
        ],
      ] as const
    ) {
      assert.deepEqual(await cli([...args]), { code: 2, stdout: "", stderr: line + "\n" });
    }
    const bad = await cli(["dkim", "generate", "x.example", "--selector", "Bad Sel"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^relay: cannot generate DKIM keys for "x\.example": cannot set "selector"/,
    );
    assert.equal((await cli(["dkim", "show", "x.example"])).code, 2, "nothing stored");
    assert.equal((await cli(["dkim", "delete", "example.com"])).code, 0);
    assert.equal((await cli(["dkim", "delete", "example.com"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
