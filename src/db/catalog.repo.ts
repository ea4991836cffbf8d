/** SQL of the public catalogue. Takes a drizzle instance; knows nothing of HTTP. */
import { and, asc, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import { UUID } from "../lib/ids.ts";
import type { Drizzle } from "./client.ts";
import { categories, products } from "./schema.ts";

export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  slug: string;
  description: string;
  priceCents: number;
  currency: string;
  stock: number;
  status: "active" | "archived";
  createdAt: Date;
  updatedAt: Date;
  category: { id: string; slug: string; name: string } | null;
  /** created_at as Postgres text: exact to the microsecond, for cursors. */
  createdAtKey: string;
}

const productColumns = {
  id: products.id,
  sku: products.sku,
  name: products.name,
  slug: products.slug,
  description: products.description,
  priceCents: products.priceCents,
  currency: products.currency,
  stock: products.stock,
  status: products.status,
  createdAt: products.createdAt,
  updatedAt: products.updatedAt,
  createdAtKey: sql<string>`${products.createdAt}::text`,
  categoryId: categories.id,
  categorySlug: categories.slug,
  categoryName: categories.name,
};

type Selected = { [K in keyof typeof productColumns]: unknown };

function toRow(r: Selected): ProductRow {
  const { categoryId, categorySlug, categoryName, ...rest } = r;
  return {
    ...(rest as Omit<ProductRow, "category">),
    category: categoryId ? { id: categoryId as string, slug: categorySlug as string, name: categoryName as string } : null,
  };
}

export interface ProductFilter {
  category?: string | undefined;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  currency?: string | undefined;
  inStock?: boolean | undefined;
}

/**
 * Sort orders of the public product list. Each is a keyset over (sort column, id), ties broken by id
 * in the same direction, served by a btree on (column, id) and (category_id, column, id):
 * newest → products_created_id_idx / products_category_created_id_idx (created_at DESC, id DESC);
 * price_asc, price_desc → products_price_id_idx / products_category_price_id_idx (the latter read backwards);
 * name → products_name_id_idx / products_category_name_id_idx (the column's collation, as ORDER BY uses).
 * `newest` orders DESC NULLS LAST to match its indexes (plain DESC means NULLS FIRST in Postgres, which
 * the index cannot serve; the columns are NOT NULL, so the order is the same).
 */
export const PRODUCT_SORTS = ["newest", "price_asc", "price_desc", "name"] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

const SORTS = {
  newest: {
    column: products.createdAt,
    key: sql<string>`${products.createdAt}::text`,
    cast: sql`timestamptz`,
    dir: "desc",
    nulls: sql` nulls last`,
  },
  price_asc: { column: products.priceCents, key: sql<string>`${products.priceCents}::text`, cast: sql`integer`, dir: "asc", nulls: sql`` },
  price_desc: {
    column: products.priceCents,
    key: sql<string>`${products.priceCents}::text`,
    cast: sql`integer`,
    dir: "desc",
    nulls: sql``,
  },
  name: { column: products.name, key: sql<string>`${products.name}`, cast: sql`text`, dir: "asc", nulls: sql`` },
} as const satisfies Record<ProductSort, { column: unknown; key: SQL<string>; cast: SQL; dir: "asc" | "desc"; nulls: SQL }>;

/** A keyset position: the sort column as Postgres text (exact for timestamps, integers and text) and the row id. */
export interface ListPosition {
  key: string;
  id: string;
}

/**
 * One page of the product list as a query (not run): `listProducts` runs it, and the sorting test
 * EXPLAINs this very statement. Fetches `limit + 1` rows to know whether more exist. A category slug
 * is resolved in a scalar subquery, so the plan is an index scan on (category_id, sort column, id).
 */
export function productListQuery(db: Drizzle, f: ProductFilter, sort: ProductSort, after: ListPosition | null, limit: number) {
  const s = SORTS[sort];
  const where: (SQL | undefined)[] = [eq(products.status, "active")];
  if (f.category) {
    where.push(
      UUID.test(f.category)
        ? eq(products.categoryId, f.category)
        : sql`${products.categoryId} = (SELECT ${categories.id} FROM ${categories} WHERE ${categories.slug} = ${f.category})`,
    );
  }
  if (f.minPrice !== undefined) where.push(gte(products.priceCents, f.minPrice));
  if (f.maxPrice !== undefined) where.push(lte(products.priceCents, f.maxPrice));
  if (f.currency) where.push(eq(products.currency, f.currency));
  if (f.inStock === true) where.push(sql`${products.stock} > 0`);
  if (f.inStock === false) where.push(eq(products.stock, 0));
  if (after) {
    const position = sql`(${after.key}::${s.cast}, ${after.id}::uuid)`;
    where.push(s.dir === "desc" ? sql`(${s.column}, ${products.id}) < ${position}` : sql`(${s.column}, ${products.id}) > ${position}`);
  }
  const order =
    s.dir === "desc"
      ? [sql`${s.column} desc${s.nulls}`, sql`${products.id} desc${s.nulls}`]
      : [sql`${s.column} asc${s.nulls}`, sql`${products.id} asc${s.nulls}`];
  return db
    .select({ ...productColumns, sortKey: s.key })
    .from(products)
    .leftJoin(categories, eq(categories.id, products.categoryId))
    .where(and(...where))
    .orderBy(...order)
    .limit(limit + 1);
}

/** A page of active products in `sort` order, after `after`; each row carries its sort key for the next cursor. */
export async function listProducts(
  db: Drizzle,
  f: ProductFilter,
  sort: ProductSort,
  after: ListPosition | null,
  limit: number,
): Promise<(ProductRow & { sortKey: string })[]> {
  const rows = await productListQuery(db, f, sort, after, limit);
  return rows.map(({ sortKey, ...r }) => ({ ...toRow(r), sortKey }));
}

export interface AdminProductFilter {
  /** Substring of the name, SKU or slug (case-insensitive). */
  q?: string | undefined;
  categoryId?: string | undefined;
  status?: "active" | "archived" | undefined;
}

/** ADMIN: every product (archived too), newest first, keyset over (created_at, id); `limit + 1` rows. */
export async function listAllProducts(
  db: Drizzle,
  f: AdminProductFilter,
  after: ListPosition | null,
  limit: number,
): Promise<ProductRow[]> {
  const where: (SQL | undefined)[] = [];
  if (f.status) where.push(eq(products.status, f.status));
  if (f.categoryId) where.push(eq(products.categoryId, f.categoryId));
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    where.push(sql`(${products.name} ILIKE ${like} OR ${products.sku} ILIKE ${like} OR ${products.slug} ILIKE ${like})`);
  }
  if (after) where.push(sql`(${products.createdAt}, ${products.id}) < (${after.key}::timestamptz, ${after.id}::uuid)`);
  const rows = await db
    .select(productColumns)
    .from(products)
    .leftJoin(categories, eq(categories.id, products.categoryId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(sql`${products.createdAt} desc`, sql`${products.id} desc`)
    .limit(limit + 1);
  return rows.map(toRow);
}

export async function findProduct(db: Drizzle, idOrSku: string, opts: { includeArchived?: boolean } = {}): Promise<ProductRow | null> {
  const key = UUID.test(idOrSku) ? eq(products.id, idOrSku.toLowerCase()) : eq(products.sku, idOrSku);
  const rows = await db
    .select(productColumns)
    .from(products)
    .leftJoin(categories, eq(categories.id, products.categoryId))
    .where(opts.includeArchived ? key : and(key, eq(products.status, "active")))
    .limit(1);
  return rows[0] ? toRow(rows[0]) : null;
}

/**
 * Full-text search with prefix terms, best rank first; ties broken by id.
 * The rank is carried in the cursor as Postgres text (`real` round-trips exactly).
 */
export async function searchProducts(
  db: Drizzle,
  tsquery: string,
  after: { rank: string; id: string } | null,
  limit: number,
): Promise<(ProductRow & { rankKey: string })[]> {
  const res = await db.execute<Record<string, unknown>>(sql`
    WITH q AS (SELECT to_tsquery('english', ${tsquery}) AS query),
    ranked AS (
      SELECT p.id, p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock, p.status,
             p.created_at, p.updated_at, p.created_at::text AS created_at_key,
             c.id AS category_id, c.slug AS category_slug, c.name AS category_name,
             ts_rank(p.search_vector, q.query)::real AS rank
      FROM products p CROSS JOIN q
      LEFT JOIN categories c ON c.id = p.category_id
      WHERE p.status = 'active' AND p.search_vector @@ q.query
    )
    SELECT *, rank::text AS rank_key FROM ranked
    ${after ? sql`WHERE (rank, id) < (${after.rank}::real, ${after.id}::uuid)` : sql``}
    ORDER BY rank DESC, id DESC
    LIMIT ${limit + 1}`);
  return res.rows.map((r) => ({
    ...toRow({
      id: r.id,
      sku: r.sku,
      name: r.name,
      slug: r.slug,
      description: r.description,
      priceCents: r.price_cents,
      currency: r.currency,
      stock: r.stock,
      status: r.status,
      createdAt: new Date(r.created_at as string),
      updatedAt: new Date(r.updated_at as string),
      createdAtKey: r.created_at_key,
      categoryId: r.category_id,
      categorySlug: r.category_slug,
      categoryName: r.category_name,
    }),
    rankKey: r.rank_key as string,
  }));
}

export async function listCategories(db: Drizzle) {
  return db
    .select({
      id: categories.id,
      slug: categories.slug,
      name: categories.name,
      description: categories.description,
      parentId: categories.parentId,
      createdAt: categories.createdAt,
      updatedAt: categories.updatedAt,
      productCount: sql<number>`count(${products.id}) filter (where ${products.status} = 'active')::int`,
    })
    .from(categories)
    .leftJoin(products, eq(products.categoryId, categories.id))
    .groupBy(categories.id)
    .orderBy(asc(categories.name));
}
