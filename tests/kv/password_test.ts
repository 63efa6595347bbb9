import assert from "node:assert/strict";
import { dummyVerify, hashPassword, verifyPassword } from "../../kv/password.ts";

Deno.test("hashPassword() writes scrypt$16384$8$1$salt$hash with a 16-byte salt and 32-byte key", async () => {
  const hash = await hashPassword("correct horse");
  const parts = hash.split("$");
  assert.deepEqual(parts.slice(0, 4), ["scrypt", "16384", "8", "1"]);
  assert.equal(atob(parts[4]).length, 16);
  assert.equal(atob(parts[5]).length, 32);
});

Deno.test("hashPassword() salts each hash differently", async () => {
  const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
  assert.notEqual(a, b);
});

Deno.test("verifyPassword() accepts the right password and refuses others", async () => {
  const hash = await hashPassword("pässwörd");
  assert.equal(await verifyPassword("pässwörd", hash), true);
  assert.equal(await verifyPassword("passwörd", hash), false);
  assert.equal(await verifyPassword("", hash), false);
});

Deno.test("verifyPassword() returns false for malformed stored hashes", async () => {
  const good = await hashPassword("secret");
  const [, , , , salt, key] = good.split("$");
  const malformed = [
    "",
    "plain-text-password",
    `bcrypt$16384$8$1$${salt}$${key}`,
    `scrypt$16384$8$1$${salt}`,
    `scrypt$16383$8$1$${salt}$${key}`, // N not a power of two
    `scrypt$4194304$8$1$${salt}$${key}`, // N above the accepted bound
    `scrypt$16384$0$1$${salt}$${key}`,
    `scrypt$16384$8$1$$${key}`,
    `scrypt$16384$8$1$${salt}$not*base64`,
    `scrypt$16384$8$1$${salt}$AAAA`, // key too short
  ];
  for (const stored of malformed) {
    assert.equal(await verifyPassword("secret", stored), false, stored);
  }
});

Deno.test("verifyPassword() honours the parameters stored in the hash", async () => {
  // A hash made with other cost parameters still verifies (cost can be raised later).
  const { scryptSync } = await import("node:crypto");
  const salt = new Uint8Array(16).fill(7);
  const key = scryptSync("secret", salt, 32, { N: 1024, r: 4, p: 2 });
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  const stored = `scrypt$1024$4$2$${b64(salt)}$${b64(new Uint8Array(key))}`;
  assert.equal(await verifyPassword("secret", stored), true);
  assert.equal(await verifyPassword("Secret", stored), false);
});

Deno.test("dummyVerify() returns false after about the work of a real verification", async () => {
  const hash = await hashPassword("secret");
  const time = async (f: () => Promise<unknown>) => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      await f();
      runs.push(performance.now() - start);
    }
    return runs.sort((a, b) => a - b)[1];
  };
  const real = await time(() => verifyPassword("wrong", hash));
  const dummy = await time(() => dummyVerify("wrong"));
  assert.equal(await dummyVerify("secret"), false);
  // Loose bounds: same scrypt parameters, so the same order of magnitude.
  assert.ok(dummy > real / 4 && dummy < real * 4, `real ${real} ms, dummy ${dummy} ms`);
});
