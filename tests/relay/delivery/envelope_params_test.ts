import assert from "node:assert/strict";
import {
  planEnvelopeParams,
  type TransactionEnvelope,
} from "../../../relay/delivery/envelope_params.ts";

function extensions(...keywords: string[]): Map<string, string> {
  return new Map(keywords.map((keyword) => {
    const [name, ...params] = keyword.split(" ");
    return [name, params.join(" ")];
  }));
}

function envelope(extra: Partial<TransactionEnvelope> = {}): TransactionEnvelope {
  return {
    from: "a@example.org",
    recipients: [{ address: "b@example.net", params: ["NOTIFY=FAILURE", "ORCPT=rfc822;b@x"] }],
    mailParams: ["RET=HDRS", "ENVID=abc", "BODY=8BITMIME"],
    ...extra,
  };
}

Deno.test("planEnvelopeParams() sends DSN and BODY parameters only when advertised", () => {
  assert.deepEqual(planEnvelopeParams(extensions("PIPELINING"), envelope()), {
    ok: true,
    mail: [],
    rcpt: [[]],
  });
  assert.deepEqual(planEnvelopeParams(extensions("DSN", "8BITMIME"), envelope()), {
    ok: true,
    mail: ["RET=HDRS", "ENVID=abc", "BODY=8BITMIME"],
    rcpt: [["NOTIFY=FAILURE", "ORCPT=rfc822;b@x"]],
  });
});

Deno.test("planEnvelopeParams() adds SIZE=n when SIZE is advertised and ignores a caller's SIZE", () => {
  const plan = planEnvelopeParams(
    extensions("SIZE 1000"),
    envelope({ size: 999, mailParams: ["SIZE=5"] }),
  );
  assert.deepEqual(plan, { ok: true, mail: ["SIZE=999"], rcpt: [[]] });
  const unlimited = planEnvelopeParams(extensions("SIZE"), envelope({ size: 10 ** 9 }));
  assert.deepEqual(unlimited, { ok: true, mail: ["SIZE=1000000000"], rcpt: [[]] });
  assert.deepEqual(planEnvelopeParams(extensions(), envelope({ size: 10 })).ok, true);
});

Deno.test("planEnvelopeParams() fails with 552 5.3.4 over the SIZE limit", () => {
  const plan = planEnvelopeParams(extensions("SIZE 1000"), envelope({ size: 1001 }));
  assert.equal(plan.ok, false);
  if (plan.ok) return;
  assert.equal(plan.reply.code, 552);
  assert.equal(plan.reply.enhanced, "5.3.4");
});

Deno.test("planEnvelopeParams() fails with 553 5.6.7 when SMTPUTF8 is needed and missing", () => {
  for (
    const needy of [
      envelope({ mailParams: ["SMTPUTF8"] }),
      envelope({ from: "jörg@example.org" }),
      envelope({ recipients: [{ address: "用户@example.net", params: [] }] }),
    ]
  ) {
    const plan = planEnvelopeParams(extensions("8BITMIME"), needy);
    assert.equal(plan.ok, false);
    if (plan.ok) continue;
    assert.equal(plan.reply.code, 553);
    assert.equal(plan.reply.enhanced, "5.6.7");
    const offered = planEnvelopeParams(extensions("SMTPUTF8"), needy);
    assert.ok(offered.ok && offered.mail.includes("SMTPUTF8"));
  }
});

Deno.test("planEnvelopeParams() drops parameters that cannot travel over DATA or were not advertised", () => {
  const plan = planEnvelopeParams(
    extensions("8BITMIME", "BINARYMIME", "AUTH PLAIN"),
    envelope({ mailParams: ["BODY=BINARYMIME", "AUTH=<>", "MT-PRIORITY=3"], recipients: [] }),
  );
  assert.deepEqual(plan, { ok: true, mail: ["AUTH=<>"], rcpt: [] });
});
