import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { clearIsolateCache } from "../src/lib/isolate-cache.ts";
import { cacheKey, canonicalRequest, etagMatches } from "../src/middleware/edge-cache.ts";
import { apiSettled, expectProblem, sql } from "./helpers.ts";

/** Empties the Cache API (`reset()`) and this isolate's memory tier in front of it (module state survives `reset()`). */
async function resetCaches() {
  clearIsolateCache();
  await reset();
}

afterEach(() => resetCaches());

describe("edge cache", () => {
  it("MISS then HIT with the same body, Cache-Control and Cache-Tag", async () => {
    const first = await apiSettled("/api/v1/products?limit=3");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("MISS");
    const body = await first.text();
    const second = await apiSettled("/api/v1/products?limit=3");
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(await second.text()).toBe(body);
    expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(second.headers.get("cache-control")).toMatch(/^public, max-age=\d+, s-maxage=\d+, stale-while-revalidate=\d+$/);
    expect(second.headers.get("cache-tag")).toContain("catalog");
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
  });

  it("normalises the key: parameter order and defaults share one entry", async () => {
    expect((await apiSettled("/api/v1/products?in_stock=true&currency=USD")).headers.get("x-cache")).toBe("MISS");
    expect((await apiSettled("/api/v1/products?currency=USD&in_stock=true&limit=20")).headers.get("x-cache")).toBe("HIT");
    const canonical = canonicalRequest("/p/:id", { param: { id: "a b" }, query: { b: "2", a: "1 +", limit: "20" } });
    expect(cacheKey("https://x.test", canonical)).toBe("https://x.test/__edge-cache/v2/0/p/a%20b?a=1+%2B&b=2&limit=20");
  });

  it("answers 304 to If-None-Match with the ETag, on HIT and on MISS", async () => {
    const first = await apiSettled("/api/v1/categories");
    const etag = first.headers.get("etag") as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const hit = await apiSettled("/api/v1/categories", { headers: { "If-None-Match": etag } });
    expect(hit.status).toBe(304);
    expect(hit.headers.get("etag")).toBe(etag);
    expect(await hit.text()).toBe("");
    await resetCaches();
    const miss = await apiSettled("/api/v1/categories", { headers: { "If-None-Match": `W/${etag}, "other"` } });
    expect(miss.status).toBe(304);
    expect(miss.headers.get("x-cache")).toBe("MISS");
    const changed = await apiSettled("/api/v1/categories", { headers: { "If-None-Match": '"stale"' } });
    expect(changed.status).toBe(200);
    expect(etagMatches("*", etag)).toBe(true);
  });

  it("tags a product detail with product, category and catalog", async () => {
    const [row] = await sql<{ id: string; sku: string; category_id: string }>(
      "SELECT id, sku, category_id FROM products WHERE category_id IS NOT NULL LIMIT 1",
    );
    const res = await apiSettled(`/api/v1/products/${row?.sku}`);
    expect(res.headers.get("cache-tag")?.split(",")).toEqual([`product:${row?.id}`, `category:${row?.category_id}`, "catalog"]);
  });

  it("never caches errors", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await apiSettled("/api/v1/products/NO-SUCH-SKU-EVER");
      await expectProblem(res, 404, "not_found");
      expect(res.headers.get("x-cache")).toBeNull();
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    for (let i = 0; i < 2; i++) {
      const res = await apiSettled("/api/v1/products?limit=0");
      await expectProblem(res, 400);
      expect(res.headers.get("x-cache")).toBeNull();
    }
  });

  it("does not store per-request headers (CORS, request id) in the cache", async () => {
    await apiSettled("/api/v1/products?limit=4", { headers: { Origin: "https://shop.example.com" } });
    const hit = await apiSettled("/api/v1/products?limit=4", { headers: { Origin: "https://admin.example.com" } });
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect(hit.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
  });

  it("HEAD is served from the same entry without a body", async () => {
    await apiSettled("/api/v1/products?limit=5");
    const head = await apiSettled("/api/v1/products?limit=5", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("x-cache")).toBe("HIT");
    expect(await head.text()).toBe("");
  });
});
