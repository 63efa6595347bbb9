/** MTA-STS pure parts: TXT record, policy file, MX patterns, HTTP response reading. */
import assert from "node:assert/strict";
import {
  MAX_AGE_LIMIT,
  mxMatchesPolicy,
  parseStsPolicy,
  parseStsRecord,
} from "../../../relay/delivery/mta_sts.ts";
import { parseResponse } from "../../../relay/delivery/mta_sts_fetch.ts";

Deno.test("parseStsRecord() reads the id of the one v=STSv1 record", () => {
  assert.deepEqual(parseStsRecord(["v=STSv1; id=20260701T000000"]), {
    kind: "ok",
    id: "20260701T000000",
  });
  assert.deepEqual(parseStsRecord(["v=spf1 -all", "v=STSv1;id=abc;ext=1;"]), {
    kind: "ok",
    id: "abc",
  });
});

Deno.test("parseStsRecord() tells no record from an unusable one", () => {
  assert.deepEqual(parseStsRecord([]), { kind: "none" });
  assert.deepEqual(parseStsRecord(["v=spf1 -all"]), { kind: "none" });
  assert.equal(parseStsRecord(["v=STSv1; id=a", "v=STSv1; id=b"]).kind, "invalid");
  assert.equal(parseStsRecord(["v=STSv1; id=not-alnum!"]).kind, "invalid");
  assert.equal(parseStsRecord(["v=STSv1; ext=1"]).kind, "invalid");
  assert.equal(parseStsRecord([`v=STSv1; id=${"a".repeat(33)}`]).kind, "invalid");
});

Deno.test("parseStsPolicy() reads mode, max_age and every mx, LF or CRLF", () => {
  const policy = parseStsPolicy(
    "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.Example.NET.\nmax_age: 604800\n",
  );
  assert.deepEqual(policy, {
    mode: "enforce",
    mx: ["mail.example.com", "*.example.net"],
    maxAge: 604800,
  });
  const none = parseStsPolicy("version: STSv1\r\nmode: none\r\nmax_age: 0\r\nfuture: x\r\n");
  assert.deepEqual(none, { mode: "none", mx: [], maxAge: 0 });
});

Deno.test("parseStsPolicy() rejects a bad version, mode, max_age or missing mx", () => {
  const bad = [
    "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
    "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
    "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
    `version: STSv1\nmode: enforce\nmx: a.example\nmax_age: ${MAX_AGE_LIMIT + 1}\n`,
    "version: STSv1\nmode: testing\nmax_age: 100\n",
    "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
    "<html>not a policy</html>",
  ];
  for (const text of bad) assert.throws(() => parseStsPolicy(text), SyntaxError, text);
});

Deno.test("mxMatchesPolicy() matches exact names and one-label wildcards (RFC 8461 §4.1)", () => {
  const patterns = ["mail.example.com", "*.example.net"];
  assert.ok(mxMatchesPolicy("MAIL.example.com.", patterns));
  assert.ok(mxMatchesPolicy("mx1.example.net", patterns));
  assert.ok(!mxMatchesPolicy("example.net", patterns));
  assert.ok(!mxMatchesPolicy("a.b.example.net", patterns));
  assert.ok(!mxMatchesPolicy("evilexample.net", patterns));
  assert.ok(!mxMatchesPolicy("other.example.com", patterns));
});

const enc = (text: string) => new TextEncoder().encode(text);

Deno.test("parseResponse() returns a 200 text/plain body by length, chunks or close", () => {
  const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n";
  assert.equal(parseResponse(enc(`${head}Content-Length: 5\r\n\r\nhello`), false), "hello");
  assert.equal(parseResponse(enc(`${head}Content-Length: 5\r\n\r\nhel`), false), null);
  const chunked = `${head}Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n`;
  assert.equal(parseResponse(enc(chunked), false), "hello");
  assert.equal(
    parseResponse(enc(`${head}Transfer-Encoding: chunked\r\n\r\n3\r\nhel`), false),
    null,
  );
  assert.equal(parseResponse(enc(`${head}\r\nhello`), false), null);
  assert.equal(parseResponse(enc(`${head}\r\nhello`), true), "hello");
});

Deno.test("parseResponse() refuses redirects, errors, other types and big bodies", () => {
  assert.throws(
    () => parseResponse(enc("HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n"), false),
    /HTTP status 301/,
  );
  assert.throws(() => parseResponse(enc("HTTP/1.1 404 No\r\n\r\n"), false), /404/);
  assert.throws(
    () => parseResponse(enc("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>"), true),
    /text\/html/,
  );
  assert.throws(
    () =>
      parseResponse(
        enc("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 70000\r\n\r\n"),
        false,
      ),
    /65536/,
  );
  assert.throws(() => parseResponse(enc("SSH-2.0-OpenSSH\r\n\r\n"), false), /not an HTTP/);
});
