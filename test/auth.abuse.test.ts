/**
 * Issue 11, item 4: parallel password guesses and rotating IPv6 addresses.
 * The attempt is reserved (counted) before the password hash is checked, in one atomic step per
 * request, so a burst can never have more guesses evaluated than the lock allows; per-IP counters
 * and the `ip` rate-limit subject key IPv6 clients by their /64.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { clientIpKey } from "../src/lib/client-ip.ts";
import { api, apiSettled, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";

let ipCounter = 0;
/** IPv4 addresses of this file only (other suites use other ranges: the counters live in one database). */
const freshIp = () => `203.0.113.${++ipCounter}`;
const hex16 = () => Math.floor(Math.random() * 0x10000).toString(16);
/** A random /64 inside the documentation range 2001:db8::/32. */
const fresh64 = () => `2001:db8:${hex16()}:${hex16()}`;
const expanded64 = (prefix: string) =>
  `${prefix
    .split(":")
    .map((g) => g.padStart(4, "0"))
    .join(":")}::/64`;

const login = (email: string, password: string, ip: string, bindings?: Env) => {
  const init = jsonInit("POST", { email, password }, { "CF-Connecting-IP": ip });
  return bindings ? apiSettled("/api/v1/auth/login", init, bindings) : api("/api/v1/auth/login", init);
};
const withEnv = (vars: Record<string, string>) => ({ ...env, ...vars }) as Env;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failuresOf = async (key: string) =>
  (await sql<{ failures: number }>("SELECT failures FROM login_throttle WHERE key = $1", [key]))[0]?.failures ?? 0;

describe("item 4: parallel password guesses", () => {
  it("a 10-way parallel login with a wrong password is refused after the threshold", async () => {
    const u = await createUser();
    // Each guess from its own address: the account counter is the one under test.
    const responses = await Promise.all(Array.from({ length: 10 }, () => login(u.email, "wrong-password-123", freshIp())));
    const statuses = responses.map((r) => r.status);
    const evaluated = statuses.filter((s) => s === 401).length;
    const refused = responses.filter((r) => r.status === 429);
    expect(evaluated + refused.length, `statuses ${statuses.join(",")}`).toBe(10);
    // The lock is checked and the attempt counted in one step: at most LOGIN_MAX_FAILURES (5) are
    // evaluated; with the progressive delay from LOGIN_DELAY_AFTER (3) a burst stops at 3.
    expect(evaluated, `statuses ${statuses.join(",")}`).toBeGreaterThanOrEqual(1);
    expect(evaluated, `statuses ${statuses.join(",")}`).toBeLessThanOrEqual(5);
    for (const r of refused) {
      await expectProblem(r, 429, "rate_limited");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Every evaluated guess was counted exactly once; the refused ones were not.
    expect(await failuresOf(`acct:${u.email}`)).toBe(evaluated);
  });

  it("parallel guesses from 10 IPv6 addresses in one /64 share one counter", async () => {
    const prefix = fresh64();
    const quick = withEnv({ LOGIN_IP_MAX_FAILURES: "4", LOGIN_LOCKOUT_SEC: "60" });
    const u = await createUser();
    // Ten different accounts (credential stuffing), ten addresses of one /64, written in every style.
    const addresses = Array.from({ length: 10 }, (_, i) =>
      i % 2 ? `${prefix}:${i + 1}::${hex16()}` : `${prefix.toUpperCase()}:0:0:${hex16()}:${i + 1}`,
    );
    const responses = await Promise.all(
      addresses.map((ip, i) => login(`victim-${i}-${uniqueSuffix()}@example.com`, "guess-password-1", ip, quick)),
    );
    const evaluated = responses.filter((r) => r.status === 401).length;
    expect(evaluated, responses.map((r) => r.status).join(",")).toBeLessThanOrEqual(4);
    expect(responses.filter((r) => r.status === 429).length).toBe(10 - evaluated);
    expect(await failuresOf(`ip:${expanded64(prefix)}`)).toBe(evaluated);

    // The /64 is locked, even for a real account with its right password; the next /64 is not.
    await expectProblem(await login(u.email, u.password, `${prefix}::beef`, quick), 429, "rate_limited");
    expect((await login(u.email, u.password, `${fresh64()}::1`, quick)).status).toBe(200);
  });

  it("the right password after a lockout is still refused until the lock ends", async () => {
    const u = await createUser();
    const quick = withEnv({ LOGIN_MAX_FAILURES: "2", LOGIN_DELAY_AFTER: "1", LOGIN_LOCKOUT_SEC: "2" });
    const burst = await Promise.all(Array.from({ length: 6 }, () => login(u.email, "wrong-password-123", freshIp(), quick)));
    expect(burst.filter((r) => r.status === 401).length).toBeLessThanOrEqual(2);
    const counted = await failuresOf(`acct:${u.email}`);

    const locked = await login(u.email, u.password, freshIp(), quick);
    await expectProblem(locked, 429, "rate_limited");
    const wait = Number(locked.headers.get("retry-after"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    // Refused before the hash was checked: neither counted nor cleared.
    expect(await failuresOf(`acct:${u.email}`)).toBe(counted);

    await sleep(wait * 1000 + 200);
    expect((await login(u.email, u.password, freshIp(), quick)).status).toBe(200);
    expect(await sql("SELECT 1 FROM login_throttle WHERE key = $1", [`acct:${u.email}`])).toHaveLength(0);
  });

  it("successful logins do not use up the per-IP allowance (the reservation is given back)", async () => {
    const ip = freshIp();
    const quick = withEnv({ LOGIN_IP_MAX_FAILURES: "4", LOGIN_LOCKOUT_SEC: "60" });
    const users = await Promise.all(Array.from({ length: 6 }, () => createUser()));
    for (const u of users) expect((await login(u.email, u.password, ip, quick)).status).toBe(200);
    expect(await failuresOf(`ip:${ip}`)).toBe(0);
  });

  it("a long run of per-client failures never overflows the delay (capped at the lockout)", async () => {
    const ip = freshIp();
    const lenient = withEnv({ LOGIN_IP_MAX_FAILURES: "1000" }); // delays from 500 failures on
    await sql("INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 600, now())", [`ip:${ip}`]);
    expect((await login(`overflow-${uniqueSuffix()}@example.com`, "guess-password-1", ip, lenient)).status).toBe(401);
    const locked = await login(`overflow-${uniqueSuffix()}@example.com`, "guess-password-1", ip, lenient);
    await expectProblem(locked, 429, "rate_limited");
    expect(Number(locked.headers.get("retry-after"))).toBeLessThanOrEqual(900);
  });

  it("the ip rate-limit subject keys IPv6 by /64", async () => {
    const prefix = fresh64();
    const limited = withEnv({ RATE_LIMIT_OVERRIDES: `${env.RATE_LIMIT_OVERRIDES},login-ip=3/60` });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 1; i <= 4; i++) {
      last = await login(`ratelimit-${i}-${uniqueSuffix()}@example.com`, "guess-password-1", `${prefix}::${i}`, limited);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const p = await expectProblem(last as Response, 429, "rate_limited");
    expect(p.detail).toContain("login-ip");
  });
});

describe("clientIpKey: IPv4 by address, IPv6 by /64", () => {
  it.each([
    // IPv4
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    // IPv6: expanded, lower case, the first 64 bits
    ["2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:0db8:85a3:08d3::/64"],
    ["2001:DB8:85A3:08D3:FFFF::1", "2001:0db8:85a3:08d3::/64"],
    ["2001:db8::1", "2001:0db8:0000:0000::/64"],
    ["2001:db8::", "2001:0db8:0000:0000::/64"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:0db8:0000:0000::/64"],
    ["2001:db8:1:2:3::", "2001:0db8:0001:0002::/64"],
    ["::1", "0000:0000:0000:0000::/64"],
    ["::", "0000:0000:0000:0000::/64"],
    ["1:2:3:4:5:6:7::", "0001:0002:0003:0004::/64"],
    ["[2001:db8:a:b::c]", "2001:0db8:000a:000b::/64"],
    // zone ids are dropped
    ["fe80::1%eth0", "fe80:0000:0000:0000::/64"],
    ["fe80::abcd:1%25", "fe80:0000:0000:0000::/64"],
    // IPv4-mapped IPv6 is the IPv4 client (dotted or hex tail)
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:203.0.113.7", "203.0.113.7"],
    ["0:0:0:0:0:ffff:102:304", "1.2.3.4"],
    ["::ffff:c000:0201", "192.0.2.1"],
    // an embedded IPv4 tail elsewhere is just IPv6
    ["64:ff9b::192.0.2.1", "0064:ff9b:0000:0000::/64"],
    ["2001:db8:1:2:3:4:1.2.3.4", "2001:0db8:0001:0002::/64"],
  ])("%s → %s", (raw, key) => {
    expect(clientIpKey(raw)).toBe(key);
  });

  it.each([
    undefined,
    null,
    "",
    "   ",
    "unknown",
    "localhost",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.-4",
    "2001:db8::1::2",
    "2001:db8:1:2:3:4:5:6:7",
    "2001:db8:1:2:3:4:5",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "12345::1",
    "g::1",
    "::ffff:1.2.3.256",
    "::1.2.3",
    "1.2.3.4:80",
    "x".repeat(200),
    "2001:db8::1\u0000",
  ])("%j → unknown", (raw) => {
    expect(clientIpKey(raw)).toBe("unknown");
  });
});
