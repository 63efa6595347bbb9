import assert from "node:assert/strict";
import {
  checkLevelLimits,
  LEVEL_LIMITS,
  SERVICE_LEVELS,
  validateAccountPatch,
  validateNewAccount,
  validatePassword,
} from "../../kv/account_rules.ts";

/** Assert `f` throws `kind` with exactly `message`. */
function throwsExactly(f: () => unknown, kind: typeof Error, message: string) {
  assert.throws(f, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${error}`);
    assert.equal((error as Error).message, message);
    return true;
  });
}

Deno.test("validatePassword() needs 5 to 512 characters without NUL, CR or LF", () => {
  assert.equal(validatePassword("12345"), "12345");
  assert.equal(validatePassword("ääääö"), "ääääö"); // code points, not bytes
  throwsExactly(
    () => validatePassword("1234"),
    RangeError,
    'Cannot set "password": must be at least 5 characters',
  );
  throwsExactly(
    () => validatePassword("x".repeat(513)),
    RangeError,
    'Cannot set "password": must be at most 512 characters',
  );
  throwsExactly(
    () => validatePassword("abc\0def"),
    RangeError,
    'Cannot set "password": must not contain NUL, CR or LF',
  );
  throwsExactly(
    () => validatePassword(12345),
    TypeError,
    'Cannot set "password": must be a string',
  );
});

Deno.test("validateNewAccount() lowercases the login's domain and splits it out", () => {
  assert.deepEqual(
    validateNewAccount({ type: "single", login: "Joe@Example.COM", password: "secret" }),
    { type: "single", login: "Joe@example.com", password: "secret", domain: "example.com" },
  );
});

Deno.test("validateNewAccount() names the bad field", () => {
  throwsExactly(
    () => validateNewAccount({ type: "all" as "any", login: "a@example.com", password: "secret" }),
    RangeError,
    'Cannot set "type": must be one of single, any, server',
  );
  throwsExactly(
    () => validateNewAccount({ type: "any", login: "example.com", password: "secret" }),
    RangeError,
    'Cannot set "login": must be LOCAL@DOMAIN',
  );
  throwsExactly(
    () => validateNewAccount({ type: "any", login: "a@example.com", password: "abc" }),
    RangeError,
    'Cannot set "password": must be at least 5 characters',
  );
});

Deno.test("validateAccountPatch() normalises every field", () => {
  assert.deepEqual(
    validateAccountPatch({
      enabled: false,
      ipv4: "Host.Example.NET",
      ipv6: "2001:db8::/48",
      altIpv4: "",
      altIpv6: null,
      bcc: ["A@B.EXAMPLE", "", "A@b.example", "c@d.example"],
      mirror: [""],
      identities: true,
      subdomains: false,
      errors: "always-5xx",
      level: "personal-plus",
      postmaster: "PM@Example.com",
      disabledReason: "",
    }),
    {
      enabled: false,
      ipv4: "host.example.net",
      ipv6: "2001:db8::/48",
      altIpv4: null,
      altIpv6: null,
      bcc: ["A@b.example", "c@d.example"],
      mirror: [],
      identities: true,
      subdomains: false,
      errors: "always-5xx",
      level: "personal-plus",
      postmaster: "PM@example.com",
      disabledReason: null,
    },
  );
});

Deno.test("validateAccountPatch() refuses bad values naming the field", () => {
  const cases: [Record<string, unknown>, typeof Error, string][] = [
    [{ enabled: "yes" }, TypeError, 'Cannot set "enabled": must be true or false'],
    [{ identities: 1 }, TypeError, 'Cannot set "identities": must be true or false'],
    [
      { ipv4: "2001:db8::1" },
      RangeError,
      'Cannot set "ipv4": must be an IPv4 address, an IPv4 CIDR or a host name',
    ],
    [
      { ipv6: "192.0.2.1" },
      RangeError,
      'Cannot set "ipv6": must be an IPv6 address, an IPv6 CIDR or a host name',
    ],
    [
      { altIpv4: "10.0.0.0/40" },
      RangeError,
      'Cannot set "altIpv4": prefix length must be between 0 and 32',
    ],
    [{ altIpv6: 6 }, TypeError, 'Cannot set "altIpv6": must be a string or null'],
    [{ bcc: "a@b.example" }, TypeError, 'Cannot set "bcc": must be a list of addresses'],
    [{ bcc: ["nobody"] }, RangeError, 'Cannot set "bcc": "nobody" must be LOCAL@DOMAIN'],
    [
      { mirror: ["a@b_c.example"] },
      RangeError,
      'Cannot set "mirror": "a@b_c.example" domain label "b_c" must be 1 to 63 letters, digits or inner hyphens',
    ],
    [{ errors: "never" }, RangeError, 'Cannot set "errors": must be one of auto, always-5xx'],
    [
      { level: "gold" },
      RangeError,
      'Cannot set "level": must be one of personal, personal-plus, standard, professional, enterprise',
    ],
    [{ postmaster: "pm" }, RangeError, 'Cannot set "postmaster": "pm" must be LOCAL@DOMAIN'],
    [{ password: "1234" }, RangeError, 'Cannot set "password": must be at least 5 characters'],
    [{ passwordHash: "x" }, TypeError, 'Cannot set "passwordHash": is not an account setting'],
    [{ mirrorSecret: "x" }, TypeError, 'Cannot set "mirrorSecret": is not an account setting'],
  ];
  for (const [patch, kind, message] of cases) {
    throwsExactly(() => validateAccountPatch(patch), kind, message);
  }
});

const BASE = { bcc: [], mirror: [], altIpv4: null, altIpv6: null };

Deno.test("checkLevelLimits() allows one BCC and one mirror on personal levels", () => {
  for (const level of ["personal", "personal-plus"] as const) {
    checkLevelLimits({ ...BASE, level, bcc: ["a@x.example"], mirror: ["m@x.example"] }, {});
    throwsExactly(
      () => checkLevelLimits({ ...BASE, level, bcc: ["a@x.example", "b@x.example"] }, { bcc: [] }),
      RangeError,
      `Cannot set "bcc": service level "${level}" allows at most 1 bcc address, got 2`,
    );
    throwsExactly(
      () =>
        checkLevelLimits({ ...BASE, level, mirror: ["a@x.example", "b@x.example"] }, {
          mirror: [],
        }),
      RangeError,
      `Cannot set "mirror": service level "${level}" allows at most 1 mirror address, got 2`,
    );
    throwsExactly(
      () => checkLevelLimits({ ...BASE, level, altIpv6: "::1" }, { altIpv6: "::1" }),
      RangeError,
      `Cannot set "altIpv6": service level "${level}" allows no alternate filters`,
    );
  }
});

Deno.test("checkLevelLimits() allows up to 20 copies and alternate filters from standard up", () => {
  const twenty = Array.from({ length: 20 }, (_, i) => `u${i}@x.example`);
  for (const level of SERVICE_LEVELS.slice(2)) {
    assert.equal(LEVEL_LIMITS[level].bcc, 20);
    checkLevelLimits(
      { level, bcc: twenty, mirror: twenty, altIpv4: "10.0.0.1", altIpv6: "::1" },
      {},
    );
    throwsExactly(
      () => checkLevelLimits({ ...BASE, level, bcc: [...twenty, "x@x.example"] }, { bcc: [] }),
      RangeError,
      `Cannot set "bcc": service level "${level}" allows at most 20 bcc addresses, got 21`,
    );
  }
});

Deno.test("checkLevelLimits() blames the level when lowering it leaves too many copies", () => {
  throwsExactly(
    () =>
      checkLevelLimits(
        { ...BASE, level: "personal", bcc: ["a@x.example", "b@x.example"] },
        { level: "personal" },
      ),
    RangeError,
    'Cannot set "level": service level "personal" allows at most 1 bcc address, got 2; change "bcc" first',
  );
});
