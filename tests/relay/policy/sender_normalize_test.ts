import assert from "node:assert/strict";
import { normalizeSender } from "../../../relay/policy/sender_normalize.ts";

Deno.test("normalizeSender() lowercases and strips a +extension", () => {
  assert.equal(normalizeSender("Alice+News@Far.Example"), "alice@far.example");
  assert.equal(normalizeSender("alice@far.example"), "alice@far.example");
});

Deno.test("normalizeSender() removes BATV signatures (prvs, msprvs1, btv1)", () => {
  assert.equal(normalizeSender("prvs=1234abcd5e=bob@example.com"), "bob@example.com");
  assert.equal(normalizeSender("PRVS=0987zyxwvu=Bob@Example.com"), "bob@example.com");
  assert.equal(normalizeSender("msprvs1=19755YBpLQEq8=bob@example.com"), "bob@example.com");
  assert.equal(normalizeSender("btv1==052c6ac8b3b==bob@example.com"), "bob@example.com");
});

Deno.test("normalizeSender() recovers the original sender from SRS0 and SRS1", () => {
  assert.equal(
    normalizeSender("SRS0=HHH=TT=orig.example=alice@forwarder.example"),
    "alice@orig.example",
  );
  assert.equal(
    normalizeSender("SRS0+xyzW=2F=Orig.Example=Alice@forwarder.example"),
    "alice@orig.example",
  );
  assert.equal(
    normalizeSender("SRS1=HHH=first.example==HHH=TT=orig.example=alice@second.example"),
    "alice@orig.example",
  );
  // Two signed days of one forwarded sender meet the same triplet.
  assert.equal(
    normalizeSender("SRS0=a1b2=ZZ=orig.example=alice@fwd.example"),
    normalizeSender("SRS0=c3d4=ZY=orig.example=alice@fwd.example"),
  );
});

Deno.test("normalizeSender() folds VERP and message ids so each bounce address matches", () => {
  assert.equal(
    normalizeSender("list-bounces+bob=example.net@lists.example.org"),
    "list-bounces@lists.example.org",
  );
  assert.equal(normalizeSender("bounce-12345-678@mailer.example"), "bounce-#-#@mailer.example");
  assert.equal(
    normalizeSender("bounce-12345-678@mailer.example"),
    normalizeSender("bounce-99-1@mailer.example"),
  );
  assert.equal(normalizeSender("msg-a1b2c3d4e5f6@mailer.example"), "msg-#@mailer.example");
  assert.equal(normalizeSender("john.doe@example.com"), "john.doe@example.com");
});
