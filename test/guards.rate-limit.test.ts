import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { RateLimiter } from "../durable-objects/rate-limiter.ts";
import { parseRateLimitOverrides } from "../src/guards/policies.ts";
import { apiSettled, expectProblem, jsonInit, uniqueSuffix } from "./helpers.ts";

const stubFor = (name: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name));

describe("RateLimiter Durable Object", () => {
  it("admits exactly the limit under 1,000 concurrent hits on one key", async () => {
    const stub = stubFor(`exact:${uniqueSuffix()}`);
    const results = await Promise.all(Array.from({ length: 1000 }, () => stub.hit(100, 60)));
    expect(results.filter((r) => r.allowed)).toHaveLength(100);
    expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterSec >= 1 && r.remaining === 0)).toBe(true);
    expect(Math.min(...results.filter((r) => r.allowed).map((r) => r.remaining))).toBe(0);
  });

  it("keys are independent (sharded per policy and subject)", async () => {
    const a = stubFor(`shard:a:${uniqueSuffix()}`);
    const b = stubFor(`shard:b:${uniqueSuffix()}`);
    expect((await a.hit(1, 60)).allowed).toBe(true);
    expect((await a.hit(1, 60)).allowed).toBe(false);
    expect((await b.hit(1, 60)).allowed).toBe(true);
  });

  it("weights the previous window (sliding window counter)", async () => {
    const stub = stubFor(`slide:${uniqueSuffix()}`);
    await runInDurableObject(stub, async (instance: RateLimiter) => {
      const windowMs = 60_000;
      const now = Date.now();
      const start = now - (now % windowMs);
      const elapsed = (now - start) / windowMs;
      // Pretend the previous window was full (10/10) and this one is empty.
      Object.assign(instance, { windowStart: start, current: 0, previous: 10 });
      const expectedRoom = 10 - Math.floor(10 * (1 - elapsed));
      let admitted = 0;
      for (let i = 0; i < 20; i++) if ((await instance.hit(10, 60)).allowed) admitted++;
      expect(admitted).toBe(expectedRoom);
    });
  });

  it("persists its counters and forgets idle keys with an alarm", async () => {
    const stub = stubFor(`alarm:${uniqueSuffix()}`);
    await stub.hit(2, 60);
    await stub.hit(2, 60);
    expect((await stub.hit(2, 60)).allowed).toBe(false);
    await runInDurableObject(stub, (_i, state: DurableObjectState) => {
      const rows = state.storage.sql.exec<{ cur: number }>("SELECT cur FROM win").toArray();
      expect(rows[0]?.cur).toBe(2);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.hit(2, 60)).allowed).toBe(true);
  });
});

describe("rate-limit guard", () => {
  const low = (overrides: string, extra: Record<string, unknown> = {}) => ({ ...env, RATE_LIMIT_OVERRIDES: overrides, ...extra }) as Env;

  it("adds RateLimit-Policy and RateLimit headers; refuses past the limit with 429 + Retry-After (cache misses)", async () => {
    const bindings = low("public-read=3/60");
    const ip = `203.0.113.${Math.floor(Math.random() * 200)}`;
    const headers = { "CF-Connecting-IP": ip };
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await apiSettled(`/api/v1/products?limit=${i + 1}&min_price=${ip.length}`, { headers }, bindings);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cache")).toBe("MISS");
      expect(res.headers.get("ratelimit-policy")).toBe('"public-read";q=3;w=60');
      seen.push(res.headers.get("ratelimit") ?? "");
    }
    expect(seen.map((h) => /r=(\d+)/.exec(h)?.[1])).toEqual(["2", "1", "0"]);
    // A HIT is served before the limiter (it costs the origin nothing)…
    expect((await apiSettled(`/api/v1/products?limit=1&min_price=${ip.length}`, { headers }, bindings)).headers.get("x-cache")).toBe("HIT");
    // …a MISS past the limit is refused.
    const refused = await apiSettled("/api/v1/products?limit=9", { headers }, bindings);
    const p = await expectProblem(refused, 429, "rate_limited");
    expect(p.detail).toContain("public-read");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit")).toMatch(/^"public-read";r=0;t=\d+$/);
    // Another client IP has its own budget.
    expect((await apiSettled("/api/v1/products?limit=10", { headers: { "CF-Connecting-IP": "192.0.2.77" } }, bindings)).status).toBe(200);
  });

  it("login is limited per account across IPs, with both policies in the headers", async () => {
    const bindings = low("login-account=2/60", { LOGIN_MAX_FAILURES: "100", LOGIN_DELAY_AFTER: "99" });
    const email = `ratelimited-${uniqueSuffix()}@example.com`;
    const attempt = (i: number) =>
      apiSettled(
        "/api/v1/auth/login",
        jsonInit("POST", { email, password: "whatever-pass" }, { "CF-Connecting-IP": `198.18.0.${i}` }),
        bindings,
      );
    const first = await attempt(1);
    expect(first.status).toBe(401);
    expect(first.headers.get("ratelimit-policy")).toContain('"login-ip"');
    expect(first.headers.get("ratelimit-policy")).toContain('"login-account"');
    expect((await attempt(2)).status).toBe(401);
    await expectProblem(await attempt(3), 429, "rate_limited");
  });

  it("fails open (and logs) when the limiter throws, on a fail-open policy", async () => {
    const broken = { idFromName: () => ({}), get: () => ({ hit: () => Promise.reject(new Error("DO exploded")) }) };
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((l: unknown) => void warnings.push(String(l)));
    const res = await apiSettled("/api/v1/products?limit=11", undefined, {
      ...env,
      LOG_LEVEL: "warn",
      RATE_LIMITER: broken,
    } as unknown as Env);
    vi.restoreAllMocks();
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit")).toBeNull();
    expect(warnings.join("\n")).toMatch(/failing open.*"policy":"public-read"/);
  });

  it("fails open when the limiter does not answer in time", async () => {
    const slow = { idFromName: () => ({}), get: () => ({ hit: () => new Promise(() => {}) }) };
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const started = Date.now();
    const res = await apiSettled("/api/v1/categories", undefined, {
      ...env,
      RATE_LIMITER: slow,
      GUARD_TIMEOUT_MS: "100",
    } as unknown as Env);
    vi.restoreAllMocks();
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("fails closed on login (a fail-closed policy) with 503", async () => {
    const broken = { idFromName: () => ({}), get: () => ({ hit: () => Promise.reject(new Error("DO exploded")) }) };
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await apiSettled("/api/v1/auth/login", jsonInit("POST", { email: "a@example.com", password: "x-long-password" }), {
      ...env,
      RATE_LIMITER: broken,
    } as unknown as Env);
    vi.restoreAllMocks();
    await expectProblem(res, 503, "service_unavailable");
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("reads overrides from the var and refuses a malformed one", () => {
    expect(parseRateLimitOverrides("")["order-create"]?.limit).toBe(10);
    expect(parseRateLimitOverrides("order-create=25/30")["order-create"]).toMatchObject({ limit: 25, windowSec: 30 });
    expect(parseRateLimitOverrides("public-read=off")["public-read"]).toBeNull();
    expect(() => parseRateLimitOverrides("nope=1/1")).toThrow(/no rate-limit policy/);
    expect(() => parseRateLimitOverrides("order-creat=20/60")).toThrow(/order-creat/);
    expect(() => parseRateLimitOverrides("order-create=0/60")).toThrow();
  });
});
