/** Public catalogue rules: paging, cursor scopes, search terms, the public product shape. */

import { findProduct, listCategories, listProducts, type ProductRow, searchProducts } from "../db/catalog.repo.ts";
import type { Drizzle } from "../db/client.ts";
import type { Category } from "../db/schema.ts";
import { keysetPage, PG_REAL, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { ApiError } from "../lib/problem.ts";
import type { CategoryDto, ProductDto, ProductListQuery } from "../schemas/catalog.ts";

export const DEFAULT_LIMIT = 20;

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
  const terms =
    q
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  const unique = [...new Set(terms)].filter((t) => t.length <= 64).slice(0, 8);
  return unique.length ? unique.map((t) => `${t}:*`).join(" & ") : null;
}

export async function productPage(db: Drizzle, secret: string, q: ProductListQuery) {
  const limit = q.limit ?? DEFAULT_LIMIT;
  const scope = JSON.stringify(["products", q.category ?? "", q.min_price ?? "", q.max_price ?? "", q.currency ?? "", q.in_stock ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const filter = { category: q.category, minPrice: q.min_price, maxPrice: q.max_price, currency: q.currency, inStock: q.in_stock };
  const rows = await listProducts(db, filter, pos && { createdAt: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.createdAtKey }, toProductDto);
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
