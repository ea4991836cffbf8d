/**
 * Issue 13, item 4: `public-read` on the Workers Rate Limiting binding (PUBLIC_READ_LIMITER=binding), so a
 * catalogue cache miss makes no Durable Object round trip. vitest.config.ts gives the binding 5 per 60 s.
 * Cache hits never reach a limiter; misses are made with distinct queries on a fresh origin.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import { expectProblem, uniqueSuffix } from "./helpers.ts";

function setup(vars: Record<string, string> = {}) {
  const doCalls: string[] = [];
  // Every Durable Object limiter call is recorded: in binding mode, public reads must make none.
  const limiter = {
    idFromName: (name: string) => {
      doCalls.push(name);
      return env.RATE_LIMITER.idFromName(name);
    },
    get: (id: DurableObjectId) => env.RATE_LIMITER.get(id),
  };
  const b = { ...env, PUBLIC_READ_LIMITER: "binding", RATE_LIMITER: limiter, ...vars } as unknown as Env;
  const origin = `https://rl-${uniqueSuffix()}.test`;
  let n = 0;
  const miss = async (ip: string) => {
    const ctx = createExecutionContext();
    // A distinct, valid query each time: always a cache miss, so always charged.
    const res = await worker.fetch(new Request(`${origin}/api/v1/products?limit=${++n}`, { headers: { "CF-Connecting-IP": ip } }), b, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  return { miss, doCalls };
}

const ipOf = () => `198.51.100.${Math.floor(Math.random() * 200) + 1}`;

describe("public-read on the Workers Rate Limiting binding", () => {
  it("admits the binding's limit per client IP, then 429 with Retry-After; other clients unaffected; no DO call", async () => {
    const { miss, doCalls } = setup();
    const ip = `2001:db8:${uniqueSuffix().slice(0, 4)}::1`;
    for (let i = 0; i < 5; i++) {
      const res = await miss(ip);
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers.get("x-cache")).toBe("MISS");
      expect(res.headers.get("ratelimit-policy")).toBe('"public-read";q=600;w=60');
      expect(res.headers.get("ratelimit")).toBeNull(); // the binding does not say how many remain
    }
    const refused = await miss(ip);
    await expectProblem(refused, 429, "rate_limited");
    expect(refused.headers.get("retry-after")).toBe("60");
    // The same /64: rotating the interface id does not buy a new budget.
    await expectProblem(await miss(ip.replace(/::1$/, "::beef")), 429, "rate_limited");
    expect((await miss(ipOf())).status).toBe(200);
    expect(doCalls.filter((k) => k.startsWith("public-read:"))).toEqual([]);
  });

  it("the verdict comes before the query: over the limit with Postgres away → 429, under it → 503", async () => {
    const dead = { ...env.HYPERDRIVE_FRESH, connectionString: "postgres://postgres:postgres@127.0.0.1:1/x", host: "127.0.0.1", port: 1 };
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { miss } = setup({ HYPERDRIVE_FRESH: dead as unknown as string });
    const ip = ipOf().replace(/^198/, "192");
    const outcomes: number[] = [];
    for (let i = 0; i < 6; i++) outcomes.push((await miss(ip)).status);
    // Postgres being away does not turn the refusal into a 503, nor lets an over-limit client through.
    expect(outcomes).toEqual([503, 503, 503, 503, 503, 429]);
    errors.mockRestore();
  });

  it("a refused read sends no query to Postgres (the limit protects the origin)", async () => {
    // Only product-list statements count: queue consumers and jobs of other test files may run in this
    // isolate at the same time and send their own queries.
    const query = vi.spyOn(pg.Client.prototype, "query");
    const productQueries = () =>
      query.mock.calls.filter((args) => {
        const q = args[0] as unknown;
        const text = typeof q === "string" ? q : ((q as { text?: string } | null)?.text ?? "");
        return /from "products"/i.test(text);
      }).length;
    const { miss } = setup();
    const ip = ipOf().replace(/^198/, "203");
    for (let i = 0; i < 5; i++) expect((await miss(ip)).status).toBe(200);
    const admitted = productQueries();
    expect(admitted).toBeGreaterThanOrEqual(5);
    await expectProblem(await miss(ip), 429, "rate_limited");
    await expectProblem(await miss(ip), 429, "rate_limited");
    expect(productQueries()).toBe(admitted);
    query.mockRestore();
  });

  it("fails open, logged, when the binding throws", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const broken = { limit: () => Promise.reject(new Error("rate limiting unavailable")) };
    const { miss } = setup({ PUBLIC_READ_RL: broken as unknown as string, LOG_LEVEL: "warn" });
    const res = await miss(ipOf());
    expect(res.status).toBe(200);
    expect(warn.mock.calls.map((c) => String(c[0])).some((l) => l.includes('"backend":"binding"') && l.includes("failing open"))).toBe(
      true,
    );
    warn.mockRestore();
  });

  it("durable-object mode still counts public reads in the Durable Object", async () => {
    const { miss, doCalls } = setup({ PUBLIC_READ_LIMITER: "durable-object" });
    expect((await miss(ipOf())).status).toBe(200);
    expect(doCalls.some((k) => k.startsWith("public-read:"))).toBe(true);
  });
});
