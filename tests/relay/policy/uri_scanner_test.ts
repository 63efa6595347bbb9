/**
 * The streaming URI scanner: URIs in QP HTML, base64 text, nested parts,
 * bare www. names, mailto:, IP literals; public-suffix reduction, caps, and
 * results independent of chunking.
 */
import assert from "node:assert/strict";
import { createUriScanner, type UriScannerOptions } from "../../../relay/policy/uri_scanner.ts";
import {
  decodeHtmlEntities,
  findUriHosts,
  isPublicIpv4,
  uriTarget,
} from "../../../relay/policy/uri_text.ts";

const encoder = new TextEncoder();

function scan(
  message: string | Uint8Array,
  options: Partial<UriScannerOptions> & { chunk?: number } = {},
) {
  const scanner = createUriScanner({ maxUris: 100, maxPartBytes: 2 << 20, ...options });
  const bytes = typeof message === "string" ? encoder.encode(message) : message;
  const step = Math.min(options.chunk ?? Infinity, bytes.length || 1);
  for (let i = 0; i < bytes.length; i += step) scanner.push(bytes.subarray(i, i + step));
  return scanner.finish();
}

function hosts(text: string, html = false): string[] {
  const found: string[] = [];
  findUriHosts(text, html, (h) => found.push(h));
  return found;
}

/** Base64 of UTF-8 text in 76-character lines (RFC 2045 §6.8). */
function base64Lines(text: string): string {
  const bytes = encoder.encode(text);
  const b64 = btoa(String.fromCharCode(...bytes));
  return b64.match(/.{1,76}/g)!.join("\r\n");
}

const QP_HTML = [
  "From: user@example.net",
  "To: friend@example.org",
  "Subject: links",
  "MIME-Version: 1.0",
  'Content-Type: multipart/alternative; boundary="=_alt"',
  "",
  "--=_alt",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Plain part, no links.",
  "--=_alt",
  "Content-Type: text/html; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  '<p>Hello <a href=3D"https://click.listed-domain.com/track?u=3D1&amp;v=3D2">the=',
  " offer</a> and <a href=3Dhttp://obfuscated&#x2e;biz/x>here</a>",
  "<img src=3D'//cdn.images-host.net/p.gif'></p>",
  "--=_alt--",
  "",
].join("\r\n");

Deno.test("createUriScanner() finds href and src values in a quoted-printable HTML part", () => {
  const result = scan(QP_HTML);
  assert.deepEqual(result.domains, ["listed-domain.com", "obfuscated.biz", "images-host.net"]);
  assert.deepEqual(result.ips, []);
  assert.equal(result.capped, false);
  assert.match(result.header, /^From: user@example\.net\r\n/);
});

Deno.test("createUriScanner() decodes a base64 text part", () => {
  const message = [
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines("Grüße! See http://www.base64-link.org/page and nothing else.\n"),
    "",
  ].join("\r\n");
  assert.deepEqual(scan(message).domains, ["base64-link.org"]);
});

Deno.test("createUriScanner() follows nested multiparts and skips attachments, preamble and epilogue", () => {
  const message = [
    "Content-Type: multipart/mixed; boundary=outer",
    "",
    "preamble http://preamble-host.com",
    "--outer",
    "Content-Type: multipart/alternative; boundary=inner",
    "",
    "--inner",
    "Content-Type: text/html",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines('<a href="http://nested-html.net">x</a>'),
    "--inner--",
    "--outer",
    "Content-Type: application/octet-stream",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines("http://inside-attachment.com"),
    "--outer",
    "Content-Type: message/rfc822",
    "",
    "Subject: forwarded",
    "",
    "forwarded text www.forwarded-site.info",
    "--outer--",
    "epilogue http://epilogue-host.com",
  ].join("\r\n");
  assert.deepEqual(scan(message).domains, ["nested-html.net", "forwarded-site.info"]);
});

Deno.test("createUriScanner() finds bare www. names and mailto: domains in a non-MIME body", () => {
  const message = "Subject: x\r\nList-Unsubscribe: <http://header-only.com>\r\n\r\n" +
    "Visit www.bare-name.com, or WWW2.Other-Bare.co.uk. Mail mailto:joe@Mail.Mailto-Host.de?subject=hi\r\n" +
    "Not hosts: foo.www.example-less, readme.md, email joe@plain-address.com\r\n";
  assert.deepEqual(scan(message).domains, ["bare-name.com", "other-bare.co.uk", "mailto-host.de"]);
});

Deno.test("createUriScanner() keeps public IPv4 literals apart, including decimal and hex forms", () => {
  const message = "Subject: x\r\n\r\n" +
    "http://1.2.3.4/a http://16909060/b http://0x01020305/c http://[2001:db8::1]/d\r\n" +
    "http://192.168.1.10/ http://127.0.0.1/ http://10.0.0.1/ http://3232235777/\r\n";
  const result = scan(message);
  assert.deepEqual(result.ips, ["1.2.3.4", "1.2.3.5"]);
  assert.deepEqual(result.domains, []);
});

Deno.test("createUriScanner() gives the same result for every split of a small message", () => {
  const whole = scan(QP_HTML);
  const bytes = encoder.encode(QP_HTML);
  for (let cut = 1; cut < bytes.length; cut++) {
    const scanner = createUriScanner({ maxUris: 100, maxPartBytes: 2 << 20 });
    scanner.push(bytes.slice(0, cut));
    scanner.push(bytes.slice(cut));
    assert.deepEqual(scanner.finish(), whole, `split at ${cut}`);
  }
  for (const chunk of [1, 2, 3, 7]) assert.deepEqual(scan(QP_HTML, { chunk }), whole);
});

Deno.test("createUriScanner() scans one huge HTML line the same way whatever the chunking", () => {
  const links = Array.from(
    { length: 40 },
    (_, i) => `<a href="http://site${i}.com/">${"x".repeat(3000)}</a>`,
  );
  const message = "Content-Type: text/html\r\n\r\n" + links.join("");
  const whole = scan(message);
  assert.equal(whole.domains.length, 40);
  assert.equal(whole.domains[39], "site39.com");
  for (const chunk of [999, 4096, 65_536]) assert.deepEqual(scan(message, { chunk }), whole);
});

Deno.test("createUriScanner() stops at maxUris distinct domains and IPs and says so", () => {
  const body = ["a.com", "b.com", "www.a.com", "c.com", "d.com"].map((d) => `http://${d}/`).join(
    " ",
  );
  const result = scan(`Subject: x\r\n\r\n${body} http://5.6.7.8/\r\n`, { maxUris: 3 });
  assert.deepEqual(result.domains, ["a.com", "b.com", "c.com"]);
  assert.equal(result.capped, true);
  assert.equal(scan(`Subject: x\r\n\r\n${body}\r\n`, { maxUris: 4 }).capped, false);
});

Deno.test("createUriScanner() scans only the first maxPartBytes of each text part", () => {
  const message = [
    "Content-Type: multipart/mixed; boundary=b",
    "",
    "--b",
    "Content-Type: text/plain",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines("http://early.com\n" + "filler\n".repeat(400) + "http://late.com\n"),
    "--b",
    "Content-Type: text/plain",
    "",
    "http://next-part.com",
    "--b--",
  ].join("\r\n");
  assert.deepEqual(scan(message, { maxPartBytes: 1024 }).domains, ["early.com", "next-part.com"]);
  assert.deepEqual(scan(message).domains, ["early.com", "late.com", "next-part.com"]);
});

Deno.test("createUriScanner() with uris: false reads only the header section", () => {
  const result = scan(
    "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n" +
      "\r\n--x\r\n\r\nhttp://ignored.com\r\n--x--\r\n",
    { uris: false },
  );
  assert.deepEqual(result.domains, []);
  assert.match(result.header, /^Content-Type: multipart\/report;/);
});

Deno.test("createUriScanner() refuses input after finish()", () => {
  const scanner = createUriScanner({ maxUris: 10, maxPartBytes: 1024 });
  scanner.finish();
  assert.throws(() => scanner.push(new Uint8Array(1)), TypeError);
});

Deno.test("findUriHosts() reads quoted, unquoted and entity-encoded attribute values", () => {
  assert.deepEqual(
    hosts(
      `<a HREF = 'http://one.com'> <a href=two.com> <a href="//three.com/x"> <img src=www.four.com>`,
      true,
    ),
    ["one.com", "three.com", "www.four.com"],
  );
  assert.deepEqual(hosts(`<a href="http&#58;//five&#46;com&#x2F;">`, true), ["five.com"]);
  assert.deepEqual(hosts("http:\\\\six.com\\ (http://seven.com). hxxp://eight.com"), [
    "six.com",
    "seven.com",
  ]);
  assert.deepEqual(hosts("http://nine.com:99999/bad-port http://user:pw@ten.com/"), [
    "nine.com",
    "ten.com",
  ]);
});

Deno.test("decodeHtmlEntities() decodes named and numeric references, with or without ';'", () => {
  assert.equal(
    decodeHtmlEntities("a&amp;b&#46;c&#x2e;d&period;e&#46f&unknown;"),
    "a&b.c.d.e.f&unknown;",
  );
});

Deno.test("uriTarget() reduces hosts to registrable domains with the public suffix list", () => {
  assert.deepEqual(uriTarget("a.b.example.co.uk"), { kind: "domain", domain: "example.co.uk" });
  assert.deepEqual(uriTarget("WWW.Example.COM."), { kind: "domain", domain: "example.com" });
  assert.deepEqual(uriTarget("xn--bcher-kva.de"), { kind: "domain", domain: "xn--bcher-kva.de" });
  assert.deepEqual(uriTarget("8.8.8.8"), { kind: "ip", ip: "8.8.8.8" });
  for (const none of ["co.uk", "localhost", "intranet.local-name", "[::1]", "10.1.2.3", ""]) {
    assert.equal(uriTarget(none), null, none);
  }
});

Deno.test("isPublicIpv4() rejects private, loopback, documentation and multicast ranges", () => {
  for (const ip of ["1.2.3.4", "8.8.8.8", "172.32.0.1", "100.128.0.1", "223.255.255.255"]) {
    assert.equal(isPublicIpv4(ip), true, ip);
  }
  for (
    const ip of ["0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "169.254.1.1", "172.16.0.1"]
  ) {
    assert.equal(isPublicIpv4(ip), false, ip);
  }
  for (
    const ip of [
      "192.0.2.1",
      "192.168.0.1",
      "198.18.0.1",
      "203.0.113.9",
      "224.0.0.1",
      "255.255.255.255",
    ]
  ) {
    assert.equal(isPublicIpv4(ip), false, ip);
  }
});
