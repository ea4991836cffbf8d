/** Admin catalogue writes: validation against the database, conflict reporting, cache tags. */

import {
  adjustStock,
  existingCategoryIds,
  existingSkusOrSlugs,
  insertCategory,
  insertProduct,
  insertProductsSkippingConflicts,
  listStockAdjustments,
  type NewProduct,
  productExists,
  type StockAdjustment,
  updateCategory,
  updateProduct,
} from "../db/admin-catalog.repo.ts";
import { findProduct, listAllProducts } from "../db/catalog.repo.ts";
import type { Drizzle } from "../db/client.ts";
import { writeTags } from "../lib/cache-tags.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { FOREIGN_KEY_VIOLATION, pgError, UNIQUE_VIOLATION } from "../lib/pg-errors.ts";
import { ApiError, type FieldError } from "../lib/problem.ts";
import type { AdminProductListQuery, CategoryCreate, CategoryUpdate, ProductCreate, ProductUpdate } from "../schemas/admin-catalog.ts";
import type { ProductDto } from "../schemas/catalog.ts";
import { toProductDto } from "./catalog.service.ts";

/** Any product by id, archived included (ADMIN reads). */
export async function adminProduct(db: Drizzle, id: string): Promise<ProductDto> {
  const p = await findProduct(db, id, { includeArchived: true });
  if (!p) throw new ApiError("not_found", "No product with that id.");
  return toProductDto(p);
}

/** ADMIN: every product, archived too, newest first; filters are part of the cursor's scope. */
export async function adminProductPage(db: Drizzle, secret: string, q: AdminProductListQuery) {
  const limit = q.limit ?? 20;
  const scope = JSON.stringify(["admin-products", q.q ?? "", q.category_id ?? "", q.status ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const rows = await listAllProducts(db, { q: q.q, categoryId: q.category_id, status: q.status }, pos, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.createdAtKey }, toProductDto);
}

export function slugify(s: string): string {
  return s
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 120);
}

function toNewProduct(p: ProductCreate): NewProduct {
  return {
    sku: p.sku,
    name: p.name,
    slug: p.slug ?? slugify(`${p.name}-${p.sku}`),
    description: p.description,
    priceCents: p.price_cents,
    currency: p.currency,
    categoryId: p.category_id,
    stock: p.stock,
    status: p.status,
  };
}

const FIELD_OF_CONSTRAINT: Record<string, string> = { products_sku_key: "sku", products_slug_key: "slug", categories_slug_key: "slug" };

/** Maps unique and foreign-key violations to 409/400 problems naming the field. */
function rethrowConstraint(err: unknown, prefix = ""): never {
  const pg = pgError(err);
  if (pg?.code === UNIQUE_VIOLATION) {
    const field = FIELD_OF_CONSTRAINT[pg.constraint ?? ""] ?? "(unknown)";
    throw new ApiError("conflict", `Another record already uses this ${field}.`, {
      errors: [{ field: `${prefix}${field}`, in: "body", code: "already_exists", message: `is already in use` }],
    });
  }
  if (pg?.code === FOREIGN_KEY_VIOLATION) {
    throw new ApiError("validation_error", "A referenced record does not exist.", {
      errors: [{ field: `${prefix}category_id`, in: "body", code: "not_found", message: "no such category" }],
    });
  }
  throw err;
}

export async function createProduct(db: Drizzle, input: ProductCreate) {
  try {
    const row = await insertProduct(db, toNewProduct(input));
    return { id: row.id, tags: writeTags.product(row.id, row.categoryId) };
  } catch (err) {
    rethrowConstraint(err);
  }
}

export async function patchProduct(db: Drizzle, id: string, input: ProductUpdate) {
  const patch: Partial<NewProduct> = {};
  if (input.sku !== undefined) patch.sku = input.sku;
  if (input.name !== undefined) patch.name = input.name;
  if (input.slug !== undefined) patch.slug = input.slug;
  if (input.description !== undefined) patch.description = input.description;
  if (input.price_cents !== undefined) patch.priceCents = input.price_cents;
  if (input.currency !== undefined) patch.currency = input.currency;
  if (input.category_id !== undefined) patch.categoryId = input.category_id;
  if (input.status !== undefined) patch.status = input.status;
  let res: Awaited<ReturnType<typeof updateProduct>>;
  try {
    res = await updateProduct(db, id, patch);
  } catch (err) {
    rethrowConstraint(err);
  }
  if (!res) throw new ApiError("not_found", "No product with that id.");
  return { id, tags: writeTags.product(id, res.before, res.after) };
}

/**
 * Moves stock and records it in the ledger. A retry of an adjustment already made (same actor and
 * Idempotency-Key) changes nothing and answers `replayed`; the same key on another product or delta is 422.
 */
export async function adjustProductStock(db: Drizzle, id: string, adjustment: StockAdjustment) {
  const { delta } = adjustment;
  let res: Awaited<ReturnType<typeof adjustStock>>;
  try {
    res = await adjustStock(db, id, adjustment);
  } catch (err) {
    // The same key committed by a concurrent request in between: run again, which now finds it.
    if (pgError(err)?.constraint !== "stock_adjustments_actor_key") throw err;
    res = await adjustStock(db, id, adjustment);
  }
  if (res.kind === "replayed") {
    if (res.productId !== id || res.delta !== delta) {
      throw new ApiError("idempotency_key_reused", "This Idempotency-Key was already used with a different request.");
    }
    return { stock: res.stock, replayed: true, tags: [] as string[] };
  }
  if (res.kind === "applied") return { stock: res.stock, replayed: false, tags: writeTags.product(id) };
  const current = await productExists(db, id);
  if (!current) throw new ApiError("not_found", "No product with that id.");
  throw new ApiError("conflict", `Stock cannot go below zero (current stock ${current.stock}, delta ${delta}).`, {
    extra: { current_stock: current.stock },
  });
}

/**
 * All or nothing, in one transaction: in-payload duplicates and unknown categories are
 * reported up front (400); SKUs or slugs that already exist roll everything back (409).
 */
export async function importProducts(db: Drizzle, list: ProductCreate[]) {
  const rows = list.map(toNewProduct);
  const errors: FieldError[] = [];
  const seen = { sku: new Map<string, number>(), slug: new Map<string, number>() };
  rows.forEach((r, i) => {
    for (const field of ["sku", "slug"] as const) {
      const first = seen[field].get(r[field]);
      if (first !== undefined)
        errors.push({ field: `products.${i}.${field}`, in: "body", code: "duplicate", message: `repeats products.${first}.${field}` });
      else seen[field].set(r[field], i);
    }
  });
  const wanted = [...new Set(rows.map((r) => r.categoryId).filter((c): c is string => !!c))];
  const known = await existingCategoryIds(db, wanted);
  rows.forEach((r, i) => {
    if (r.categoryId && !known.has(r.categoryId))
      errors.push({ field: `products.${i}.category_id`, in: "body", code: "not_found", message: "no such category" });
  });
  if (errors.length) throw new ApiError("validation_error", `${errors.length} invalid product line(s); nothing was imported.`, { errors });

  try {
    return await db.transaction(async (tx) => {
      const inserted = await insertProductsSkippingConflicts(tx, rows);
      if (inserted.length !== rows.length) {
        const clash = await existingSkusOrSlugs(
          tx,
          rows.map((r) => r.sku),
          rows.map((r) => r.slug),
        );
        const insertedSkus = new Set(inserted.map((r) => r.sku));
        const taken = { sku: new Set(clash.map((c) => c.sku)), slug: new Set(clash.map((c) => c.slug)) };
        const conflicts: FieldError[] = [];
        rows.forEach((r, i) => {
          if (insertedSkus.has(r.sku)) return;
          if (taken.sku.has(r.sku))
            conflicts.push({ field: `products.${i}.sku`, in: "body", code: "already_exists", message: `${r.sku} already exists` });
          else conflicts.push({ field: `products.${i}.slug`, in: "body", code: "already_exists", message: `${r.slug} already exists` });
        });
        throw new ApiError("conflict", `${conflicts.length} product(s) already exist; nothing was imported.`, { errors: conflicts });
      }
      return { ids: inserted.map((r) => r.id), tags: writeTags.productImport(wanted) };
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    rethrowConstraint(err);
  }
}

export async function createCategory(db: Drizzle, input: CategoryCreate) {
  try {
    const row = await insertCategory(db, { slug: input.slug, name: input.name, description: input.description, parentId: input.parent_id });
    return { row, tags: writeTags.newCategory() };
  } catch (err) {
    rethrowConstraint(err);
  }
}

export async function patchCategory(db: Drizzle, id: string, input: CategoryUpdate) {
  const patch: Parameters<typeof updateCategory>[2] = {};
  if (input.slug !== undefined) patch.slug = input.slug;
  if (input.name !== undefined) patch.name = input.name;
  if (input.description !== undefined) patch.description = input.description;
  if (input.parent_id !== undefined) patch.parentId = input.parent_id;
  if (patch.parentId === id) {
    throw new ApiError("validation_error", "A category cannot be its own parent.", {
      errors: [{ field: "parent_id", in: "body", code: "invalid", message: "must not be the category itself" }],
    });
  }
  let row: Awaited<ReturnType<typeof updateCategory>>;
  try {
    row = await updateCategory(db, id, patch);
  } catch (err) {
    rethrowConstraint(err);
  }
  if (!row) throw new ApiError("not_found", "No category with that id.");
  // Products embed the category's name and slug, so product pages change too.
  return { row, tags: writeTags.category(id) };
}

/** The stock ledger of a product, newest first (keyset pages; the cursor is bound to the product). */
export async function stockAdjustmentPage(
  db: Drizzle,
  secret: string,
  productId: string,
  q: { limit?: number | undefined; cursor?: string | undefined },
) {
  const scope = JSON.stringify(["stock-adjustments", productId]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listStockAdjustments(db, productId, pos && { createdAt: pos.key, id: pos.id }, limit);
  // An empty page may be an unknown product: only then the second query.
  if (rows.length === 0 && !(await productExists(db, productId))) throw new ApiError("not_found", "No product with that id.");
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.created_at_key }, ({ created_at_key: _k, ...dto }) => dto);
}
