/** SQL for admin catalogue writes. Every function takes a drizzle instance (or transaction). */
import { eq, inArray, or, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";
import { categories, products } from "./schema.ts";
import { iso } from "./webhook-endpoints.repo.ts";

export interface NewProduct {
  sku: string;
  name: string;
  slug: string;
  description: string;
  priceCents: number;
  currency: string;
  categoryId: string | null;
  stock: number;
  status: "active" | "archived";
}

export async function insertProduct(db: Drizzle, p: NewProduct): Promise<{ id: string; categoryId: string | null }> {
  const [row] = await db.insert(products).values(p).returning({ id: products.id, categoryId: products.categoryId });
  if (!row) throw new Error("insert returned no row");
  return row;
}

/** Returns the previous category (for cache tags) or null when the product does not exist. */
export async function updateProduct(
  db: Drizzle,
  id: string,
  patch: Partial<NewProduct>,
): Promise<{ before: string | null; after: string | null } | null> {
  const rows = await db.execute<{ before: string | null; after: string | null }>(sql`
    WITH old AS (SELECT id, category_id FROM products WHERE id = ${id} FOR UPDATE)
    UPDATE products p SET ${sql.join(
      [...Object.entries(patch).map(([k, v]) => sql`${sql.identifier(columnOf(k))} = ${v}`), sql`updated_at = now()`],
      sql`, `,
    )}
    FROM old WHERE p.id = old.id
    RETURNING old.category_id AS before, p.category_id AS after`);
  return rows.rows[0] ?? null;
}

const COLUMNS: Record<string, string> = {
  sku: "sku",
  name: "name",
  slug: "slug",
  description: "description",
  priceCents: "price_cents",
  currency: "currency",
  categoryId: "category_id",
  stock: "stock",
  status: "status",
};
function columnOf(key: string): string {
  const col = COLUMNS[key];
  if (!col) throw new Error(`unknown column ${key}`);
  return col;
}

export interface StockAdjustment {
  delta: number;
  reason?: string | undefined;
  actorId: string;
  /** The request's Idempotency-Key: a second adjustment with it (same actor) is found, not applied. */
  idempotencyKey?: string | undefined;
}

export type StockAdjusted =
  | { kind: "applied"; stock: number }
  | { kind: "replayed"; stock: number; productId: string; delta: number }
  | { kind: "refused" };

/**
 * One statement: the stock moves (never below zero) and the ledger row is written with it, or neither.
 * With an Idempotency-Key already in the ledger for this actor, nothing moves and the earlier adjustment
 * is returned (`replayed`). Two concurrent requests with one key: the second fails on the unique index
 * and rolls back (a retryable 409; its retry is then `replayed`).
 */
export async function adjustStock(db: Drizzle, id: string, a: StockAdjustment): Promise<StockAdjusted> {
  const key = a.idempotencyKey ?? null;
  const rows = await db.execute<{
    stock: number | null;
    prior_product: string | null;
    prior_delta: number | null;
    prior_after: number | null;
  }>(sql`
    WITH prior AS (
      SELECT product_id, delta, stock_after FROM stock_adjustments
      WHERE ${key}::text IS NOT NULL AND actor_id = ${a.actorId} AND idempotency_key = ${key}
    ), upd AS (
      UPDATE products SET stock = stock + ${a.delta}, updated_at = now()
      WHERE id = ${id} AND stock + ${a.delta} >= 0 AND NOT EXISTS (SELECT 1 FROM prior)
      RETURNING id, stock
    ), ins AS (
      INSERT INTO stock_adjustments (product_id, delta, stock_after, reason, actor_id, idempotency_key)
      SELECT id, ${a.delta}, stock, ${a.reason ?? null}, ${a.actorId}, ${key} FROM upd
      RETURNING 1
    )
    SELECT (SELECT stock FROM upd) AS stock, (SELECT product_id FROM prior) AS prior_product,
           (SELECT delta FROM prior) AS prior_delta, (SELECT stock_after FROM prior) AS prior_after,
           (SELECT count(*) FROM ins) AS logged`);
  const r = rows.rows[0];
  if (r?.prior_product) {
    return { kind: "replayed", stock: Number(r.prior_after), productId: r.prior_product, delta: Number(r.prior_delta) };
  }
  return r?.stock === null || r?.stock === undefined ? { kind: "refused" } : { kind: "applied", stock: Number(r.stock) };
}

export interface StockAdjustmentRow extends Record<string, unknown> {
  id: string;
  product_id: string;
  delta: number;
  stock_after: number;
  reason: string | null;
  actor_id: string | null;
  created_at: string;
  created_at_key: string;
}

/** The stock ledger of one product, newest first, after a keyset position. */
export async function listStockAdjustments(
  db: Drizzle,
  productId: string,
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<StockAdjustmentRow[]> {
  const res = await db.execute<StockAdjustmentRow>(sql`
    SELECT id, product_id, delta, stock_after, reason, actor_id, ${iso("created_at")} AS created_at, created_at::text AS created_at_key
    FROM stock_adjustments
    WHERE product_id = ${productId}
      ${after ? sql`AND (created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)` : sql``}
    ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`);
  return res.rows;
}

export async function productExists(db: Drizzle, id: string): Promise<{ stock: number } | null> {
  const rows = await db.select({ stock: products.stock }).from(products).where(eq(products.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Multi-row insert; rows whose sku or slug already exists are skipped and reported by the caller. */
export async function insertProductsSkippingConflicts(
  db: Drizzle,
  list: NewProduct[],
): Promise<{ id: string; sku: string; categoryId: string | null }[]> {
  // One jsonb parameter instead of thousands of bind parameters.
  const rows = await db.execute<{ id: string; sku: string; category_id: string | null }>(sql`
    INSERT INTO products (sku, name, slug, description, price_cents, currency, category_id, stock, status)
    SELECT sku, name, slug, description, price_cents, currency, category_id, stock, status::product_status
    FROM jsonb_to_recordset(${JSON.stringify(list.map((p) => ({ ...p, price_cents: p.priceCents, category_id: p.categoryId })))}::jsonb)
      AS t(sku text, name text, slug text, description text, price_cents int, currency text, category_id uuid, stock int, status text)
    ON CONFLICT DO NOTHING
    RETURNING id, sku, category_id`);
  return rows.rows.map((r) => ({ id: r.id, sku: r.sku, categoryId: r.category_id }));
}

export async function existingSkusOrSlugs(db: Drizzle, skus: string[], slugs: string[]): Promise<{ sku: string; slug: string }[]> {
  return db
    .select({ sku: products.sku, slug: products.slug })
    .from(products)
    .where(or(inArray(products.sku, skus), inArray(products.slug, slugs)));
}

export async function existingCategoryIds(db: Drizzle, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db.select({ id: categories.id }).from(categories).where(inArray(categories.id, ids));
  return new Set(rows.map((r) => r.id));
}

export async function insertCategory(db: Drizzle, c: { slug: string; name: string; description: string; parentId: string | null }) {
  const [row] = await db.insert(categories).values(c).returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

export async function updateCategory(
  db: Drizzle,
  id: string,
  patch: Partial<{ slug: string; name: string; description: string; parentId: string | null }>,
) {
  const [row] = await db
    .update(categories)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(categories.id, id))
    .returning();
  return row ?? null;
}
