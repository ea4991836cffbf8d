/** Public catalogue shapes: the API contract (snake_case, money in minor units). */
import { z } from "@hono/zod-openapi";
import { PRODUCT_SORTS } from "../db/catalog.repo.ts";
import { productStatus } from "../db/schema.ts";
import { UUID } from "../lib/ids.ts";
import { CurrencySchema, CursorSchema, LimitSchema, queryBool, queryInt } from "./common.ts";

/** Page size when `limit` is absent (also the OpenAPI default of LimitSchema). */
export const DEFAULT_LIMIT = 20;

export const CategoryRefSchema = z.object({ id: z.string().uuid(), slug: z.string(), name: z.string() }).openapi("CategoryRef");

export const CategorySchema = z
  .object({
    id: z.string().uuid(),
    slug: z.string().openapi({ example: "electronics" }),
    name: z.string().openapi({ example: "Electronics" }),
    description: z.string(),
    parent_id: z.string().uuid().nullable(),
    product_count: z.number().int().min(0).openapi({ description: "Active products in the category" }),
    created_at: z.string().datetime({ offset: true }),
    updated_at: z.string().datetime({ offset: true }),
  })
  .openapi("Category");

export const ProductSchema = z
  .object({
    id: z.string().uuid(),
    sku: z.string().openapi({ example: "TOKO-ELEC-00001" }),
    name: z.string(),
    slug: z.string(),
    description: z.string(),
    price_cents: z.number().int().min(0).openapi({ description: "Price in minor units of `currency`", example: 1999 }),
    currency: CurrencySchema,
    category: CategoryRefSchema.nullable(),
    stock: z.number().int().min(0),
    in_stock: z.boolean(),
    status: z.enum(productStatus.enumValues),
    created_at: z.string().datetime({ offset: true }),
    updated_at: z.string().datetime({ offset: true }),
  })
  .openapi("Product");

export const CategoryListSchema = z.object({ data: z.array(CategorySchema) }).openapi("CategoryList");

export const ProductListSchema = z
  .object({
    data: z.array(ProductSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` to get the next page; null on the last page" }),
  })
  .openapi("ProductList");

/**
 * A category slug or id. Both are lower case by construction (slugs by the admin schema, ids are
 * uuids), so case folds here; anything else (blank, spaces, control characters, commas, non-ASCII
 * lookalikes) is a 400 instead of an empty page, a Postgres error or a broken Cache-Tag header.
 */
const CategoryRefQuery = z
  .string()
  .max(120, "must be at most 120 characters")
  .regex(/^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/, "must be a category slug or id")
  .transform((s) => s.toLowerCase());

export const ProductListQuerySchema = z
  .object({
    category: CategoryRefQuery.optional().openapi({
      param: { name: "category", in: "query" },
      type: "string",
      pattern: "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$",
      maxLength: 120,
      description: "Category slug or id (case-insensitive): a category page",
    }),
    min_price: queryInt(0, 2_147_483_647)
      .optional()
      .openapi({ param: { name: "min_price", in: "query" }, type: "integer", description: "Minimum price in minor units" }),
    max_price: queryInt(0, 2_147_483_647)
      .optional()
      .openapi({ param: { name: "max_price", in: "query" }, type: "integer", description: "Maximum price in minor units" }),
    currency: CurrencySchema.optional().openapi({ param: { name: "currency", in: "query" } }),
    in_stock: queryBool.optional().openapi({ param: { name: "in_stock", in: "query" }, type: "boolean" }),
    sort: z
      .enum(PRODUCT_SORTS)
      .default("newest")
      .openapi({
        param: { name: "sort", in: "query" },
        description:
          "`newest` (created_at, newest first), `price_asc`, `price_desc` or `name` (A–Z); ties broken by id. A cursor only continues the sort it was issued for.",
      }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict()
  .refine((q) => q.min_price === undefined || q.max_price === undefined || q.min_price <= q.max_price, {
    path: ["min_price"],
    message: "must not be greater than max_price",
  });

/** The words a search matches: NFKC, lower case, runs of letters and digits; unique, each at most 64 characters, at most 8. */
export function searchTerms(text: string): string[] {
  const words =
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].filter((t) => t.length <= 64).slice(0, 8);
}

/** C0 control characters and DEL: never part of a search. */
const hasControl = (s: string) => [...s].some((ch) => ch < " " || ch === "\x7f");

export const SearchQuerySchema = z
  .object({
    // Parsed to its canonical form, the words it matches: `LAPTOP`, ` laptop ` and `ｌａｐｔｏｐ` are one query.
    q: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(200, "must be at most 200 characters")
      .refine((q) => !hasControl(q), "must not contain control characters")
      .transform((q) => searchTerms(q).join(" "))
      .pipe(z.string().min(1, "must contain at least one letter or digit").max(200, "must be at most 200 characters"))
      .openapi({ param: { name: "q", in: "query" }, type: "string", minLength: 1, maxLength: 200, example: "lapt" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const ProductRefParamSchema = z.object({
  // An id is case-insensitive (a uuid), so it parses to lower case; a SKU is unique as written.
  idOrSku: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a product id (uuid) or SKU")
    .transform((v) => (UUID.test(v) ? v.toLowerCase() : v))
    .openapi({
      param: { name: "idOrSku", in: "path" },
      type: "string",
      pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
      example: "TOKO-ELEC-00001",
    }),
});

/** Routes that take no query parameters: any parameter is a 400 (a typo, or a cache-busting attempt). */
export const NoQuerySchema = z.object({}).strict();

// ---- The one normaliser per cacheable read --------------------------------------------------

/** A request as the route's validators see it: path params, and the query as Hono shapes it (a repeated parameter is an array). */
export interface ReadInput {
  param: Record<string, string>;
  query: Record<string, string | string[]>;
}

/** A valid read in canonical form: every parsed value, defaults applied, as text that parses back to the same value. */
export interface CanonicalRead {
  param: Record<string, string>;
  query: Record<string, string>;
}

/** The canonical form of a request, or null when the route's validators refuse it (a 400: such a request has no cache key). */
export type ReadNormaliser = (input: ReadInput) => CanonicalRead | null;

type ObjectSchema = z.ZodType<Record<string, unknown>, unknown>;

function asText(parsed: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === undefined) continue;
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new TypeError(`${k}: a cacheable read may only parse to strings, numbers and booleans`);
    }
    out[k] = String(v);
  }
  return out;
}

/**
 * A read's normaliser, from the very schemas its route validates with (so the edge-cache key and the
 * handler see the same parsed values). Every field of the parsed result is in the canonical form, so a
 * field added to a schema joins the key without anyone remembering to; `defaults` are the values a
 * handler assumes when a parameter is absent, so `?limit=20` and no `limit` are one request.
 * Repeated parameters, unknown ones, empty values and anything else the schema refuses → null.
 */
function readNormaliser(schemas: { param?: ObjectSchema; query: ObjectSchema }, defaults: Record<string, string> = {}): ReadNormaliser {
  return (input) => {
    const query = schemas.query.safeParse(input.query);
    const param = schemas.param?.safeParse(input.param) ?? { success: true as const, data: {} };
    if (!query.success || !param.success) return null;
    return { param: asText(param.data), query: { ...defaults, ...asText(query.data) } };
  };
}

/** The cacheable public reads (wired to the edge cache in src/app.ts). */
export const catalogReads = {
  categories: readNormaliser({ query: NoQuerySchema }),
  products: readNormaliser({ query: ProductListQuerySchema }, { limit: String(DEFAULT_LIMIT) }),
  product: readNormaliser({ param: ProductRefParamSchema, query: NoQuerySchema }),
  search: readNormaliser({ query: SearchQuerySchema }, { limit: String(DEFAULT_LIMIT) }),
} satisfies Record<string, ReadNormaliser>;

export type ProductListQuery = z.infer<typeof ProductListQuerySchema>;
export type ProductDto = z.infer<typeof ProductSchema>;
export type CategoryDto = z.infer<typeof CategorySchema>;
