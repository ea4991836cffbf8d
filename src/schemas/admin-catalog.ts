/** Admin write shapes. Strict: unknown fields (ids, timestamps, stock on update) are rejected. */
import { z } from "@hono/zod-openapi";
import { productStatus } from "../db/schema.ts";
import { CurrencySchema, CursorSchema, LimitSchema } from "./common.ts";

const slug = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "must be lower-case words joined by hyphens");
const sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be letters, digits, '.', '_' or '-'");
const money = z.number().int("must be an integer number of minor units").min(0).max(2_147_483_647);

export const ProductCreateSchema = z
  .object({
    sku,
    name: z.string().trim().min(1).max(200),
    slug: slug.optional().openapi({ description: "Defaults to the name and SKU, slugified" }),
    description: z.string().max(5000).default(""),
    price_cents: money.openapi({ example: 1999 }),
    currency: CurrencySchema,
    category_id: z.string().uuid().nullable().default(null),
    stock: z.number().int().min(0).max(1_000_000_000).default(0),
    status: z.enum(productStatus.enumValues).default("active"),
  })
  .strict()
  .openapi("ProductCreate");

export const ProductUpdateSchema = z
  .object({
    sku: sku.optional(),
    name: z.string().trim().min(1).max(200).optional(),
    slug: slug.optional(),
    description: z.string().max(5000).optional(),
    price_cents: money.optional(),
    currency: CurrencySchema.optional(),
    category_id: z.string().uuid().nullable().optional(),
    status: z.enum(productStatus.enumValues).optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: "send at least one field to change" })
  .openapi("ProductUpdate", { description: "Stock is changed only through stock adjustments." });

export const StockAdjustmentSchema = z
  .object({
    delta: z
      .number()
      .int()
      .min(-1_000_000_000)
      .max(1_000_000_000)
      .refine((d) => d !== 0, "must not be 0"),
    reason: z.string().trim().min(1).max(200),
  })
  .strict()
  .openapi("StockAdjustment");

export const StockAdjustmentEntrySchema = z
  .object({
    id: z.string().uuid(),
    product_id: z.string().uuid(),
    delta: z.number().int(),
    stock_after: z.number().int(),
    reason: z.string().nullable(),
    actor_id: z.string().uuid().nullable(),
    created_at: z.string().datetime(),
  })
  .openapi("StockAdjustmentEntry");

export const StockAdjustmentPageSchema = z
  .object({ data: z.array(StockAdjustmentEntrySchema), has_more: z.boolean(), next_cursor: z.string().nullable() })
  .openapi("StockAdjustmentPage");

export const StockAdjustmentQuerySchema = z.object({ limit: LimitSchema, cursor: CursorSchema }).strict();

export const ProductImportSchema = z
  .object({ products: z.array(ProductCreateSchema).min(1).max(1000) })
  .strict()
  .openapi("ProductImport");

export const CategoryCreateSchema = z
  .object({
    slug,
    name: z.string().trim().min(1).max(120),
    description: z.string().max(2000).default(""),
    parent_id: z.string().uuid().nullable().default(null),
  })
  .strict()
  .openapi("CategoryCreate");

export const CategoryUpdateSchema = z
  .object({
    slug: slug.optional(),
    name: z.string().trim().min(1).max(120).optional(),
    description: z.string().max(2000).optional(),
    parent_id: z.string().uuid().nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: "send at least one field to change" })
  .openapi("CategoryUpdate");

export const AdminProductListQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ param: { name: "q", in: "query" }, description: "Part of the name, SKU or slug (case-insensitive)" }),
    category_id: z
      .string()
      .uuid()
      .optional()
      .openapi({ param: { name: "category_id", in: "query" } }),
    status: z
      .enum(productStatus.enumValues)
      .optional()
      .openapi({ param: { name: "status", in: "query" }, description: "Default: both" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const IdParamSchema = z.object({
  id: z
    .string()
    .uuid("must be a uuid")
    .openapi({ param: { name: "id", in: "path" } }),
});

export type AdminProductListQuery = z.infer<typeof AdminProductListQuerySchema>;
export type ProductCreate = z.infer<typeof ProductCreateSchema>;
export type ProductUpdate = z.infer<typeof ProductUpdateSchema>;
export type CategoryCreate = z.infer<typeof CategoryCreateSchema>;
export type CategoryUpdate = z.infer<typeof CategoryUpdateSchema>;
