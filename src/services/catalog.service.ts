/** Public catalogue rules: paging, cursor scopes, search terms, the public product shape. */

import { findProduct, listCategories, listProducts, type ProductRow, type ProductSort, searchProducts } from "../db/catalog.repo.ts";
import type { Drizzle } from "../db/client.ts";
import type { Category } from "../db/schema.ts";
import { type KeyRule, keysetPage, PG_REAL, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { ApiError } from "../lib/problem.ts";
import { type CategoryDto, DEFAULT_LIMIT, type ProductDto, type ProductListQuery, searchTerms } from "../schemas/catalog.ts";

/** The text form of each sort key in a cursor (`price_cents::text`, `name`, `created_at::text`). */
const INTEGER_TEXT: KeyRule = { test: (k) => /^\d{1,10}$/.test(k) && Number(k) <= 2_147_483_647 };
const NAME_TEXT: KeyRule = { test: (k) => k.length >= 1 && k.length <= 1000 && !k.includes("\u0000") && k.isWellFormed() };
const SORT_KEY_RULES: Record<ProductSort, KeyRule> = {
  newest: PG_TIMESTAMP,
  price_asc: INTEGER_TEXT,
  price_desc: INTEGER_TEXT,
  name: NAME_TEXT,
};

export function toProductDto(p: ProductRow): ProductDto {
  return {
    id: p.id,
    sku: p.sku,
    name: p.name,
    slug: p.slug,
    description: p.description,
    price_cents: p.priceCents,
    currency: p.currency,
    category: p.category,
    stock: p.stock,
    in_stock: p.stock > 0,
    status: p.status,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/** Turns free text into a prefix tsquery: letters and digits only, so no tsquery syntax gets through. */
export function toPrefixTsquery(q: string): string | null {
  const terms = searchTerms(q);
  return terms.length ? terms.map((t) => `${t}:*`).join(" & ") : null;
}

/**
 * A page of the product list in the requested sort (default newest). The cursor is bound to the sort
 * and the filters: its scope names both, so a cursor from another sort or filter is a 400. (`newest`
 * keeps the scope it had before sorting existed, so cursors issued then stay valid.)
 */
export async function productPage(db: Drizzle, secret: string, q: Omit<ProductListQuery, "sort"> & { sort?: ProductSort | undefined }) {
  const limit = q.limit ?? DEFAULT_LIMIT;
  const sort = q.sort ?? "newest";
  const filters = [q.category ?? "", q.min_price ?? "", q.max_price ?? "", q.currency ?? "", q.in_stock ?? ""];
  const scope = JSON.stringify([sort === "newest" ? "products" : `products:${sort}`, ...filters]);
  const pos = await readKeyset(secret, scope, q.cursor, SORT_KEY_RULES[sort]);
  const filter = { category: q.category, minPrice: q.min_price, maxPrice: q.max_price, currency: q.currency, inStock: q.in_stock };
  const rows = await listProducts(db, filter, sort, pos, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.sortKey }, toProductDto);
}

export async function searchPage(db: Drizzle, secret: string, q: { q: string; limit?: number | undefined; cursor?: string | undefined }) {
  const tsquery = toPrefixTsquery(q.q);
  if (!tsquery) {
    throw new ApiError("validation_error", "The search query has no searchable words.", {
      errors: [{ field: "q", in: "query", code: "no_terms", message: "must contain at least one letter or digit" }],
    });
  }
  const limit = q.limit ?? DEFAULT_LIMIT;
  const scope = JSON.stringify(["search", tsquery]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_REAL);
  const rows = await searchProducts(db, tsquery, pos && { rank: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.rankKey }, toProductDto);
}

export async function productDetail(db: Drizzle, idOrSku: string): Promise<ProductRow> {
  const p = await findProduct(db, idOrSku);
  if (!p) throw new ApiError("not_found", `No active product has the id or SKU '${idOrSku}'.`);
  return p;
}

/** The one category shape: the public list adds `product_count`; admin writes return it without. */
export function toCategoryDto(
  r: Pick<Category, "id" | "slug" | "name" | "description" | "parentId" | "createdAt" | "updatedAt"> & { productCount?: number },
): Omit<CategoryDto, "product_count"> & { product_count?: number } {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    description: r.description,
    parent_id: r.parentId,
    ...(r.productCount === undefined ? {} : { product_count: r.productCount }),
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

export async function categoryList(db: Drizzle): Promise<CategoryDto[]> {
  return (await listCategories(db)).map((c) => toCategoryDto(c) as CategoryDto);
}
