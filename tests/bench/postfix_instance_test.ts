/**
 * The private Postfix instance and the workloads, for real: Postfix started
 * from its own config directory on loopback, driven by smtp-source and the
 * bench client, relaying into a counting smtp-sink, then stopped with no
 * process left. Ignored where Debian's postfix is not installed or not root.
 */
import assert from "node:assert/strict";
import { makeCertificate } from "../../bench/certificate.ts";
import { isRunning, processTree } from "../../bench/measure.ts";
import {
  PostfixInstance,
  postfixMainCf,
  postfixMasterCf,
  saslSmtpdConf,
} from "../../bench/postfix_instance.ts";
import { freePort, POSTFIX, SASLPASSWD2, SmtpSink } from "../../bench/postfix_tools.ts";
import {
  acceptRun,
  type BenchTarget,
  endToEndRun,
  targetLatency,
  tlsAuthRun,
} from "../../bench/workloads.ts";

const ACCEPT_MESSAGES = 300;
const ACCOUNT = { login: "user@bench.example", password: "bench-password-1" };

function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const CAN_RUN = Deno.build.os === "linux" && installed(POSTFIX) && installed(SASLPASSWD2) &&
  Deno.uid() === 0;

Deno.test("postfixMainCf() keeps the instance on loopback and relays to the sink", () => {
  const text = postfixMainCf({
    dir: "/b",
    smtpdPort: 2525,
    relayPort: 2600,
    cert: "/b/c.pem",
    key: "/b/c.key",
    ...ACCOUNT,
  });
  for (
    const line of [
      "queue_directory = /b/queue",
      "data_directory = /b/data",
      "inet_interfaces = 127.0.0.1",
      "mynetworks = 127.0.0.0/8",
      "relayhost = [127.0.0.1]:2600",
      "mydestination =",
      "smtpd_tls_cert_file = /b/c.pem",
      "smtpd_sasl_auth_enable = yes",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), line);
  }
  assert.equal(postfixMasterCf(2525).split("\n")[0], "127.0.0.1:2525 inet n - n - - smtpd");
  assert.match(saslSmtpdConf("/b"), /^sasldb_path: \/b\/sasldb2$/m);
});

Deno.test({
  name: "PostfixInstance relays smtp-source and STARTTLS + AUTH mail to the sink, then stops",
  ignore: !CAN_RUN,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bench-postfix-" });
    await Deno.chmod(dir, 0o755); // Postfix's daemons (user "postfix") work inside
    const sink = await SmtpSink.start(freePort());
    let postfix: PostfixInstance | null = null;
    try {
      const pair = await makeCertificate(dir);
      postfix = await PostfixInstance.start({
        dir: `${dir}/postfix`,
        smtpdPort: freePort(),
        relayPort: sink.port,
        ...pair,
        ...ACCOUNT,
      });
      const t: BenchTarget = {
        name: "postfix",
        port: postfix.port,
        rootPid: postfix.masterPid,
        sink,
        accepted: 0,
      };
      // The kernel reports each process's CPU time truncated to whole 10 ms
      // ticks, and Postfix spreads a load over a dozen processes: 30 messages
      // on a fast machine left every one of them under a tick (CI read 0 ms).
      // 300 give each smtpd ~60 sessions, several ticks even at 0.5 ms each.
      const accept = await acceptRun(t, { messages: ACCEPT_MESSAGES, sessions: 5, size: 1024 });
      assert.ok(accept.rate > 0);
      assert.ok(accept.cpuAcceptMs > 0, "the smtpd and cleanup processes used CPU");
      assert.ok(accept.cpuDeliveredMs >= accept.cpuAcceptMs);
      assert.ok(accept.peakPssMiB > 1, `${accept.peakPssMiB} MiB`);
      assert.ok(await endToEndRun(t, { messages: 10, sessions: 5, size: 1024 }) > 0);
      assert.ok(await targetLatency(t, 2) > 0);
      const tls = { caCert: pair.pem, hostname: "localhost", ...ACCOUNT };
      assert.ok(await tlsAuthRun(t, { messages: 4, sessions: 2, tls }) > 0);
      await assert.rejects(
        tlsAuthRun(t, { messages: 1, sessions: 1, tls: { ...tls, password: "wrong" } }),
        /1 sessions failed, first: .*got 535/,
      );
      assert.equal(t.accepted, ACCEPT_MESSAGES + 10 + 5 + 4);
      assert.equal(sink.messages, t.accepted);
    } finally {
      const pids = postfix === null ? [] : processTree(postfix.masterPid).map((s) => s.pid);
      await postfix?.stop();
      assert.deepEqual(pids.filter(isRunning), [], "no Postfix process is left");
      await sink.stop();
      assert.equal(isRunning(sink.pid), false);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
