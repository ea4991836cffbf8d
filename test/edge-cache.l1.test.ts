/**
 * Issue 13, item 1: the isolate-memory tier (L1) in front of the Cache API (L2).
 * All requests of this file run in one isolate, so L1 and the generation memo (module state) persist
 * between them: that is what is tested. The tier that answered is read from the access-log line
 * (`cache_tier`), so every client here logs at info level.
 *
 * Each test runs on its own origin: the catalogue generation and the cache keys are per origin, so
 * admin writes by other test files cannot turn a primed entry into a MISS under our feet.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import { bumpGeneration } from "../src/lib/cache-generation.ts";
import { clearIsolateCache, isolateCacheStats } from "../src/lib/isolate-cache.ts";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { memoisedCatalogGeneration } from "../src/services/cache-invalidation.ts";
import { createUser, jsonInit, uniqueSuffix } from "./helpers.ts";

interface Read {
  res: Response;
  body: string;
  /** X-Cache */
  cache: string | null;
  /** The access-log line's cache_tier: "l1", "l2" or undefined (MISS, uncached). */
  tier: unknown;
}

const bindings = (vars: Record<string, string> = {}) => ({ ...env, LOG_LEVEL: "info", ...vars }) as Env;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client of one fresh origin; each read returns the response, its body and its access-log line's tier. */
function client(b: Env = bindings()) {
  const origin = `https://l1-${uniqueSuffix()}.test`;
  const read = async (path: string, init?: RequestInit): Promise<Read> => {
    const lines: Record<string, unknown>[] = [];
    const collect = (line: unknown) => {
      const parsed = JSON.parse(String(line)) as Record<string, unknown>;
      if (parsed.msg === "request") lines.push(parsed);
    };
    // The access line is info for a 2xx/3xx, warn for a 4xx.
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
    return { res, body: await res.text(), cache: res.headers.get("x-cache"), tier: line?.cache_tier };
  };
  return { origin, read };
}

afterEach(() => vi.restoreAllMocks());

describe("edge cache, isolate tier (L1)", () => {
  it("serves the second identical read from isolate memory, with no Cache API call, exactly like an L2 HIT", async () => {
    const { read } = client();
    const miss = await read("/api/v1/products?limit=3");
    expect(miss.cache).toBe("MISS");
    expect(miss.tier).toBeUndefined();

    const match = vi.spyOn(caches.default, "match");
    const hit = await read("/api/v1/products?limit=3");
    expect(match).not.toHaveBeenCalled();
    expect(hit.cache).toBe("HIT");
    expect(hit.tier).toBe("l1");
    expect(hit.res.status).toBe(200);
    expect(hit.body).toBe(miss.body);
    for (const h of ["etag", "cache-control", "cache-tag", "content-type"]) expect(hit.res.headers.get(h), h).toBe(miss.res.headers.get(h));
    expect(hit.res.headers.get("age")).toMatch(/^\d+$/);
    // A per-request header is still per request; the stored bytes are not consumed by serving them.
    expect(hit.res.headers.get("x-request-id")).not.toBe(miss.res.headers.get("x-request-id"));
    const again = await read("/api/v1/products?limit=03");
    expect(again.tier).toBe("l1");
    expect(again.body).toBe(miss.body);
    expect(match).not.toHaveBeenCalled();
    // The spy does see the Cache API: without the L1 entry, the same read asks L2.
    clearIsolateCache();
    expect((await read("/api/v1/products?limit=3")).tier).toBe("l2");
    expect(match).toHaveBeenCalled();
  });

  it("If-None-Match → 304 and HEAD without a body, from L1", async () => {
    const { read } = client();
    const first = await read("/api/v1/categories");
    const etag = first.res.headers.get("etag") as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

    const notModified = await read("/api/v1/categories", { headers: { "If-None-Match": `"other", W/${etag}` } });
    expect(notModified.tier).toBe("l1");
    expect(notModified.res.status).toBe(304);
    expect(notModified.cache).toBe("HIT");
    expect(notModified.body).toBe("");
    expect(notModified.res.headers.get("etag")).toBe(etag);
    expect(notModified.res.headers.get("content-type")).toBeNull();
    expect(notModified.res.headers.get("cache-control")).toBe(first.res.headers.get("cache-control"));

    const changed = await read("/api/v1/categories", { headers: { "If-None-Match": '"stale"' } });
    expect(changed.tier).toBe("l1");
    expect(changed.res.status).toBe(200);
    expect(changed.body).toBe(first.body);

    const head = await read("/api/v1/categories", { method: "HEAD" });
    expect(head.tier).toBe("l1");
    expect(head.res.status).toBe(200);
    expect(head.cache).toBe("HIT");
    expect(head.body).toBe("");
    expect(head.res.headers.get("etag")).toBe(etag);
    expect(head.res.headers.get("content-type")).toBe(first.res.headers.get("content-type"));
  });

  it("an L2 HIT is promoted to L1", async () => {
    const { read } = client();
    const miss = await read("/api/v1/products?limit=2");
    clearIsolateCache();
    const fromL2 = await read("/api/v1/products?limit=2");
    expect([fromL2.cache, fromL2.tier]).toEqual(["HIT", "l2"]);
    const fromL1 = await read("/api/v1/products?limit=2");
    expect([fromL1.cache, fromL1.tier]).toEqual(["HIT", "l1"]);
    expect(fromL1.body).toBe(miss.body);
    expect(fromL1.res.headers.get("etag")).toBe(miss.res.headers.get("etag"));
  });

  it("a write through the admin API is visible to the very next read in this isolate", async () => {
    const b = bindings();
    const { read } = client(b);
    const admin = await createUser("ADMIN");
    const created = await read(
      "/api/v1/admin/products",
      jsonInit("POST", { sku: `L1-${uniqueSuffix()}`, name: "Before", price_cents: 100, currency: "USD", stock: 5 }, admin.auth),
    );
    const p = JSON.parse(created.body) as ProductDto;
    const path = `/api/v1/products/${p.sku}`;
    expect((await read(path)).cache).toBe("MISS");
    const hit = await read(path);
    expect(hit.tier).toBe("l1");
    expect((JSON.parse(hit.body) as ProductDto).name).toBe("Before");

    await read(`/api/v1/admin/products/${p.id}`, jsonInit("PATCH", { name: "After" }, admin.auth));
    const renamed = await read(path);
    expect(renamed.cache).toBe("MISS");
    expect(JSON.parse(renamed.body)).toMatchObject({ name: "After", stock: 5 });
    expect((await read(path)).tier).toBe("l1");

    await read(`/api/v1/admin/products/${p.id}/stock-adjustments`, jsonInit("POST", { delta: -2, reason: "sale" }, admin.auth));
    const restocked = await read(path);
    expect(restocked.cache).toBe("MISS");
    expect(JSON.parse(restocked.body)).toMatchObject({ name: "After", stock: 3 });
  });

  it("another isolate's write reaches this isolate's reads once the generation memo expires", async () => {
    const { origin, read } = client();
    const path = "/api/v1/products?limit=4";
    const miss = await read(path);
    expect((await read(path)).tier).toBe("l1");
    // What a write through another isolate of this location does: a new generation in the Cache API.
    await bumpGeneration(origin, "catalog", 60);
    // Within CATALOG_GENERATION_MEMO_MS (1 s) of reading it, this isolate still keys by the old generation.
    const memoised = memoisedCatalogGeneration(origin, 1000) !== undefined;
    expect(await read(path)).toMatchObject(memoised ? { cache: "HIT", tier: "l1" } : { cache: "MISS" });
    await sleep(1050);
    const next = await read(path);
    expect(next.cache).toBe("MISS");
    expect(next.body).toBe(miss.body);

    // Without the memo, every read asks the Cache API for the generation: the next read misses at once.
    const noMemo = client(bindings({ CATALOG_GENERATION_MEMO_MS: "0" }));
    await noMemo.read(path);
    expect((await noMemo.read(path)).tier).toBe("l1");
    await bumpGeneration(noMemo.origin, "catalog", 60);
    expect((await noMemo.read(path)).cache).toBe("MISS");
  });

  it("is bounded by bytes: the least recently used entry is evicted", async () => {
    // Measure two entries as the default tier stores them (origins of one length: keys of one length).
    const paths = ["/api/v1/products?limit=1", "/api/v1/products?limit=2", "/api/v1/products?limit=3"];
    const sizes: number[] = [];
    const measure = client();
    for (const path of paths) {
      clearIsolateCache();
      await measure.read(path);
      sizes.push(isolateCacheStats().bytes);
    }
    const [a = 0, b = 0, c = 0] = sizes;
    expect(Math.min(a, b, c)).toBeGreaterThan(0);
    // Room for the two larger entries, never for all three (half the smallest as slack: other test files
    // write products concurrently, so a page can change by a few bytes between measuring and testing).
    const limit = a + b + c - Math.ceil(Math.min(a, b, c) / 2);
    expect(limit).toBeLessThan(a + b + c);

    const { read } = client(bindings({ CATALOG_L1_MAX_BYTES: String(limit) }));
    clearIsolateCache();
    const [p1, p2, p3] = paths as [string, string, string];
    await read(p2);
    await read(p3);
    expect((await read(p2)).tier).toBe("l1");
    expect((await read(p3)).tier).toBe("l1");
    await read(p1);
    expect(isolateCacheStats().bytes).toBeLessThanOrEqual(limit);
    // p2 was used less recently than p3: it went first.
    const evicted = await read(p2);
    expect([evicted.cache, evicted.tier]).toEqual(["HIT", "l2"]);
    expect((await read(p1)).tier).toBe("l1");

    // An entry larger than the whole tier is never stored in it.
    const tiny = client(bindings({ CATALOG_L1_MAX_BYTES: "100" }));
    clearIsolateCache();
    await tiny.read(p3);
    expect(isolateCacheStats().entries).toBe(0);
    expect((await tiny.read(p3)).tier).toBe("l2");
  });

  it("an entry stays in L1 for CATALOG_L1_TTL_SEC, then L2 answers (and promotes it again)", async () => {
    const { read } = client(bindings({ CATALOG_L1_TTL_SEC: "1" }));
    const path = "/api/v1/products?limit=5";
    await read(path);
    expect((await read(path)).tier).toBe("l1");
    await sleep(1100);
    const expired = await read(path);
    expect([expired.cache, expired.tier]).toEqual(["HIT", "l2"]);
    expect((await read(path)).tier).toBe("l1");
  });

  it("never serves an entry older than CATALOG_CACHE_TTL_SEC: L2 answers STALE and refreshes it", async () => {
    const { read } = client(bindings({ CATALOG_CACHE_TTL_SEC: "1", CATALOG_CACHE_SWR_SEC: "300", CATALOG_BROWSER_TTL_SEC: "1" }));
    const path = "/api/v1/products?limit=6";
    const miss = await read(path);
    expect((await read(path)).tier).toBe("l1");
    await sleep(1100);
    const stale = await read(path);
    expect([stale.cache, stale.tier]).toEqual(["STALE", "l2"]);
    expect(stale.body).toBe(miss.body);
    expect(Number(stale.res.headers.get("age"))).toBeGreaterThanOrEqual(1);
    // The refresh (waited for) stored a fresh entry in both tiers.
    const fresh = await read(path);
    expect([fresh.cache, fresh.tier]).toEqual(["HIT", "l1"]);
    expect(fresh.res.headers.get("age")).toBe("0");
  });

  it("CATALOG_L1_MAX_BYTES=0: nothing is served from or stored in L1", async () => {
    const { read } = client(bindings({ CATALOG_L1_MAX_BYTES: "0" }));
    clearIsolateCache();
    const path = "/api/v1/products?limit=7";
    expect((await read(path)).cache).toBe("MISS");
    for (let i = 0; i < 3; i++) expect(await read(path)).toMatchObject({ cache: "HIT", tier: "l2" });
    expect(isolateCacheStats().entries).toBe(0);
  });

  it("invalid requests and errors never touch L1", async () => {
    const { read } = client();
    clearIsolateCache();
    for (const path of [
      "/api/v1/products?limit=0",
      "/api/v1/products?category=%20",
      "/api/v1/products?x=1",
      "/api/v1/products/NO-SUCH-SKU",
    ]) {
      for (let i = 0; i < 2; i++) {
        const r = await read(path);
        expect(r.res.status, path).toBeGreaterThanOrEqual(400);
        expect(r.cache, path).toBeNull();
        expect(r.tier, path).toBeUndefined();
      }
    }
    expect(isolateCacheStats()).toEqual({ entries: 0, bytes: 0 });
  });
});
