/** The pure backscatter rule: delivery reports only to the account's own domains. */
import assert from "node:assert/strict";
import { backscatterRefusal, isOwnDomain } from "../../../relay/policy/backscatter.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { REPLY } from "../../../relay/smtp/reply.ts";

const REPORT = "From: postmaster@example.net\r\n" +
  "Content-Type: multipart/report; report-type=delivery-status; boundary=x";
const GLOBAL = "Content-Type: multipart/report;\r\n report-type=global-delivery-status; boundary=x";
const MIXED = "Content-Type: multipart/mixed; boundary=x";
const account = { domain: "example.net", subdomains: false };
const to = (...addresses: string[]) => addresses.map((a) => splitAddress(a)!);

Deno.test("backscatterRefusal() refuses a delivery report with a recipient outside the account's domain", () => {
  assert.equal(backscatterRefusal(REPORT, account, to("x@far.example")), REPLY.backscatter);
  assert.equal(
    backscatterRefusal(GLOBAL, account, to("a@example.net", "x@far.example")),
    REPLY.backscatter,
  );
  assert.equal(backscatterRefusal(REPORT, null, to("a@example.net")), REPLY.backscatter);
  assert.equal(REPLY.backscatter.code, 550);
  assert.equal(REPLY.backscatter.enhanced, "5.7.1");
});

Deno.test("backscatterRefusal() allows reports inside the account's domain and any other message", () => {
  assert.equal(backscatterRefusal(REPORT, account, to("a@example.net", "b@Example.NET")), null);
  assert.equal(backscatterRefusal(MIXED, account, to("x@far.example")), null);
  assert.equal(backscatterRefusal("", account, to("x@far.example")), null);
});

Deno.test("isOwnDomain() counts subdomains only when the account allows them", () => {
  const [sub] = to("a@mail.example.net");
  assert.equal(isOwnDomain(account, sub), false);
  assert.equal(isOwnDomain({ ...account, subdomains: true }, sub), true);
  assert.equal(isOwnDomain({ ...account, subdomains: true }, to("a@badexample.net")[0]), false);
});
