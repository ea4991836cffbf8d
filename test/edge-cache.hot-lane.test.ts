/**
 * Issue 13, item 2: the hot lane. An L1 hit the full path has already served (same URL, same config,
 * same Origin) is answered before the middleware chain. It must be indistinguishable from the full path:
 * status, every header but the per-request ones, body, and the access-log line (plus `lane: "hot"`).
 * All requests of this file run in one isolate, so L1, the URL memory and the generation memo persist.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import { bumpGeneration } from "../src/lib/cache-generation.ts";
import { clearIsolateCache } from "../src/lib/isolate-cache.ts";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { createUser, jsonInit, uniqueSuffix } from "./helpers.ts";

interface Read {
  res: Response;
  body: string;
  line: Record<string, unknown>;
}

const ALLOWED = "https://shop.example.com"; // in CORS_ORIGINS (vitest.config.ts)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bindings = (vars: Record<string, string> = {}) => ({ ...env, LOG_LEVEL: "info", ...vars }) as Env;

function client(b: Env = bindings(), origin = `https://hot-${uniqueSuffix()}.test`) {
  const read = async (path: string, init?: RequestInit): Promise<Read> => {
    const lines: Record<string, unknown>[] = [];
    const collect = (line: unknown) => {
      const parsed = JSON.parse(String(line)) as Record<string, unknown>;
      if (parsed.msg === "request") lines.push(parsed);
    };
    const spies = [vi.spyOn(console, "log").mockImplementation(collect), vi.spyOn(console, "warn").mockImplementation(collect)];
    const ctx = createExecutionContext();
    let res: Response;
    try {
      res = await worker.fetch(new Request(`${origin}${path}`, init), b, ctx);
      await waitOnExecutionContext(ctx);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const line = lines.find((l) => l.request_id === res.headers.get("x-request-id"));
    expect(line, `access line of ${path}`).toBeDefined();
    return { res, body: await res.text(), line: line as Record<string, unknown> };
  };
  return { origin, read };
}

/** Headers without the per-request ones. */
function stable(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of res.headers) if (!["x-request-id", "age", "date"].includes(k)) out[k] = v;
  return out;
}
/** The access line without what differs per request, and without the lane marker. */
function lineOf(r: Read): Record<string, unknown> {
  const { ts: _ts, request_id: _id, duration_ms: _d, lane: _lane, ...rest } = r.line;
  return rest;
}

afterEach(() => vi.restoreAllMocks());

describe("hot lane (L1 hits before the middleware chain)", () => {
  it("takes over a URL only after the full path served it from L1, then answers identically", async () => {
    const { read } = client();
    const path = "/api/v1/products?limit=5&sort=price_desc";
    const miss = await read(path);
    expect([miss.res.headers.get("x-cache"), miss.line.lane]).toEqual(["MISS", undefined]);
    const full = await read(path);
    expect([full.line.cache_tier, full.line.lane]).toEqual(["l1", undefined]);
    const hot = await read(path);
    expect([hot.line.cache_tier, hot.line.lane]).toEqual(["l1", "hot"]);

    expect(hot.res.status).toBe(200);
    expect(hot.body).toBe(full.body);
    expect(stable(hot.res)).toEqual(stable(full.res));
    expect(lineOf(hot)).toEqual(lineOf(full));
    expect(hot.res.headers.get("x-request-id")).not.toBe(full.res.headers.get("x-request-id"));
    // Security headers are there, not just "the same as something".
    expect(hot.res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(hot.res.headers.get("x-cache")).toBe("HIT");
  });

  it("matches the full path header for header: CORS per Origin, HEAD, 304, X-Request-Id", async () => {
    const hotEnv = bindings();
    const fullEnv = bindings({ CATALOG_HOT_LANE: "false" });
    const origin = `https://hot-${uniqueSuffix()}.test`;
    const hotClient = client(hotEnv, origin);
    const fullClient = client(fullEnv, origin);
    const path = "/api/v1/products?limit=2";
    const first = await fullClient.read(path);
    const etag = first.res.headers.get("etag") as string;
    const variants: [string, RequestInit][] = [
      ["plain GET", {}],
      ["allowed Origin", { headers: { Origin: ALLOWED } }],
      ["other Origin", { headers: { Origin: "https://evil.example" } }],
      ["HEAD", { method: "HEAD" }],
      ["If-None-Match hit", { headers: { "If-None-Match": etag } }],
      ["If-None-Match miss", { headers: { "If-None-Match": '"nope"' } }],
      ["client X-Request-Id", { headers: { "X-Request-Id": "trace-0123456789" } }],
      ["bad X-Request-Id", { headers: { "X-Request-Id": "<script>" } }],
    ];
    for (const [name, init] of variants) {
      await hotClient.read(path, init); // the full path serves it once from L1 (teaches this Origin)
      await hotClient.read(path, init);
      const hot = await hotClient.read(path, init);
      const full = await fullClient.read(path, init);
      expect(hot.line.lane, name).toBe("hot");
      expect(full.line.lane, name).toBeUndefined();
      expect(full.line.cache_tier, name).toBe("l1");
      expect(hot.res.status, name).toBe(full.res.status);
      expect(hot.body, name).toBe(full.body);
      expect(stable(hot.res), name).toEqual(stable(full.res));
      expect(lineOf(hot), name).toEqual(lineOf(full));
      if (name === "client X-Request-Id") expect(hot.res.headers.get("x-request-id")).toBe("trace-0123456789");
      if (name === "bad X-Request-Id") expect(hot.res.headers.get("x-request-id")).not.toBe("<script>");
    }
  });

  it("never answers what the full path has not served: new URLs, new Origins, invalid input, revalidation", async () => {
    const { read } = client();
    const path = "/api/v1/products?limit=6";
    await read(path);
    await read(path);
    expect((await read(path)).line.lane).toBe("hot");
    // The same read under another spelling is a different URL: the full path first (its own L1 hit).
    const respelled = await read("/api/v1/products?limit=06");
    expect([respelled.line.cache_tier, respelled.line.lane]).toEqual(["l1", undefined]);
    // A new Origin: the full path decides its CORS headers first.
    const newOrigin = await read(path, { headers: { Origin: `https://o-${uniqueSuffix()}.example` } });
    expect([newOrigin.line.cache_tier, newOrigin.line.lane]).toEqual(["l1", undefined]);
    // Invalid input is never keyed, so never hot, however often it is asked.
    for (let i = 0; i < 3; i++) {
      const bad = await read("/api/v1/products?limit=abc");
      expect(bad.res.status).toBe(400);
      expect(bad.line.lane).toBeUndefined();
    }
    // A revalidation-looking request always goes to the full path (which checks its token).
    const reval = await read(path, { headers: { "x-toko-revalidate": "guess" } });
    expect(reval.line.lane).toBeUndefined();
  });

  it("a write is visible at once: the writer's generation bump retires the hot entry", async () => {
    const b = bindings();
    const { read } = client(b);
    const admin = await createUser("ADMIN");
    const created = await read(
      "/api/v1/admin/products",
      jsonInit("POST", { sku: `HOT-${uniqueSuffix()}`, name: "Before", price_cents: 100, currency: "USD", stock: 5 }, admin.auth),
    );
    const p = JSON.parse(created.body) as ProductDto;
    const path = `/api/v1/products/${p.sku}`;
    await read(path);
    await read(path);
    const hot = await read(path);
    expect([hot.line.lane, (JSON.parse(hot.body) as ProductDto).name]).toEqual(["hot", "Before"]);
    await read(`/api/v1/admin/products/${p.id}`, jsonInit("PATCH", { name: "After" }, admin.auth));
    const after = await read(path);
    expect(after.res.headers.get("x-cache")).toBe("MISS");
    expect((JSON.parse(after.body) as ProductDto).name).toBe("After");
  });

  it("another isolate's write: no hot answer outlives the generation memo", async () => {
    const { origin, read } = client();
    const path = "/api/v1/products?limit=7";
    await read(path);
    await read(path);
    expect((await read(path)).line.lane).toBe("hot");
    await bumpGeneration(origin, "catalog", 60);
    await sleep(1050); // CATALOG_GENERATION_MEMO_MS
    const next = await read(path);
    expect(next.res.headers.get("x-cache")).toBe("MISS");
    expect(next.line.lane).toBeUndefined();
  });

  it("respects L1 residency and the switch", async () => {
    const { read } = client(bindings({ CATALOG_L1_TTL_SEC: "1" }));
    const path = "/api/v1/categories";
    await read(path);
    await read(path);
    expect((await read(path)).line.lane).toBe("hot");
    clearIsolateCache();
    const fromL2 = await read(path);
    expect([fromL2.line.cache_tier, fromL2.line.lane]).toEqual(["l2", undefined]);

    const off = client(bindings({ CATALOG_HOT_LANE: "false" }));
    for (let i = 0; i < 4; i++) expect((await off.read(path)).line.lane).toBeUndefined();
  });

  it("a misconfigured deployment still answers 503 through the app", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request("https://hot.test/api/v1/categories"), bindings({ CATALOG_CACHE_TTL_SEC: "-1" }), ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    expect(errors).toHaveBeenCalled();
  });
});
