import assert from "node:assert/strict";
import { formatReply, REPLY, toPermanent } from "../../../relay/smtp/reply.ts";

Deno.test("REPLY entries have an enhanced class that matches the code class", () => {
  for (const [name, reply] of Object.entries(REPLY)) {
    if (reply.enhanced === null) {
      assert.ok([334, 354].includes(reply.code), `${name} lacks an enhanced code`);
      continue;
    }
    assert.match(reply.enhanced, /^[245]\.\d{1,3}\.\d{1,3}$/, name);
    assert.equal(
      reply.enhanced[0],
      String(reply.code)[0],
      `${name}: ${reply.code} ${reply.enhanced}`,
    );
  }
});

Deno.test("formatReply() writes continuation lines with a dash and the last with a space", () => {
  assert.equal(
    formatReply({ code: 250, enhanced: null, text: ["a", "b", "c"] }),
    "250-a\r\n250-b\r\n250 c\r\n",
  );
  assert.equal(formatReply(REPLY.bye), "221 2.0.0 Bye\r\n");
});

Deno.test("toPermanent() turns 4xx into 5xx with a matching enhanced class", () => {
  assert.deepEqual(toPermanent({ code: 450, enhanced: "4.1.7", text: "x" }), {
    code: 550,
    enhanced: "5.1.7",
    text: "x",
  });
  assert.equal(toPermanent(REPLY.bye), REPLY.bye);
});
