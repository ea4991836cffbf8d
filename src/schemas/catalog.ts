/** Public catalogue shapes: the API contract (snake_case, money in minor units). */
import { z } from "@hono/zod-openapi";
import { productStatus } from "../db/schema.ts";
import { CurrencySchema, CursorSchema, LimitSchema, queryBool, queryInt } from "./common.ts";

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

export const ProductListQuerySchema = z
  .object({
    category: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ param: { name: "category", in: "query" }, description: "Category slug or id" }),
    min_price: queryInt(0, 2_147_483_647)
      .optional()
      .openapi({ param: { name: "min_price", in: "query" }, type: "integer", description: "Minimum price in minor units" }),
    max_price: queryInt(0, 2_147_483_647)
      .optional()
      .openapi({ param: { name: "max_price", in: "query" }, type: "integer", description: "Maximum price in minor units" }),
    currency: CurrencySchema.optional().openapi({ param: { name: "currency", in: "query" } }),
    in_stock: queryBool.optional().openapi({ param: { name: "in_stock", in: "query" }, type: "boolean" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict()
  .refine((q) => q.min_price === undefined || q.max_price === undefined || q.min_price <= q.max_price, {
    path: ["min_price"],
    message: "must not be greater than max_price",
  });

export const SearchQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(200, "must be at most 200 characters")
      .openapi({ param: { name: "q", in: "query" }, example: "lapt" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const ProductRefParamSchema = z.object({
  idOrSku: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a product id (uuid) or SKU")
    .openapi({ param: { name: "idOrSku", in: "path" }, example: "TOKO-ELEC-00001" }),
});

export type ProductListQuery = z.infer<typeof ProductListQuerySchema>;
export type ProductDto = z.infer<typeof ProductSchema>;
export type CategoryDto = z.infer<typeof CategorySchema>;
