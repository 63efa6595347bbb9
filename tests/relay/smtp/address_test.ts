import assert from "node:assert/strict";
import {
  hasRoutingSyntax,
  isSubdomainOf,
  parseMailArgument,
  type PathResult,
  splitAddress,
} from "../../../relay/smtp/address.ts";

const MAIL = { allowNull: true, smtputf8: false };
const RCPT = { allowNull: false, smtputf8: false };
const UTF8 = { allowNull: false, smtputf8: true };

function mailbox(result: PathResult) {
  assert.ok(result.ok, `expected success, got ${JSON.stringify(result)}`);
  return result.mailbox;
}

function reason(result: PathResult): string {
  assert.ok(!result.ok, `expected failure, got ${JSON.stringify(result)}`);
  return result.reason;
}

Deno.test("parseMailArgument() parses a plain path and lowercases the domain", () => {
  assert.deepEqual(mailbox(parseMailArgument("<John.Doe@Example.COM>", RCPT)), {
    local: "John.Doe",
    domain: "example.com",
    address: "John.Doe@example.com",
  });
});

Deno.test("parseMailArgument() accepts one leading space and trailing blanks", () => {
  assert.equal(mailbox(parseMailArgument(" <a@b.example>", RCPT))?.address, "a@b.example");
  assert.equal(mailbox(parseMailArgument("<a@b.example>  ", RCPT))?.address, "a@b.example");
});

Deno.test("parseMailArgument() requires angle brackets", () => {
  assert.equal(reason(parseMailArgument("a@b.example", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@b.example", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("", RCPT)), "syntax");
});

Deno.test("parseMailArgument() accepts the null path only when allowed", () => {
  const result = parseMailArgument("<>", MAIL);
  assert.ok(result.ok);
  assert.equal(result.mailbox, null);
  assert.equal(reason(parseMailArgument("<>", RCPT)), "syntax");
});

Deno.test("parseMailArgument() parses ESMTP parameters with upper-cased keywords", () => {
  const result = parseMailArgument("<> size=1234 Body=8BITMIME SMTPUTF8", MAIL);
  assert.ok(result.ok);
  assert.deepEqual(
    [...result.params],
    [["SIZE", "1234"], ["BODY", "8BITMIME"], ["SMTPUTF8", true]],
  );
});

Deno.test("parseMailArgument() rejects bad and duplicate parameters", () => {
  assert.equal(reason(parseMailArgument("<a@b.c> SIZE=1 size=2", MAIL)), "params");
  assert.equal(reason(parseMailArgument("<a@b.c> SIZE=", MAIL)), "params");
  assert.equal(reason(parseMailArgument("<a@b.c> -X=1", MAIL)), "params");
  assert.equal(reason(parseMailArgument("<a@b.c> A=b=c", MAIL)), "params");
  assert.equal(reason(parseMailArgument("<a@b.c> X=\x01", MAIL)), "params");
});

Deno.test("parseMailArgument() rejects garbage glued to the path", () => {
  assert.equal(reason(parseMailArgument("<a@b.c>SIZE=1", MAIL)), "syntax");
  assert.equal(reason(parseMailArgument("<a@b.c>>", MAIL)), "syntax");
});

Deno.test("parseMailArgument() accepts and discards a source route", () => {
  const box = mailbox(parseMailArgument("<@hop1.example,@hop2.example:user@c.example>", RCPT));
  assert.equal(box?.address, "user@c.example");
  assert.equal(reason(parseMailArgument("<@hop1.example user@c.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<@bad..hop:user@c.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<hop1.example:user@c.example>", RCPT)), "syntax");
});

Deno.test("parseMailArgument() validates domain labels", () => {
  assert.equal(reason(parseMailArgument("<a@example.com.>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@-x.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@x-.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@x..example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@x_y.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<a@>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument("<@x.example>", RCPT)), "syntax");
  assert.equal(reason(parseMailArgument(`<a@${"x".repeat(64)}.example>`, RCPT)), "syntax");
  assert.ok(parseMailArgument(`<a@${"x".repeat(63)}.example>`, RCPT).ok);
  assert.ok(parseMailArgument("<a@localhost>", RCPT).ok);
  assert.ok(parseMailArgument("<a@1x-2.example>", RCPT).ok);
});

Deno.test("parseMailArgument() validates address literals", () => {
  assert.equal(mailbox(parseMailArgument("<a@[192.0.2.1]>", RCPT))?.domain, "[192.0.2.1]");
  assert.equal(
    mailbox(parseMailArgument("<a@[ipv6:2001:DB8::1]>", RCPT))?.domain,
    "[IPv6:2001:db8::1]",
  );
  assert.ok(parseMailArgument("<a@[IPv6:::ffff:192.0.2.1]>", RCPT).ok);
  assert.ok(parseMailArgument("<a@[IPv6:1:2:3:4:5:6:192.0.2.1]>", RCPT).ok);
  assert.ok(parseMailArgument("<a@[IPv6:1:2:3:4:5:6:7:8]>", RCPT).ok);
  assert.ok(parseMailArgument("<a@[IPv6:::]>", RCPT).ok);
  for (
    const bad of [
      "[192.0.2.256]",
      "[192.0.2]",
      "[1.2.3.4.5]",
      "[IPv6:1:2:3:4:5:6:7]",
      "[IPv6:1:2:3:4:5:6:7:8:9]",
      "[IPv6:1::2::3]",
      "[IPv6:12345::]",
      "[IPv6:1:2:3:4:5:6:7:1.2.3.4]",
      "[IPv6:g::1]",
      "[IPv4:1.2.3.4]",
      "[192.0.2.1",
      "[]",
    ]
  ) {
    assert.equal(reason(parseMailArgument(`<a@${bad}>`, RCPT)), "syntax", bad);
  }
});

Deno.test("parseMailArgument() unquotes a quoted local part that is a dot-string", () => {
  assert.equal(mailbox(parseMailArgument('<"john.doe"@x.example>', RCPT))?.local, "john.doe");
  assert.equal(mailbox(parseMailArgument('<"jo\\hn"@x.example>', RCPT))?.local, "john");
});

Deno.test("parseMailArgument() keeps canonical quotes when needed", () => {
  assert.equal(mailbox(parseMailArgument('<"a b"@x.example>', RCPT))?.local, '"a b"');
  assert.equal(mailbox(parseMailArgument('<"a\\ b"@x.example>', RCPT))?.local, '"a b"');
  assert.equal(mailbox(parseMailArgument('<"a>b"@x.example>', RCPT))?.local, '"a>b"');
  assert.equal(mailbox(parseMailArgument('<"a\\"b"@x.example>', RCPT))?.local, '"a\\"b"');
  assert.equal(mailbox(parseMailArgument('<"a@b"@x.example>', RCPT))?.address, '"a@b"@x.example');
  assert.equal(mailbox(parseMailArgument('<"a..b"@x.example>', RCPT))?.local, '"a..b"');
});

Deno.test("parseMailArgument() rejects malformed local parts", () => {
  for (const bad of ["a..b", ".a", "a.", 'a"b', "a b", "a(b)", "a\\b", '"a', '"a"b']) {
    assert.equal(reason(parseMailArgument(`<${bad}@x.example> `, RCPT)), "syntax", bad);
  }
});

Deno.test("parseMailArgument() enforces the RFC 5321 length limits", () => {
  const local64 = "l".repeat(64);
  assert.ok(parseMailArgument(`<${local64}@x.example>`, RCPT).ok);
  assert.equal(reason(parseMailArgument(`<${local64}l@x.example>`, RCPT)), "too-long");
  // 254 octets inside the brackets: exactly the 256-octet path limit.
  const domain = `${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(60)}`;
  assert.equal(`a@${domain}`.length, 254);
  assert.ok(parseMailArgument(`<a@${domain}>`, RCPT).ok);
  assert.equal(reason(parseMailArgument(`<ab@${domain}>`, RCPT)), "too-long");
});

Deno.test("parseMailArgument() refuses non-ASCII without SMTPUTF8", () => {
  assert.equal(reason(parseMailArgument("<jörg@x.example>", RCPT)), "utf8");
  assert.equal(reason(parseMailArgument("<a@bücher.example>", RCPT)), "utf8");
  assert.equal(reason(parseMailArgument("<a@x.example> ORCPT=ö", MAIL)), "params");
});

Deno.test("parseMailArgument() accepts UTF-8 local parts and U-labels with SMTPUTF8", () => {
  assert.deepEqual(mailbox(parseMailArgument("<Jörg@Bücher.Example>", UTF8)), {
    local: "Jörg",
    domain: "bücher.example",
    address: "Jörg@bücher.example",
  });
  assert.equal(mailbox(parseMailArgument('<"用户 名"@例子.测试>', UTF8))?.local, '"用户 名"');
  assert.equal(reason(parseMailArgument("<a@bü_cher.example>", UTF8)), "syntax");
  // 22 three-octet characters: 66 octets although only 22 characters.
  assert.equal(reason(parseMailArgument(`<${"用".repeat(22)}@x.example>`, UTF8)), "too-long");
});

Deno.test("hasRoutingSyntax() flags percent hack, bang paths and quoted @", () => {
  assert.equal(hasRoutingSyntax("user%other.example"), true);
  assert.equal(hasRoutingSyntax("host!user"), true);
  assert.equal(hasRoutingSyntax('"a@b"'), true);
  assert.equal(hasRoutingSyntax("plain.user+tag"), false);
});

Deno.test("isSubdomainOf() matches proper subdomains only", () => {
  assert.equal(isSubdomainOf("mail.example.com", "example.com"), true);
  assert.equal(isSubdomainOf("A.B.Example.com", "example.COM"), true);
  assert.equal(isSubdomainOf("example.com", "example.com"), false);
  assert.equal(isSubdomainOf("badexample.com", "example.com"), false);
  assert.equal(isSubdomainOf(".example.com", "example.com"), false);
  assert.equal(isSubdomainOf("example.com", ""), false);
});

Deno.test("splitAddress() parses bare addresses with the same rules", () => {
  assert.deepEqual(splitAddress("Ops@Example.org"), {
    local: "Ops",
    domain: "example.org",
    address: "Ops@example.org",
  });
  assert.equal(splitAddress("jörg@bücher.example")?.domain, "bücher.example");
  assert.equal(splitAddress("<a@b.example>"), null);
  assert.equal(splitAddress("a@b.example."), null);
  assert.equal(splitAddress("no-at-sign"), null);
  assert.equal(splitAddress(" a@b.example"), null);
  assert.equal(splitAddress(`${"l".repeat(65)}@b.example`), null);
});
