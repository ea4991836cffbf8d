/**
 * Public catalogue: categories, products, search. GET only, no auth, edge-cached (see app.ts).
 * Handlers read only their validated input (`c.req.valid`): the edge-cache key is built from the same
 * parsed values (`catalogReads` in src/schemas/catalog.ts), so a key can only hold its own answer.
 */
import { createRoute } from "@hono/zod-openapi";
import { readTags } from "../lib/cache-tags.ts";
import {
  CategoryListSchema,
  NoQuerySchema,
  ProductListQuerySchema,
  ProductListSchema,
  ProductRefParamSchema,
  ProductSchema,
  SearchQuerySchema,
} from "../schemas/catalog.ts";
import { problemResponses } from "../schemas/common.ts";
import { categoryList, productDetail, productPage, searchPage, toProductDto } from "../services/catalog.service.ts";
import { createRouter } from "./router.ts";

const json = <T>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const cachedHeaders = {
  "X-Cache": { description: "HIT, MISS or STALE (edge cache)", schema: { type: "string" as const } },
  ETag: { description: "Strong validator; send it back in If-None-Match for a 304", schema: { type: "string" as const } },
};

export const catalogRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/categories",
      operationId: "listCategories",
      tags: ["Catalogue"],
      summary: "List categories",
      request: { query: NoQuerySchema },
      responses: {
        200: { ...json(CategoryListSchema, "All categories with active product counts"), headers: cachedHeaders },
        ...problemResponses,
      },
    }),
    async (c) => {
      const data = await categoryList(await c.get("dbFresh").orm());
      c.set("cacheTags", readTags.categories());
      return c.json({ data }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/products",
      operationId: "listProducts",
      tags: ["Catalogue"],
      summary: "List active products (a category page with `category`)",
      description:
        "Sorted by `sort`: `newest` (default), `price_asc`, `price_desc` or `name`, ties broken by id. Keyset pagination over (sort key, id): stable while products are added. A cursor is bound to its sort and filters.",
      request: { query: ProductListQuerySchema },
      responses: { 200: { ...json(ProductListSchema, "A page of products"), headers: cachedHeaders }, ...problemResponses },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await productPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, q);
      c.set("cacheTags", readTags.productList(q.category));
      return c.json(page, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/products/{idOrSku}",
      operationId: "getProduct",
      tags: ["Catalogue"],
      summary: "Get a product by id or SKU",
      request: { params: ProductRefParamSchema, query: NoQuerySchema },
      responses: { 200: { ...json(ProductSchema, "The product"), headers: cachedHeaders }, ...problemResponses },
    }),
    async (c) => {
      const p = await productDetail(await c.get("dbFresh").orm(), c.req.valid("param").idOrSku);
      c.set("cacheTags", readTags.product(p));
      return c.json(toProductDto(p), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/search",
      operationId: "searchProducts",
      tags: ["Catalogue"],
      summary: "Full-text product search",
      description: "Ranked Postgres full-text search; every word also matches as a prefix (`lapt` finds Laptop).",
      request: { query: SearchQuerySchema },
      responses: { 200: { ...json(ProductListSchema, "Matching products, best first"), headers: cachedHeaders }, ...problemResponses },
    }),
    async (c) => {
      const page = await searchPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query"));
      c.set("cacheTags", readTags.search());
      return c.json(page, 200);
    },
  );
