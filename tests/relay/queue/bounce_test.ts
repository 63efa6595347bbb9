import assert from "node:assert/strict";
// A test-only MIME parser, pinned here rather than in deno.json as the lead asked.
import PostalMime from "postal-mime";
import {
  buildDsn,
  type DsnInput,
  type DsnRecipient,
  isDeliveryReport,
  MAX_RETURNED_CONTENT,
  needs8bit,
  originalHeaders,
  shouldNotify,
} from "../../../relay/queue/bounce.ts";
import {
  decodeXtext,
  parseContentType,
  quotedPrintable,
} from "../../../relay/queue/bounce_text.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NOW = Date.UTC(2026, 10, 23, 11, 9, 14);
const ARRIVAL = Date.UTC(2026, 10, 18, 8, 0, 0);

const ORIGINAL = "Received: from client.example.com ([192.0.2.1])\r\n" +
  "\tby relay.example.net (relay) with ESMTPSA id 0ABC; Wed, 18 Nov 2026 08:00:00 +0000\r\n" +
  "From: Alice <alice@example.com>\r\n" +
  "To: bob@example.org, carol@example.org\r\n" +
  "Subject: Quarterly numbers\r\n" +
  "Message-ID: <orig-1@example.com>\r\n" +
  "\r\n" +
  "Hello Bob,\r\n" +
  "the numbers are attached.\r\n";

function recipient(overrides: Partial<DsnRecipient>): DsnRecipient {
  return {
    address: "bob@example.org",
    orcpt: null,
    action: "failed",
    status: "5.1.1",
    remoteMta: "mx.example.org",
    diagnostic: "550 5.1.1 <bob@example.org>: user unknown",
    lastAttempt: NOW - 1000,
    willRetryUntil: null,
    ...overrides,
  };
}

function input(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: "relay.example.net",
    envid: null,
    arrivalDate: ARRIVAL,
    now: NOW,
    to: "alice@example.com",
    recipients: [recipient({})],
    original: encoder.encode(ORIGINAL),
    returnContent: "full",
    boundary: "dsn-0123456789",
    messageId: "dsn-1@relay.example.net",
    ...overrides,
  };
}

function text(content: ArrayBuffer | Uint8Array | string): string {
  return typeof content === "string" ? content : decoder.decode(content);
}

/** Reads message/delivery-status content into one map per block (RFC 3464 §2.1), folds undone. */
function statusBlocks(content: string): Map<string, string>[] {
  return content.replace(/\r\n/g, "\n").trim().split(/\n\n+/).map((block) => {
    const fields = new Map<string, string>();
    for (const line of block.replace(/\n[ \t]+/g, " ").split("\n")) {
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    return fields;
  });
}

function assertWellFormedLines(bytes: Uint8Array): void {
  const raw = decoder.decode(bytes);
  assert.doesNotMatch(raw, /\r(?!\n)|(?<!\r)\n/, "bare CR or LF");
  for (const line of raw.split("\r\n")) {
    assert.ok(encoder.encode(line).length <= 998, `line of ${line.length} octets`);
  }
}

Deno.test("buildDsn() builds a multipart/report of three parts that a MIME parser reads", async () => {
  const dsn = buildDsn(input({
    recipients: [
      recipient({}),
      recipient({
        address: "carol@example.org",
        action: "delayed",
        status: "4.2.2",
        remoteMta: "mx2.example.org",
        diagnostic: "452 4.2.2 Mailbox full",
        willRetryUntil: ARRIVAL + 5 * 86_400_000,
      }),
    ],
  }));
  const email = await PostalMime.parse(dsn);
  const contentType = email.headers.find((h) => h.key === "content-type")!.value;
  const parsed = parseContentType(contentType);
  assert.equal(parsed.type, "multipart/report");
  assert.equal(parsed.params.get("report-type"), "delivery-status");
  assert.equal(email.subject, "Undelivered Mail Returned to Sender");
  assert.deepEqual(email.from, {
    address: "MAILER-DAEMON@relay.example.net",
    name: "Mail Delivery System",
  });
  assert.equal(email.to?.[0].address, "alice@example.com");
  assert.equal(email.messageId, "<dsn-1@relay.example.net>");
  assert.equal(email.date, new Date(NOW).toISOString());
  assert.equal(email.headers.find((h) => h.key === "auto-submitted")?.value, "auto-replied");
  assert.equal(email.headers.find((h) => h.key === "mime-version")?.value, "1.0");

  // Part 1: the explanation names each recipient and the remote reply.
  assert.match(email.text!, /<bob@example\.org>/);
  assert.match(email.text!, /mx\.example\.org answered: 550 5\.1\.1 <bob@example\.org>: user/);
  assert.match(email.text!, /<carol@example\.org>/);
  assert.match(email.text!, /452 4\.2\.2 Mailbox full/);
  // Parts 2 and 3.
  assert.deepEqual(email.attachments.map((a) => a.mimeType), [
    "message/delivery-status",
    "message/rfc822",
  ]);
  const [perMessage, bob, carol, ...rest] = statusBlocks(text(email.attachments[0].content));
  assert.equal(rest.length, 0);
  assert.equal(perMessage.get("reporting-mta"), "dns; relay.example.net");
  assert.equal(perMessage.get("arrival-date"), "Wed, 18 Nov 2026 08:00:00 +0000");
  assert.equal(perMessage.has("original-envelope-id"), false);
  assert.equal(bob.get("final-recipient"), "rfc822; bob@example.org");
  assert.equal(bob.get("action"), "failed");
  assert.equal(bob.get("status"), "5.1.1");
  assert.equal(bob.get("remote-mta"), "dns; mx.example.org");
  assert.equal(bob.get("diagnostic-code"), "smtp; 550 5.1.1 <bob@example.org>: user unknown");
  assert.equal(bob.get("last-attempt-date"), "Mon, 23 Nov 2026 11:09:13 +0000");
  assert.equal(bob.has("will-retry-until"), false);
  assert.equal(bob.has("original-recipient"), false);
  assert.equal(carol.get("action"), "delayed");
  assert.equal(carol.get("status"), "4.2.2");
  assert.equal(carol.get("will-retry-until"), "Mon, 23 Nov 2026 08:00:00 +0000");

  const returned = await PostalMime.parse(email.attachments[1].content);
  assert.equal(returned.subject, "Quarterly numbers");
  assert.equal(returned.messageId, "<orig-1@example.com>");
  assert.equal(returned.text?.trim(), "Hello Bob,\nthe numbers are attached.");
  const raw = decoder.decode(dsn);
  assert.equal(raw.split("\r\n--dsn-0123456789\r\n").length - 1, 3, "three body parts");
  assert.match(raw, /\r\n--dsn-0123456789\r\nContent-Type: text\/plain; charset=us-ascii\r\n/);
  // The original comes back byte for byte, ahead of the boundary's CRLF.
  assert.ok(decoder.decode(dsn).includes(`\r\n\r\n${ORIGINAL}\r\n--dsn-0123456789--\r\n`));
  assertWellFormedLines(dsn);
  assert.equal(needs8bit(dsn), false);
});

Deno.test("buildDsn() decodes xtext in ORCPT and ENVID", async () => {
  const dsn = buildDsn(input({
    envid: "QQ314159+2Bx+3Dy",
    recipients: [recipient({ orcpt: "rfc822;bob+2Bsales@example.org" })],
  }));
  const email = await PostalMime.parse(dsn);
  const [perMessage, bob] = statusBlocks(text(email.attachments[0].content));
  assert.equal(perMessage.get("original-envelope-id"), "QQ314159+x=y");
  assert.equal(bob.get("original-recipient"), "rfc822; bob+sales@example.org");
});

Deno.test("buildDsn() never lets a decoded ORCPT or ENVID break a header line", async () => {
  const dsn = buildDsn(input({
    envid: "id+0D+0ABcc:+20x@evil",
    recipients: [recipient({ orcpt: "rfc822;a+0D+0AAction:+20delivered@example.org" })],
  }));
  const email = await PostalMime.parse(dsn);
  const [perMessage, bob] = statusBlocks(text(email.attachments[0].content));
  assert.equal(perMessage.get("original-envelope-id"), "id+0D+0ABcc:+20x@evil");
  assert.equal(perMessage.has("bcc"), false);
  assert.equal(
    bob.get("original-recipient"),
    "utf-8; a\\x{0D}\\x{0A}Action:\\x{20}delivered@example.org",
  );
  assert.equal(bob.get("action"), "failed");
  assertWellFormedLines(dsn);
});

Deno.test("buildDsn() writes non-ASCII addresses as utf-8 address type and keeps 7bit", async () => {
  const dsn = buildDsn(input({
    recipients: [recipient({
      address: "jürgen@example.org",
      diagnostic: "550 5.1.1 Benutzer unbekannt: jürgen",
    })],
    returnContent: "headers",
  }));
  const email = await PostalMime.parse(dsn);
  const [, bob] = statusBlocks(text(email.attachments[0].content));
  assert.equal(bob.get("final-recipient"), "utf-8; j\\x{FC}rgen@example.org");
  assert.equal(bob.get("diagnostic-code"), "smtp; 550 5.1.1 Benutzer unbekannt: j?rgen");
  // The explanation keeps the real text, as quoted-printable UTF-8.
  assert.match(email.text!, /<jürgen@example\.org>/);
  assert.match(email.text!, /Benutzer unbekannt: jürgen/);
  assert.match(decoder.decode(dsn), /charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable/);
  assert.equal(needs8bit(dsn), false);
});

Deno.test("buildDsn() returns only the headers as text/rfc822-headers when asked", async () => {
  const dsn = buildDsn(input({ returnContent: "headers" }));
  const email = await PostalMime.parse(dsn);
  assert.equal(email.attachments[1].mimeType, "text/rfc822-headers");
  const headers = text(email.attachments[1].content);
  assert.match(headers, /Subject: Quarterly numbers/);
  assert.match(headers, /Message-ID: <orig-1@example\.com>/);
  assert.doesNotMatch(headers, /Hello Bob/);
  assert.doesNotMatch(decoder.decode(dsn), /Hello Bob/);
  assert.match(email.text!, /header section of your original message is attached/);
});

Deno.test("buildDsn() returns headers only past 10 MiB and says so", async () => {
  const body = "x".repeat(76) + "\r\n";
  const big = ORIGINAL + body.repeat(Math.ceil(MAX_RETURNED_CONTENT / body.length));
  const dsn = buildDsn(input({ original: encoder.encode(big) }));
  assert.ok(dsn.length < 64 * 1024);
  const email = await PostalMime.parse(dsn);
  assert.equal(email.attachments[1].mimeType, "text/rfc822-headers");
  assert.match(email.text!, /larger than 10485760 bytes, so only\s+its\s+header\s+section/);
});

Deno.test("buildDsn() keeps every line within 998 octets for long diagnostics", async () => {
  const long = "550 5.7.1 " + "word ".repeat(150) + "x".repeat(5000);
  const dsn = buildDsn(input({ recipients: [recipient({ diagnostic: long })] }));
  assertWellFormedLines(dsn);
  const email = await PostalMime.parse(dsn);
  const [, bob] = statusBlocks(text(email.attachments[0].content));
  const code = bob.get("diagnostic-code")!;
  assert.ok(code.startsWith("smtp; 550 5.7.1 word word"));
  assert.ok(code.endsWith(" ..."), "cut at 2000 characters");
  // The explanation carries the long word too; quoted-printable keeps its lines short.
  assert.match(
    decoder.decode(dsn),
    /charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable/,
  );
  assert.match(email.text!, /\n {6}x{1000}/);
});

Deno.test("buildDsn() marks an 8-bit original 8bit, and quotes 8-bit headers when returning headers", async () => {
  const original = encoder.encode("Subject: Grüße\r\nFrom: a@example.com\r\n\r\nHallo Jürgen\r\n");
  const full = buildDsn(input({ original }));
  assert.equal(needs8bit(full), true);
  assert.match(decoder.decode(full), /message\/rfc822\r\nContent-Transfer-Encoding: 8bit/);
  const returned = await PostalMime.parse((await PostalMime.parse(full)).attachments[1].content);
  assert.equal(returned.subject, "Grüße");

  const headersOnly = buildDsn(input({ original, returnContent: "headers" }));
  assert.equal(needs8bit(headersOnly), false);
  const raw = decoder.decode(headersOnly);
  assert.match(raw, /text\/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable/);
  assert.match(raw, /Subject: Gr=C3=BC=C3=9Fe/);
});

Deno.test("buildDsn() returns only headers when the original has bare line feeds", async () => {
  const original = encoder.encode("Subject: odd\r\n\r\nline one\nline two\r\n");
  const dsn = buildDsn(input({ original }));
  assertWellFormedLines(dsn);
  const email = await PostalMime.parse(dsn);
  assert.equal(email.attachments[1].mimeType, "text/rfc822-headers");
  assert.match(email.text!, /Only the header section/);
});

Deno.test("buildDsn() picks the subject and Will-Retry-Until by action", async () => {
  const delayed = buildDsn(input({
    recipients: [recipient({
      action: "delayed",
      status: "4.4.1",
      willRetryUntil: NOW + 3_600_000,
    })],
  }));
  const d = await PostalMime.parse(delayed);
  assert.equal(d.subject, "Delayed Mail (still being retried)");
  assert.equal(
    statusBlocks(text(d.attachments[0].content))[1].get("will-retry-until"),
    "Mon, 23 Nov 2026 12:09:14 +0000",
  );
  assert.match(d.text!, /still trying/);

  const delivered = buildDsn(input({
    recipients: [recipient({
      action: "delivered",
      status: "2.0.0",
      diagnostic: "250 2.0.0 Ok",
      willRetryUntil: NOW,
    })],
  }));
  const s = await PostalMime.parse(delivered);
  assert.equal(s.subject, "Successful Mail Delivery Report");
  assert.equal(statusBlocks(text(s.attachments[0].content))[1].has("will-retry-until"), false);
});

Deno.test("buildDsn() lengthens the boundary when the original contains it", async () => {
  const original = encoder.encode("Subject: trap\r\n\r\n--dsn-0123456789\r\nfake part\r\n");
  const dsn = buildDsn(input({ original }));
  const raw = decoder.decode(dsn);
  assert.match(raw, /boundary="dsn-0123456789=1"/);
  const email = await PostalMime.parse(dsn);
  assert.equal(email.attachments.length, 2);
  const returned = await PostalMime.parse(email.attachments[1].content);
  assert.match(returned.text!, /--dsn-0123456789\nfake part/);
});

Deno.test("buildDsn() refuses the null sender and malformed input", () => {
  assert.throws(() => buildDsn(input({ to: "" })), RangeError);
  assert.throws(() => buildDsn(input({ recipients: [] })), RangeError);
  assert.throws(() => buildDsn(input({ to: "a@b\r\nBcc: x@y" })), SyntaxError);
  assert.throws(
    () => buildDsn(input({ recipients: [recipient({ status: "550" })] })),
    {
      name: "SyntaxError",
      message:
        'Cannot build DSN for "alice@example.com": status "550" is not an enhanced status code',
    },
  );
  assert.throws(() => buildDsn(input({ boundary: "has space" })), SyntaxError);
  assert.throws(() => buildDsn(input({ messageId: "<x@y>" })), SyntaxError);
  assert.throws(() => buildDsn(input({ now: NaN })), RangeError);
});

Deno.test("shouldNotify() follows the RFC 3461 NOTIFY table", () => {
  const table: [string[] | null, boolean, boolean, boolean][] = [
    // notify, failed, delayed, delivered
    [null, true, true, false],
    [["NEVER"], false, false, false],
    [["FAILURE"], true, false, false],
    [["DELAY"], false, true, false],
    [["SUCCESS"], false, false, true],
    [["SUCCESS", "FAILURE"], true, false, true],
    [["success", "delay", "failure"], true, true, true],
    [[], false, false, false],
  ];
  for (const [notify, failed, delayed, delivered] of table) {
    const label = JSON.stringify(notify);
    assert.equal(shouldNotify(notify, "failed"), failed, `${label} failed`);
    assert.equal(shouldNotify(notify, "delayed"), delayed, `${label} delayed`);
    assert.equal(shouldNotify(notify, "delivered"), delivered, `${label} delivered`);
  }
});

Deno.test("isDeliveryReport() reads folded, quoted and commented Content-Type fields", () => {
  const yes = [
    "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n",
    'content-type: Multipart/Report;\r\n\treport-type="Delivery-Status";\r\n boundary=x\r\n',
    'Subject: x\r\nCONTENT-TYPE  :  multipart/report (a report)\r\n ; boundary="a;b"\r\n' +
    "  ; report-type = delivery-status (dsn)\r\n\r\nbody",
    "Content-Type: multipart/report; report-type=global-delivery-status; boundary=x\n\n",
  ];
  const no = [
    "Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n",
    "Content-Type: multipart/mixed; boundary=x\r\n",
    'Content-Type: text/plain; x="report-type=delivery-status"\r\n',
    'Content-Type: multipart/report; boundary="report-type=delivery-status"\r\n',
    "Subject: x\r\n\r\nContent-Type: multipart/report; report-type=delivery-status\r\n",
    "X-Content-Type: multipart/report; report-type=delivery-status\r\n",
    "",
  ];
  for (const h of yes) assert.equal(isDeliveryReport(h), true, JSON.stringify(h));
  for (const h of no) assert.equal(isDeliveryReport(h), false, JSON.stringify(h));
});

Deno.test("isDeliveryReport() recognizes the DSNs buildDsn() makes", () => {
  const dsn = decoder.decode(buildDsn(input()));
  assert.equal(isDeliveryReport(dsn.slice(0, dsn.indexOf("\r\n\r\n") + 4)), true);
});

Deno.test("originalHeaders() returns the header section with its empty line", () => {
  assert.equal(
    decoder.decode(originalHeaders(encoder.encode(ORIGINAL))),
    ORIGINAL.slice(0, ORIGINAL.indexOf("\r\n\r\n") + 4),
  );
  assert.equal(
    decoder.decode(originalHeaders(encoder.encode("A: 1\r\nB: 2\r\n"))),
    "A: 1\r\nB: 2\r\n\r\n",
  );
  assert.equal(decoder.decode(originalHeaders(encoder.encode("A: 1"))), "A: 1\r\n\r\n");
  assert.equal(decoder.decode(originalHeaders(encoder.encode("\r\nbody\r\n"))), "\r\n");
  assert.equal(decoder.decode(originalHeaders(new Uint8Array())), "\r\n");
});

Deno.test("needs8bit() finds octets over 127", () => {
  assert.equal(needs8bit(encoder.encode("plain ascii\r\n")), false);
  assert.equal(needs8bit(new Uint8Array([0x41, 0x80])), true);
  assert.equal(needs8bit(new Uint8Array()), false);
});

Deno.test("decodeXtext() decodes +XX octets as UTF-8 and leaves a malformed + alone", () => {
  assert.equal(decodeXtext("a+2Bb+3D"), "a+b=");
  assert.equal(decodeXtext("j+C3+BCrgen"), "jürgen");
  assert.equal(decodeXtext("a+zz+"), "a+zz+");
});

Deno.test("quotedPrintable() keeps lines within 76 characters and encodes trailing blanks", () => {
  const qp = quotedPrintable(encoder.encode("a".repeat(200) + " \r\n= é\r\n"));
  for (const line of qp.split("\r\n")) assert.ok(line.length <= 76, line);
  assert.match(qp, /=20\r\n=3D =C3=A9\r\n$/);
  const undone = qp.replace(/=\r\n/g, "").replace(
    /=([0-9A-F]{2})/g,
    (_, h) => String.fromCharCode(parseInt(h, 16)),
  );
  assert.equal(undone, "a".repeat(200) + " \r\n= \xc3\xa9\r\n");
});
