import { describe, expect, it } from "vitest";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { api, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";

const admin = await createUser("ADMIN");
const adminApi = (path: string, method: string, body?: unknown) =>
  api(`/api/v1/admin${path}`, body === undefined ? { method, headers: admin.auth } : jsonInit(method, body, admin.auth));
const newProduct = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sku: `NEW-${uniqueSuffix().toUpperCase()}`,
  name: "Admin Widget",
  price_cents: 1299,
  currency: "USD",
  stock: 5,
  ...extra,
});
const count = async () => (await sql<{ n: number }>("SELECT count(*)::int AS n FROM products"))[0]?.n;

describe("admin products (happy)", () => {
  it("creates, reads, updates and archives a product", async () => {
    const [cat] = await sql<{ id: string }>("SELECT id FROM categories WHERE slug = 'office'");
    const created = await adminApi("/products", "POST", newProduct({ category_id: cat?.id, description: "A fine widget" }));
    expect(created.status).toBe(201);
    const p = (await created.json()) as ProductDto;
    expect(created.headers.get("location")).toBe(`/api/v1/products/${p.id}`);
    expect(p).toMatchObject({ name: "Admin Widget", price_cents: 1299, stock: 5, status: "active", category: { slug: "office" } });
    expect(p.slug).toMatch(/^admin-widget-new-/);

    const patched = (await (
      await adminApi(`/products/${p.id}`, "PATCH", { price_cents: 1499, name: "Admin Widget II" })
    ).json()) as ProductDto;
    expect(patched).toMatchObject({ price_cents: 1499, name: "Admin Widget II", stock: 5 });

    const archived = (await (await adminApi(`/products/${p.id}/archive`, "POST")).json()) as ProductDto;
    expect(archived.status).toBe("archived");
    expect((await adminApi(`/products/${p.id}/archive`, "POST")).status).toBe(200);
    await expectProblem(await api(`/api/v1/products/${p.id}`), 404);
    expect(((await (await adminApi(`/products/${p.id}`, "GET")).json()) as ProductDto).status).toBe("archived");
  });

  it("adjusts stock atomically and never below zero", async () => {
    const p = (await (await adminApi("/products", "POST", newProduct({ stock: 3 }))).json()) as ProductDto;
    const up = (await (
      await adminApi(`/products/${p.id}/stock-adjustments`, "POST", { delta: 7, reason: "restock" })
    ).json()) as ProductDto;
    expect(up.stock).toBe(10);
    const tooMuch = await expectProblem(
      await adminApi(`/products/${p.id}/stock-adjustments`, "POST", { delta: -11, reason: "shrinkage" }),
      409,
      "conflict",
    );
    expect(tooMuch.current_stock).toBe(10);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => adminApi(`/products/${p.id}/stock-adjustments`, "POST", { delta: -1, reason: "sale" })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    expect(results.filter((r) => r.status === 409)).toHaveLength(2);
    const [row] = await sql<{ stock: number }>("SELECT stock FROM products WHERE id = $1", [p.id]);
    expect(row?.stock).toBe(0);
  });

  it("imports 1,000 products in one transaction", async () => {
    const tag = uniqueSuffix().toUpperCase();
    const products = Array.from({ length: 1000 }, (_, i) => newProduct({ sku: `IMP-${tag}-${i}`, name: `Imported ${i}` }));
    const res = await adminApi("/products/import", "POST", { products });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { imported: number }).imported).toBe(1000);
    const [row] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM products WHERE sku LIKE $1", [`IMP-${tag}-%`]);
    expect(row?.n).toBe(1000);
  });

  it("creates and updates categories", async () => {
    const slug = `cat-${uniqueSuffix()}`;
    const res = await adminApi("/categories", "POST", { slug, name: "Gadgets" });
    expect(res.status).toBe(201);
    const cat = (await res.json()) as { id: string };
    const upd = await adminApi(`/categories/${cat.id}`, "PATCH", { name: "Gizmos" });
    expect(((await upd.json()) as { name: string }).name).toBe("Gizmos");
    await expectProblem(await adminApi("/categories", "POST", { slug, name: "Again" }), 409);
    await expectProblem(await adminApi(`/categories/${cat.id}`, "PATCH", { parent_id: cat.id }), 400);
  });
});

describe("admin products (errors)", () => {
  it("duplicate SKU → 409 naming the field; nothing written", async () => {
    const body = newProduct();
    expect((await adminApi("/products", "POST", body)).status).toBe(201);
    const before = await count();
    const p = await expectProblem(await adminApi("/products", "POST", { ...body, slug: `other-${uniqueSuffix()}` }), 409, "conflict");
    expect(p.errors?.[0]).toMatchObject({ field: "sku", code: "already_exists" });
    expect(await count()).toBe(before);
  });

  it.each([
    [{ id: "00000000-0000-4000-8000-000000000000" }, "id"],
    [{ created_at: "2020-01-01T00:00:00Z" }, "created_at"],
    [{ price_cents: 12.5 }, "price_cents"],
    [{ price_cents: -1 }, "price_cents"],
    [{ price_cents: 1e20 }, "price_cents"],
    [{ currency: "usd" }, "currency"],
    [{ stock: -5 }, "stock"],
    [{ sku: "bad sku!" }, "sku"],
  ])("create with %j → 400 on %s (no mass assignment), nothing written", async (extra, field) => {
    const before = await count();
    const p = await expectProblem(await adminApi("/products", "POST", newProduct(extra)), 400, "validation_error");
    expect(p.errors?.map((e) => e.field)).toContain(field);
    expect(await count()).toBe(before);
  });

  it("update refuses stock, ids and timestamps; an empty patch; an unknown id", async () => {
    const p = (await (await adminApi("/products", "POST", newProduct())).json()) as ProductDto;
    for (const bad of [{ stock: 100 }, { id: p.id }, { updated_at: "2020-01-01T00:00:00Z" }, {}]) {
      await expectProblem(await adminApi(`/products/${p.id}`, "PATCH", bad), 400, "validation_error");
    }
    await expectProblem(await adminApi("/products/00000000-0000-4000-8000-000000000000", "PATCH", { name: "x" }), 404);
    await expectProblem(await adminApi("/products/not-a-uuid", "PATCH", { name: "x" }), 400);
  });

  it("an unknown category is a 400 on create", async () => {
    const p = await expectProblem(
      await adminApi("/products", "POST", newProduct({ category_id: "00000000-0000-4000-8000-000000000000" })),
      400,
    );
    expect(p.errors?.[0]?.field).toBe("category_id");
  });

  it("import is all or nothing: one existing SKU rolls back every row and names the line", async () => {
    const existing = newProduct();
    await adminApi("/products", "POST", existing);
    const tag = uniqueSuffix().toUpperCase();
    const products = Array.from({ length: 50 }, (_, i) => newProduct({ sku: `RB-${tag}-${i}` }));
    products[37] = { ...existing, slug: `fresh-${uniqueSuffix()}` };
    const before = await count();
    const p = await expectProblem(await adminApi("/products/import", "POST", { products }), 409, "conflict");
    expect(p.errors).toEqual([expect.objectContaining({ field: "products.37.sku", code: "already_exists" })]);
    expect(await count()).toBe(before);
  });

  it("import reports duplicates inside the payload and unknown categories, per line", async () => {
    const a = newProduct();
    const p = await expectProblem(
      await adminApi("/products/import", "POST", {
        products: [a, newProduct(), { ...a }, newProduct({ category_id: "00000000-0000-4000-8000-000000000000" })],
      }),
      400,
    );
    expect(p.errors?.map((e) => e.field).sort()).toEqual(["products.2.sku", "products.2.slug", "products.3.category_id"]);
  });

  it("import limits: empty and 1,001 lines are 400", async () => {
    await expectProblem(await adminApi("/products/import", "POST", { products: [] }), 400);
    const many = Array.from({ length: 1001 }, (_, i) => newProduct({ sku: `X-${i}` }));
    const res = await adminApi("/products/import", "POST", { products: many });
    expect([400, 413]).toContain(res.status);
  });
});

describe("the stock ledger", () => {
  it("lists every adjustment with its delta, stock after, reason and actor, newest first, in keyset pages", async () => {
    const p = (await (await adminApi("/products", "POST", newProduct({ stock: 10 }))).json()) as ProductDto;
    for (const [delta, reason] of [
      [5, "restock"],
      [-2, "damaged"],
      [1, "found one"],
    ] as const) {
      expect((await adminApi(`/products/${p.id}/stock-adjustments`, "POST", { delta, reason })).status).toBe(200);
    }
    // Refused (below zero): not in the ledger.
    await expectProblem(await adminApi(`/products/${p.id}/stock-adjustments`, "POST", { delta: -100, reason: "oops" }), 409);
    const first = await adminApi(`/products/${p.id}/stock-adjustments?limit=2`, "GET");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toContain("no-store");
    const page1 = (await first.json()) as { data: Record<string, unknown>[]; has_more: boolean; next_cursor: string | null };
    expect(page1.data.map((e) => [e.delta, e.stock_after, e.reason, e.actor_id])).toEqual([
      [1, 14, "found one", admin.id],
      [-2, 13, "damaged", admin.id],
    ]);
    expect(page1.has_more).toBe(true);
    const page2 = (await (
      await adminApi(`/products/${p.id}/stock-adjustments?limit=2&cursor=${encodeURIComponent(page1.next_cursor ?? "")}`, "GET")
    ).json()) as { data: Record<string, unknown>[]; has_more: boolean };
    expect(page2.data.map((e) => [e.delta, e.stock_after])).toEqual([[5, 15]]);
    expect(page2.has_more).toBe(false);
  });

  it("a cursor of another product's ledger is refused; an unknown product is 404; a customer is 403", async () => {
    const a = (await (await adminApi("/products", "POST", newProduct())).json()) as ProductDto;
    const b = (await (await adminApi("/products", "POST", newProduct())).json()) as ProductDto;
    for (let i = 0; i < 2; i++) await adminApi(`/products/${a.id}/stock-adjustments`, "POST", { delta: 1, reason: "r" });
    const { next_cursor } = (await (await adminApi(`/products/${a.id}/stock-adjustments?limit=1`, "GET")).json()) as {
      next_cursor: string;
    };
    await expectProblem(
      await adminApi(`/products/${b.id}/stock-adjustments?cursor=${encodeURIComponent(next_cursor)}`, "GET"),
      400,
      "invalid_cursor",
    );
    await expectProblem(await adminApi(`/products/${crypto.randomUUID()}/stock-adjustments`, "GET"), 404);
    const user = await createUser();
    await expectProblem(await api(`/api/v1/admin/products/${a.id}/stock-adjustments`, { headers: user.auth }), 403);
  });
});
