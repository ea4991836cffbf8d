import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/lib/logger.ts";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { purgeTags } from "../src/services/cache-invalidation.ts";
import { apiSettled, createUser, jsonInit, purgeEnv, uniqueSuffix, ZONE } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

describe("cache invalidation on writes", () => {
  it("a product update is visible on the very next read (MISS, new body)", async () => {
    const admin = await createUser("ADMIN");
    const created = await apiSettled(
      "/api/v1/admin/products",
      jsonInit("POST", { sku: `INV-${uniqueSuffix()}`, name: "Before", price_cents: 100, currency: "USD" }, admin.auth),
    );
    const p = (await created.json()) as ProductDto;
    const path = `/api/v1/products/${p.sku}`;
    expect((await apiSettled(path)).headers.get("x-cache")).toBe("MISS");
    const hit = await apiSettled(path);
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect(((await hit.json()) as ProductDto).name).toBe("Before");
    const list = "/api/v1/products?limit=1";
    await apiSettled(list);
    expect((await apiSettled(list)).headers.get("x-cache")).toBe("HIT");

    await apiSettled(`/api/v1/admin/products/${p.id}`, jsonInit("PATCH", { name: "After", price_cents: 250 }, admin.auth));

    const next = await apiSettled(path);
    expect(next.headers.get("x-cache")).toBe("MISS");
    expect(await next.json()).toMatchObject({ name: "After", price_cents: 250 });
    expect((await apiSettled(list)).headers.get("x-cache")).toBe("MISS");
  });

  it("archiving removes the product from the next read", async () => {
    const admin = await createUser("ADMIN");
    const p = (await (
      await apiSettled(
        "/api/v1/admin/products",
        jsonInit("POST", { sku: `ARC-${uniqueSuffix()}`, name: "Gone soon", price_cents: 1, currency: "USD" }, admin.auth),
      )
    ).json()) as ProductDto;
    expect((await apiSettled(`/api/v1/products/${p.id}`)).status).toBe(200);
    expect((await apiSettled(`/api/v1/products/${p.id}`)).headers.get("x-cache")).toBe("HIT");
    await apiSettled(`/api/v1/admin/products/${p.id}/archive`, { method: "POST", headers: admin.auth });
    expect((await apiSettled(`/api/v1/products/${p.id}`)).status).toBe(404);
  });

  it("with a zone configured, purges by Cache-Tag through the zone API in the background", async () => {
    const calls: { url: string; auth: string | null; body: { tags: string[] } }[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (!req.url.startsWith("https://purge.stub/")) return real(input as RequestInfo, init);
      calls.push({ url: req.url, auth: req.headers.get("authorization"), body: (await req.json()) as { tags: string[] } });
      return Response.json({ success: true, result: { id: ZONE } });
    });
    const admin = await createUser("ADMIN");
    const [cat] = await (await import("./helpers.ts")).sql<{ id: string }>("SELECT id FROM categories WHERE slug = 'garden'");
    const res = await apiSettled(
      "/api/v1/admin/products",
      jsonInit("POST", { sku: `PRG-${uniqueSuffix()}`, name: "Purged", price_cents: 1, currency: "USD", category_id: cat?.id }, admin.auth),
      purgeEnv,
    );
    const p = (await res.json()) as ProductDto;
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(`https://purge.stub/client/v4/zones/${ZONE}/purge_cache`);
    expect(calls[0]?.auth).toBe("Bearer test-purge-token-0123456789");
    expect(calls[0]?.body.tags.sort()).toEqual([`category:${cat?.id}`, "categories", `product:${p.id}`, "products", "search"].sort());
  });

  it("retries a failing purge with backoff and logs the final failure", async () => {
    let attempts = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      attempts++;
      return new Response("overloaded", { status: 503 });
    });
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((l: unknown) => void errors.push(String(l)));
    const ok = await purgeTags(loadConfig(purgeEnv as Env), createLogger("info"), ["product:x"], { baseDelayMs: 1 });
    expect(ok).toBe(false);
    expect(attempts).toBe(3);
    expect(errors.join("\n")).toContain("cache purge by tag failed");
    expect(errors.join("\n")).not.toContain("test-purge-token");
  });

  it("does nothing without a zone", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    expect(await purgeTags(loadConfig(env), createLogger("info"), ["catalog"])).toBe(false);
    expect(spy).not.toHaveBeenCalled();
  });
});
