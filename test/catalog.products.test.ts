import { describe, expect, it } from "vitest";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { api, connect, expectProblem, sql, uniqueSuffix } from "./helpers.ts";

interface Page {
  data: ProductDto[];
  has_more: boolean;
  next_cursor: string | null;
}

const getPage = async (qs: string) => {
  const res = await api(`/api/v1/products${qs}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
};

describe("GET /api/v1/products (happy)", () => {
  it("returns 20 newest active products with a cursor", async () => {
    const page = await getPage("?category=electronics");
    expect(page.data).toHaveLength(20);
    expect(page.has_more).toBe(true);
    expect(page.next_cursor).toEqual(expect.any(String));
    const p = page.data[0] as ProductDto;
    expect(p).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      price_cents: expect.any(Number),
      currency: expect.stringMatching(/^[A-Z]{3}$/),
    });
    expect(Number.isInteger(p.price_cents)).toBe(true);
    expect(p.category).toMatchObject({ slug: expect.any(String) });
    const keys = page.data.map((x) => `${x.created_at}|${x.id}`);
    expect([...keys].sort().reverse()).toEqual(keys);
  });

  it("filters by category slug and id, price range, currency and stock", async () => {
    const [cat] = await sql<{ id: string }>("SELECT id FROM categories WHERE slug = 'books'");
    const bySlug = await getPage("?category=books&limit=100");
    expect(bySlug.data.length).toBeGreaterThan(0);
    expect(bySlug.data.every((p) => p.category?.slug === "books")).toBe(true);
    const byId = await getPage(`?category=${cat?.id}&limit=100`);
    expect(byId.data.map((p) => p.id)).toEqual(bySlug.data.map((p) => p.id));

    const priced = await getPage("?min_price=1000&max_price=5000&limit=100");
    expect(priced.data.every((p) => p.price_cents >= 1000 && p.price_cents <= 5000)).toBe(true);
    const eur = await getPage("?currency=EUR&limit=50");
    expect(eur.data.length).toBeGreaterThan(0);
    expect(eur.data.every((p) => p.currency === "EUR")).toBe(true);
    const out = await getPage("?in_stock=false&limit=100");
    expect(out.data.length).toBeGreaterThan(0);
    expect(out.data.every((p) => p.stock === 0 && !p.in_stock)).toBe(true);
    const inStock = await getPage("?in_stock=true&limit=100");
    expect(inStock.data.every((p) => p.stock > 0)).toBe(true);
  });

  it("an unknown category is an empty list, not an error", async () => {
    const page = await getPage("?category=no-such-thing");
    expect(page).toEqual({ data: [], has_more: false, next_cursor: null });
  });

  it("walks the whole catalogue with no duplicates or skips while rows are inserted concurrently", async () => {
    const before = await sql<{ id: string }>("SELECT id FROM products WHERE status = 'active'");
    const expected = new Set(before.map((r) => r.id));
    const seen: string[] = [];
    const tag = uniqueSuffix();
    const writer = await connect();
    let inserted = 0;
    let stop = false;
    const inserting = (async () => {
      while (!stop) {
        await writer.query(
          "INSERT INTO products (sku, name, slug, price_cents, currency, stock) VALUES ($1, 'Concurrent Widget', $2, 100, 'USD', 1)",
          [`CONC-${tag}-${inserted}`, `concurrent-${tag}-${inserted}`],
        );
        inserted++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await getPage(`?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      seen.push(...page.data.map((p) => p.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    stop = true;
    await inserting;
    await writer.end();
    expect(inserted).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    const missing = [...expected].filter((id) => !seen.includes(id));
    expect(missing).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(1200);
  });

  it("paginates a filtered list to its end", async () => {
    const all = await sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM products p JOIN categories c ON c.id = p.category_id WHERE c.slug = 'toys' AND p.status = 'active'",
    );
    let cursor: string | null = null;
    let count = 0;
    do {
      const page: Page = await getPage(`?category=toys&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      count += page.data.length;
      cursor = page.next_cursor;
    } while (cursor);
    expect(count).toBe(all[0]?.n);
  });
});

describe("GET /api/v1/products (errors)", () => {
  it.each([
    ["?limit=0", "limit"],
    ["?limit=101", "limit"],
    ["?limit=1.5", "limit"],
    ["?limit=abc", "limit"],
    ["?min_price=-1", "min_price"],
    ["?max_price=1e3", "max_price"],
    ["?min_price=99999999999999999999", "min_price"],
    ["?min_price=500&max_price=100", "min_price"],
    ["?in_stock=maybe", "in_stock"],
    ["?currency=usd", "currency"],
    ["?colour=red", "colour"],
  ])("%s → 400 naming %s", async (qs, field) => {
    const p = await expectProblem(await api(`/api/v1/products${qs}`), 400, "validation_error");
    expect(p.errors?.map((e) => e.field)).toContain(field);
    expect(p.errors?.every((e) => e.in === "query")).toBe(true);
  });

  it("a tampered cursor is a 400", async () => {
    const { next_cursor } = await getPage("?limit=5");
    const cursor = next_cursor as string;
    const [body, sig] = cursor.split(".") as [string, string];
    const forged = btoa(JSON.stringify(["2030-01-01 00:00:00+00", "00000000-0000-4000-8000-000000000000"])).replace(/=+$/, "");
    for (const bad of [`${forged}.${sig}`, `${body}.${sig.slice(0, -2)}AA`, "garbage", `${body}`, "a.b.c"]) {
      const p = await expectProblem(await api(`/api/v1/products?limit=5&cursor=${encodeURIComponent(bad)}`), 400, "invalid_cursor");
      expect(p.errors?.[0]?.field).toBe("cursor");
    }
  });

  it("a cursor issued for other filters is a 400", async () => {
    const { next_cursor } = await getPage("?category=books&limit=5");
    await expectProblem(
      await api(`/api/v1/products?category=toys&limit=5&cursor=${encodeURIComponent(next_cursor as string)}`),
      400,
      "invalid_cursor",
    );
  });
});

describe("GET /api/v1/products/{idOrSku}", () => {
  it("finds a product by id and by SKU", async () => {
    const [row] = await sql<{ id: string; sku: string }>("SELECT id, sku FROM products WHERE status = 'active' ORDER BY sku LIMIT 1");
    const byId = (await (await api(`/api/v1/products/${row?.id}`)).json()) as ProductDto;
    const bySku = (await (await api(`/api/v1/products/${row?.sku}`)).json()) as ProductDto;
    expect(byId.sku).toBe(row?.sku);
    expect(bySku.id).toBe(row?.id);
  });

  it("404 for an unknown id or SKU, and for an archived product", async () => {
    await expectProblem(await api("/api/v1/products/00000000-0000-4000-8000-000000000000"), 404, "not_found");
    await expectProblem(await api("/api/v1/products/NO-SUCH-SKU"), 404, "not_found");
    const sku = `ARCH-${uniqueSuffix()}`;
    await sql("INSERT INTO products (sku, name, slug, price_cents, currency, status) VALUES ($1, 'Old', $2, 1, 'USD', 'archived')", [
      sku,
      sku.toLowerCase(),
    ]);
    await expectProblem(await api(`/api/v1/products/${sku}`), 404, "not_found");
  });

  it("400 for a malformed reference (no database lookup)", async () => {
    const p = await expectProblem(
      await api(`/api/v1/products/${encodeURIComponent("x'; drop table products;--")}`),
      400,
      "validation_error",
    );
    expect(p.errors?.[0]).toMatchObject({ field: "idOrSku", in: "path" });
  });
});

describe("GET /api/v1/categories", () => {
  it("lists the seeded categories with product counts", async () => {
    const res = await api("/api/v1/categories");
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { slug: string; product_count: number }[] };
    expect(data.length).toBeGreaterThanOrEqual(10);
    expect(data.find((c) => c.slug === "electronics")?.product_count).toBeGreaterThan(0);
  });
});
