import assert from "node:assert/strict";
import { formatReply, type Reply } from "../../../relay/smtp/reply.ts";
import { encodeBase64Text } from "../../../relay/smtp/sasl.ts";
import { type SessionOptions, SmtpSession, type Step } from "../../../relay/smtp/session.ts";

const OPTIONS: SessionOptions = {
  hostname: "relay.test",
  maxMessageSize: 1000,
  maxRecipients: 3,
  maxErrors: 10,
  starttls: true,
  implicitTls: false,
  plaintextAuth: false,
};

/** Drives a session like the shell does, with a policy that accepts everything except "bad". */
function drive(session: SmtpSession, line: string): { replies: string[]; effects: string[] } {
  const replies: Reply[] = [];
  const effects: string[] = [];
  let step: Step | null = session.onLine(line);
  while (step !== null) {
    replies.push(...step.replies);
    const effect = step.effect;
    step = null;
    if (effect === null) break;
    effects.push(effect.type);
    switch (effect.type) {
      case "auth":
        step = session.authResult(effect.password === "secret" ? "ok" : "failed", effect.login);
        break;
      case "mail":
        step = session.mailResult(effect, null);
        break;
      case "rcpt":
        step = session.rcptResult(
          effect.rcpt,
          effect.rcpt.mailbox.local === "bad" ? { code: 550, enhanced: "5.1.1", text: "no" } : null,
        );
        break;
    }
  }
  return { replies: replies.map((r) => formatReply(r).trimEnd()), effects };
}

function codes(session: SmtpSession, line: string): number[] {
  return drive(session, line).replies.map((r) => Number(r.split("\r\n").at(-1)!.slice(0, 3)));
}

Deno.test("SmtpSession refuses MAIL before EHLO with 503", () => {
  const s = new SmtpSession(OPTIONS);
  assert.deepEqual(drive(s, "MAIL FROM:<a@b.example>").replies, [
    "503 5.5.1 Error: send HELO/EHLO first",
  ]);
});

Deno.test("SmtpSession advertises the contract's extensions and hides AUTH before TLS", () => {
  const s = new SmtpSession(OPTIONS);
  const [ehlo] = drive(s, "EHLO client.example").replies;
  const lines = ehlo.split("\r\n");
  assert.equal(lines[0], "250-relay.test");
  assert.ok(lines.includes("250-SIZE 1000"));
  assert.ok(lines.includes("250-STARTTLS"));
  assert.ok(lines.includes("250-PIPELINING"));
  assert.ok(lines.includes("250-ENHANCEDSTATUSCODES"));
  assert.ok(lines.includes("250-8BITMIME"));
  assert.equal(lines.at(-1), "250 DSN");
  assert.ok(!lines.some((l) => l.includes("AUTH")));
  assert.deepEqual(codes(s, "AUTH PLAIN " + encodeBase64Text("\0u@x.example\0secret")), [538]);
});

Deno.test("SmtpSession resets everything after STARTTLS and then offers AUTH", () => {
  const s = new SmtpSession(OPTIONS);
  drive(s, "EHLO client.example");
  drive(s, "MAIL FROM:<a@b.example>");
  assert.deepEqual(drive(s, "STARTTLS"), {
    replies: ["220 2.0.0 Ready to start TLS"],
    effects: ["starttls"],
  });
  s.tlsStarted();
  assert.equal(s.tx, null);
  assert.deepEqual(codes(s, "MAIL FROM:<a@b.example>"), [503]);
  const [ehlo] = drive(s, "EHLO client.example").replies;
  assert.ok(ehlo.includes("250-AUTH PLAIN LOGIN"));
  assert.ok(!ehlo.includes("STARTTLS"));
  assert.deepEqual(codes(s, "STARTTLS"), [503]);
});

Deno.test("SmtpSession accepts AUTH PLAIN with and without an initial response", () => {
  const s = new SmtpSession({ ...OPTIONS, implicitTls: true });
  drive(s, "EHLO c");
  assert.deepEqual(drive(s, "AUTH PLAIN").replies, ["334"]);
  assert.deepEqual(drive(s, encodeBase64Text("\0u@x.example\0secret")).replies, [
    "235 2.7.0 Authentication successful",
  ]);
  assert.equal(s.login, "u@x.example");
  assert.deepEqual(codes(s, "AUTH PLAIN"), [503]);

  const t = new SmtpSession({ ...OPTIONS, implicitTls: true });
  drive(t, "EHLO c");
  assert.deepEqual(codes(t, "AUTH PLAIN " + encodeBase64Text("\0u@x.example\0wrong")), [535]);
  assert.equal(t.login, null);
});

Deno.test("SmtpSession refuses AUTH PLAIN whose authorization identity differs from the login", () => {
  const s = new SmtpSession({ ...OPTIONS, implicitTls: true });
  drive(s, "EHLO c");
  const r = drive(s, "AUTH PLAIN " + encodeBase64Text("boss@x.example\0u@x.example\0secret"));
  assert.deepEqual(r.effects, []);
  assert.match(r.replies[0], /^535 5\.7\.8/);
  const same = drive(s, "AUTH PLAIN " + encodeBase64Text("u@x.example\0u@x.example\0secret"));
  assert.match(same.replies[0], /^235/);
});

Deno.test("SmtpSession runs AUTH LOGIN, and '*' cancels it", () => {
  const s = new SmtpSession({ ...OPTIONS, implicitTls: true });
  drive(s, "EHLO c");
  assert.deepEqual(drive(s, "AUTH LOGIN").replies, ["334 VXNlcm5hbWU6"]);
  assert.deepEqual(drive(s, "*").replies, ["501 5.0.0 Authentication aborted"]);
  assert.deepEqual(drive(s, "AUTH LOGIN " + encodeBase64Text("u@x.example")).replies, [
    "334 UGFzc3dvcmQ6",
  ]);
  assert.deepEqual(codes(s, encodeBase64Text("secret")), [235]);
});

Deno.test("SmtpSession answers unknown, bad-syntax and sequence errors with the right codes", () => {
  const s = new SmtpSession({ ...OPTIONS, maxErrors: 50 });
  assert.deepEqual(codes(s, "FOO"), [502]);
  assert.deepEqual(codes(s, "EHLO"), [501]);
  drive(s, "EHLO c");
  assert.deepEqual(codes(s, "RCPT TO:<a@b.example>"), [503]);
  assert.deepEqual(codes(s, "DATA"), [503]);
  assert.deepEqual(codes(s, "MAIL FROM:<not an address>"), [501]);
  assert.deepEqual(codes(s, "MAIL FROM:<a@b.example> FOO=1"), [555]);
  assert.deepEqual(codes(s, "MAIL FROM:<a@b.example> SIZE=5000"), [552]);
  assert.deepEqual(codes(s, "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x1"), [
    250,
  ]);
  assert.deepEqual(codes(s, "MAIL FROM:<a@b.example>"), [503]);
  assert.deepEqual(codes(s, "DATA"), [554]);
  assert.deepEqual(codes(s, "RCPT TO:<x@y.example> NOTIFY=NEVER,SUCCESS"), [501]);
  assert.deepEqual(codes(s, "RCPT TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y"), [
    250,
  ]);
  assert.deepEqual(codes(s, "VRFY x@y.example"), [252]);
  assert.deepEqual(drive(s, "DATA"), {
    replies: ["354 End data with <CR><LF>.<CR><LF>"],
    effects: ["data"],
  });
});

Deno.test("SmtpSession limits recipients per message with 452", () => {
  const s = new SmtpSession(OPTIONS);
  drive(s, "EHLO c");
  drive(s, "MAIL FROM:<>");
  for (let i = 0; i < 3; i++) assert.deepEqual(codes(s, `RCPT TO:<r${i}@y.example>`), [250]);
  assert.deepEqual(drive(s, "RCPT TO:<r9@y.example>").replies, [
    "452 4.5.3 Error: too many recipients",
  ]);
});

Deno.test("SmtpSession closes after too many errors", () => {
  const s = new SmtpSession({ ...OPTIONS, maxErrors: 3 });
  codes(s, "X");
  codes(s, "Y");
  const last = drive(s, "Z");
  assert.deepEqual(last.effects, ["close"]);
  assert.match(last.replies.at(-1)!, /^421 4\.7\.0/);
});

Deno.test("SmtpSession closes on an HTTP request line and on QUIT", () => {
  const s = new SmtpSession(OPTIONS);
  const http = drive(s, "GET / HTTP/1.1");
  assert.deepEqual(http.effects, ["close"]);
  assert.match(http.replies[0], /^554 5\.5\.1/);
  const q = new SmtpSession(OPTIONS);
  assert.deepEqual(drive(q, "QUIT"), { replies: ["221 2.0.0 Bye"], effects: ["close"] });
});

Deno.test("SmtpSession accepts no mail from an early talker", () => {
  const s = new SmtpSession(OPTIONS);
  s.markEarlyTalker();
  const r = drive(s, "EHLO c");
  assert.deepEqual(r.effects, ["close"]);
  assert.match(r.replies[0], /^554 5\.5\.1/);
});

Deno.test("SmtpSession answers a too-long line with 500 and keeps going", () => {
  const s = new SmtpSession(OPTIONS);
  const r = s.onLine("", true);
  assert.deepEqual(r.replies.map((x) => x.code), [500]);
  assert.deepEqual(codes(s, "EHLO c").length, 1);
});

Deno.test("SmtpSession requires SMTPUTF8 for a non-ASCII address", () => {
  const s = new SmtpSession(OPTIONS);
  drive(s, "EHLO c");
  assert.deepEqual(codes(s, "MAIL FROM:<jörg@b.example>"), [553]);
  assert.deepEqual(codes(s, "MAIL FROM:<jörg@b.example> SMTPUTF8"), [250]);
  assert.deepEqual(codes(s, "RCPT TO:<müller@c.example>"), [250]);
});
