/** ADMIN catalogue writes (auth applied in app.ts). Every write invalidates the edge cache. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import {
  AdminProductListQuerySchema,
  CategoryCreateSchema,
  CategoryUpdateSchema,
  IdParamSchema,
  ProductCreateSchema,
  ProductImportSchema,
  ProductUpdateSchema,
  StockAdjustmentPageSchema,
  StockAdjustmentQuerySchema,
  StockAdjustmentSchema,
} from "../schemas/admin-catalog.ts";
import { CategorySchema, ProductListSchema, ProductSchema } from "../schemas/catalog.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import {
  adjustProductStock,
  adminProduct,
  adminProductPage,
  createCategory,
  createProduct,
  importProducts,
  patchCategory,
  patchProduct,
  stockAdjustmentPage,
} from "../services/admin-catalog.service.ts";
import { bumpCatalogGeneration, purgeTags } from "../services/cache-invalidation.ts";
import { toCategoryDto } from "../services/catalog.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];
const errors = { ...authResponses, 409: problem("Conflict (duplicate SKU/slug, stock below zero)"), ...problemResponses };
const body = <T>(schema: T) => ({ body: { required: true, content: jsonContent(schema) } });

/** Local: bump the generation now (next read here misses). Global: purge by tag in the background. */
async function invalidate(c: Context<AppEnv>, tags: string[]) {
  await bumpCatalogGeneration(new URL(c.req.url).origin);
  const purge = purgeTags(c.get("config"), c.get("log"), tags);
  c.executionCtx.waitUntil(purge.catch(() => {}));
}

async function productBody(c: Context<AppEnv>, id: string) {
  return adminProduct(await c.get("dbFresh").orm(), id);
}

const AdminCategorySchema = CategorySchema.omit({ product_count: true }).openapi("AdminCategory");

export const adminCatalogRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/products",
      operationId: "adminCreateProduct",
      tags: ["Admin"],
      summary: "Create a product",
      security,
      request: body(ProductCreateSchema),
      responses: { 201: { description: "Created", content: jsonContent(ProductSchema) }, ...errors },
    }),
    async (c) => {
      const { id, tags } = await createProduct(await c.get("dbFresh").orm(), c.req.valid("json"));
      await invalidate(c, tags);
      return c.json(await productBody(c, id), 201, { Location: `/api/v1/products/${id}` });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/products",
      operationId: "adminListProducts",
      tags: ["Admin"],
      summary: "Every product, archived included, newest first (search, category, status)",
      security,
      request: { query: AdminProductListQuerySchema },
      responses: { 200: { description: "A page of products", content: jsonContent(ProductListSchema) }, ...errors },
    }),
    async (c) =>
      c.json(await adminProductPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query")), 200, {
        "Cache-Control": "private, no-store",
      }),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/products/{id}",
      operationId: "adminGetProduct",
      tags: ["Admin"],
      summary: "Get any product, archived included",
      security,
      request: { params: IdParamSchema },
      responses: { 200: { description: "The product", content: jsonContent(ProductSchema) }, ...errors },
    }),
    async (c) => c.json(await productBody(c, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/products/{id}",
      operationId: "adminUpdateProduct",
      tags: ["Admin"],
      summary: "Update a product (not its stock)",
      security,
      request: { params: IdParamSchema, ...body(ProductUpdateSchema) },
      responses: { 200: { description: "Updated", content: jsonContent(ProductSchema) }, ...errors },
    }),
    async (c) => {
      const { tags } = await patchProduct(await c.get("dbFresh").orm(), c.req.valid("param").id, c.req.valid("json"));
      await invalidate(c, tags);
      return c.json(await productBody(c, c.req.valid("param").id), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/products/{id}/archive",
      operationId: "adminArchiveProduct",
      tags: ["Admin"],
      summary: "Archive a product (idempotent); it disappears from the storefront",
      security,
      request: { params: IdParamSchema },
      responses: { 200: { description: "Archived", content: jsonContent(ProductSchema) }, ...errors },
    }),
    async (c) => {
      const { tags } = await patchProduct(await c.get("dbFresh").orm(), c.req.valid("param").id, { status: "archived" });
      await invalidate(c, tags);
      return c.json(await productBody(c, c.req.valid("param").id), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/products/{id}/stock-adjustments",
      operationId: "adminAdjustStock",
      tags: ["Admin"],
      summary: "Add or remove stock atomically (never below zero), recorded in the stock ledger",
      description:
        "Send an Idempotency-Key: the key is kept with the adjustment in the ledger, so a retry whose first answer was lost (even after a 503) finds it and changes nothing (`Idempotent-Replayed: true`); the same key with another product or delta is 422.",
      security,
      request: { params: IdParamSchema, ...body(StockAdjustmentSchema) },
      responses: { 200: { description: "New stock level", content: jsonContent(ProductSchema) }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { delta, reason } = c.req.valid("json");
      const actorId = c.get("principal").userId;
      const idempotencyKey = c.req.header("idempotency-key");
      const { tags, replayed } = await adjustProductStock(await c.get("dbFresh").orm(), id, { delta, reason, actorId, idempotencyKey });
      c.get("log").info(replayed ? "stock adjustment replayed" : "stock adjusted", {
        component: "admin",
        product_id: id,
        delta,
        reason,
        actor: actorId,
      });
      if (tags.length) await invalidate(c, tags);
      // Found in the ledger by its Idempotency-Key (the first answer was lost): the product as it is now.
      return c.json(await productBody(c, id), 200, replayed ? { "Idempotent-Replayed": "true" } : {});
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/products/{id}/stock-adjustments",
      operationId: "adminListStockAdjustments",
      tags: ["Admin"],
      summary: "The product's stock ledger: every adjustment with its delta, the stock after it, the reason and who made it, newest first",
      security,
      request: { params: IdParamSchema, query: StockAdjustmentQuerySchema },
      responses: { 200: { description: "A page of the ledger", content: jsonContent(StockAdjustmentPageSchema) }, ...errors },
    }),
    async (c) =>
      c.json(
        await stockAdjustmentPage(
          await c.get("dbFresh").orm(),
          c.get("config").CURSOR_SECRET,
          c.req.valid("param").id,
          c.req.valid("query"),
        ),
        200,
        { "Cache-Control": "private, no-store" },
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/products/import",
      operationId: "adminImportProducts",
      tags: ["Admin"],
      summary: "Import up to 1,000 products in one all-or-nothing transaction",
      security,
      request: body(ProductImportSchema),
      responses: {
        201: {
          description: "All imported",
          content: jsonContent(z.object({ imported: z.number().int(), ids: z.array(z.string().uuid()) })),
        },
        ...errors,
      },
    }),
    async (c) => {
      const { ids, tags } = await importProducts(await c.get("dbFresh").orm(), c.req.valid("json").products);
      await invalidate(c, tags);
      return c.json({ imported: ids.length, ids }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/categories",
      operationId: "adminCreateCategory",
      tags: ["Admin"],
      summary: "Create a category",
      security,
      request: body(CategoryCreateSchema),
      responses: { 201: { description: "Created", content: jsonContent(AdminCategorySchema) }, ...errors },
    }),
    async (c) => {
      const { row, tags } = await createCategory(await c.get("dbFresh").orm(), c.req.valid("json"));
      await invalidate(c, tags);
      return c.json(toCategoryDto(row), 201, { Location: `/api/v1/categories#${row.slug}` });
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/categories/{id}",
      operationId: "adminUpdateCategory",
      tags: ["Admin"],
      summary: "Update a category",
      security,
      request: { params: IdParamSchema, ...body(CategoryUpdateSchema) },
      responses: { 200: { description: "Updated", content: jsonContent(AdminCategorySchema) }, ...errors },
    }),
    async (c) => {
      const { row, tags } = await patchCategory(await c.get("dbFresh").orm(), c.req.valid("param").id, c.req.valid("json"));
      await invalidate(c, tags);
      return c.json(toCategoryDto(row), 200);
    },
  );
