import assert from "node:assert/strict";
import {
  copyOut,
  pooledChunks,
  READ_BUFFER_BYTES,
  releaseChunk,
  SMALL_READ_BYTES,
} from "../../../relay/net/read_buffers.ts";
import { createSecureContext } from "../../../relay/net/tls.ts";
import type { Transport } from "../../../relay/net/transport.ts";
import { withSessions } from "../../helpers/session_listener.ts";
import { testCertificate } from "../../helpers/test_cert.ts";

Deno.test("copyOut() copies a small read into an array of its own size", () => {
  const read = new Uint8Array(SMALL_READ_BYTES).fill(7);
  const chunk = copyOut(read);
  assert.equal(chunk.buffer.byteLength, SMALL_READ_BYTES);
  read.fill(0);
  assert.equal(chunk[0], 7);
  const before = pooledChunks();
  releaseChunk(chunk);
  assert.equal(pooledChunks(), before, "an exact copy is never pooled");
});

Deno.test("copyOut() reuses a pooled chunk given back, and a chunk given back twice counts once", () => {
  const first = copyOut(new Uint8Array(SMALL_READ_BYTES + 1).fill(1));
  assert.equal(first.length, SMALL_READ_BYTES + 1);
  assert.equal(first.buffer.byteLength, READ_BUFFER_BYTES);
  const before = pooledChunks();
  releaseChunk(first);
  releaseChunk(first);
  assert.equal(pooledChunks(), before + 1);
  const second = copyOut(new Uint8Array(READ_BUFFER_BYTES).fill(2));
  assert.equal(second.buffer, first.buffer);
  assert.equal(pooledChunks(), before);
  // Taken again: a third chunk must not share its memory.
  const third = copyOut(new Uint8Array(SMALL_READ_BYTES + 1).fill(3));
  assert.notEqual(third.buffer, second.buffer);
  assert.equal(second[0], 2);
  releaseChunk(second);
  releaseChunk(third);
});

/** A deterministic byte stream per client (xorshift32), so every byte can be checked. */
function pattern(seed: number): (into: Uint8Array) => void {
  let x = seed || 1;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      into[i] = x & 0xff;
    }
  };
}

/**
 * Reads a stream through the transport until its end, slowly at times (so
 * the socket pauses and chunks queue), and compares every byte with the
 * client's pattern; the client's seed is the first byte.
 */
async function checkStream(transport: Transport): Promise<{
  bytes: number;
  wrong: number;
}> {
  let next: ((into: Uint8Array) => void) | null = null;
  let bytes = 0;
  let wrong = 0;
  let reads = 0;
  const expected = new Uint8Array(READ_BUFFER_BYTES);
  for (let chunk; (chunk = await transport.read()) !== null;) {
    if (next === null) {
      next = pattern(chunk[0]);
      chunk = chunk.subarray(1);
    }
    // Yield to the event loop before looking at the bytes, every few reads.
    if (++reads % 4 === 0) await new Promise((r) => setTimeout(r, 0));
    for (let at = 0; at < chunk.length; at += expected.length) {
      const part = chunk.subarray(at, at + expected.length);
      next(expected.subarray(0, part.length));
      for (let i = 0; i < part.length; i++) if (part[i] !== expected[i]) wrong++;
    }
    bytes += chunk.length;
  }
  return { bytes, wrong };
}

async function sendPattern(conn: Deno.Conn, seed: number, total: number): Promise<void> {
  const fill = pattern(seed);
  await conn.write(new Uint8Array([seed]));
  let sent = 0;
  let size = 1 + seed * 977;
  while (sent < total) {
    size = (size * 7 + 13) % 150_000 + 1;
    const block = new Uint8Array(Math.min(size, total - sent));
    fill(block);
    for (let done = 0; done < block.length;) done += await conn.write(block.subarray(done));
    sent += block.length;
  }
}

Deno.test("a plaintext listener delivers every byte of concurrent large streams intact", async () => {
  const CLIENTS = 16;
  const BYTES = 2 * 1024 * 1024;
  await withSessions("none", (transport) => checkStream(transport), async ({ port, results }) => {
    await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await sendPattern(conn, i + 1, BYTES);
      } finally {
        conn.close();
      }
    }));
    assert.deepEqual(
      await results(CLIENTS),
      Array.from({ length: CLIENTS }, () => ({ bytes: BYTES, wrong: 0 })),
    );
  });
});

Deno.test("bytes after STARTTLS on a plaintext-read socket arrive intact through TLS", async () => {
  const BYTES = 4 * 1024 * 1024;
  const session = async (transport: Transport) => {
    const line = await transport.read();
    assert.equal(new TextDecoder().decode(line!), "STARTTLS\r\n");
    await transport.write("220 go ahead\r\n");
    await transport.upgradeTls(createSecureContext(testCertificate()));
    return await checkStream(transport);
  };
  await withSessions("starttls", session, async ({ port, results }) => {
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("STARTTLS\r\n"));
    const reply = new Uint8Array(64);
    let got = "";
    while (!got.endsWith("\r\n")) {
      const n = await plain.read(reply);
      if (n === null) throw new Error("Cannot start TLS: connection closed");
      got += new TextDecoder().decode(reply.subarray(0, n));
    }
    assert.equal(got, "220 go ahead\r\n");
    const conn = await Deno.startTls(plain, {
      hostname: "127.0.0.1",
      caCerts: [testCertificate().cert],
    });
    try {
      await sendPattern(conn, 99, BYTES);
    } finally {
      conn.close();
    }
    assert.deepEqual(await results(1), [{ bytes: BYTES, wrong: 0 }]);
  });
});

Deno.test("reading 96 MiB from one plaintext connection leaves no read buffers behind", async () => {
  const BYTES = 96 * 1024 * 1024;
  let peak = 0;
  const session = async (transport: Transport) => {
    const base = Deno.memoryUsage().external;
    let bytes = 0;
    for (let c; (c = await transport.read()) !== null;) {
      bytes += c.length;
      peak = Math.max(peak, Deno.memoryUsage().external - base);
    }
    return bytes;
  };
  await withSessions("none", session, async ({ port, results }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const block = new Uint8Array(1024 * 1024).fill(0x61);
      for (let sent = 0; sent < BYTES; sent += block.length) {
        for (let done = 0; done < block.length;) done += await conn.write(block.subarray(done));
      }
    } finally {
      conn.close();
    }
    assert.deepEqual(await results(1), [BYTES]);
    // Each read used to leave a 64 KiB buffer for the garbage collector,
    // which freed them only past V8's external-memory limit (64 MiB).
    assert.ok(peak < 16 * 1024 * 1024, `external memory grew by ${peak} bytes`);
  });
});
