/** Shipping: public quotes (rate limit per client in src/guards/index.ts) and, for ADMIN, products' shipping profiles. */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import {
  ProductShippingSchema,
  ProductShippingUpdateSchema,
  ShippingQuoteRequestSchema,
  ShippingQuoteSchema,
} from "../schemas/shipping.ts";
import { changeProductShipping, productShipping, quoteShipping, type ShippingDeps } from "../services/shipping.service.ts";
import { createRouter } from "./router.ts";

export function shippingDeps(c: Context<AppEnv>): ShippingDeps {
  return {
    env: c.env,
    cfg: c.get("config"),
    log: c.get("log"),
    origin: new URL(c.req.url).origin,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  };
}

export const shippingRouter = createRouter().openapi(
  createRoute({
    method: "post",
    path: "/rates",
    operationId: "quoteShipping",
    tags: ["Shipping"],
    summary: "Shipping rates for an address and a cart (X-Cache: HIT within SHIPPING_QUOTE_CACHE_SEC)",
    description:
      "Each rate has a signed `rate_id`: send it as `shipping_rate_id` with the same address and items to POST /api/v1/orders before `expires_at`. When the carrier is unavailable, the configured flat rate of the destination's zone is served, with `estimated: true`.",
    request: { body: { required: true, content: jsonContent(ShippingQuoteRequestSchema) } },
    responses: {
      200: { description: "The rates, cheapest first", content: jsonContent(ShippingQuoteSchema) },
      422: problem("Nothing to ship, the carrier refused the parcel, or no rate in the goods' currency"),
      429: problem("Rate limited"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { quote, cache } = await quoteShipping(() => c.get("dbFresh").orm(), shippingDeps(c), c.req.valid("json"));
    return c.json(quote, 200, { "Cache-Control": "no-store", "X-Cache": cache });
  },
);

const security = [{ bearerAuth: [] }];
const db = (c: Context<AppEnv>) => c.get("dbFresh").orm();

export const adminShippingRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/products/{id}/shipping",
      operationId: "adminGetProductShipping",
      tags: ["Admin"],
      summary: "A product's shipping profile: physical or not, weight, dimensions",
      security,
      request: { params: IdParamSchema },
      responses: {
        200: { description: "The profile", content: jsonContent(ProductShippingSchema) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => c.json(await productShipping(await db(c), c.req.valid("param").id), 200, { "Cache-Control": "private, no-store" }),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/products/{id}/shipping",
      operationId: "adminUpdateProductShipping",
      tags: ["Admin"],
      summary: "Change a product's shipping profile (quotes cached before may keep the old one for SHIPPING_QUOTE_CACHE_SEC)",
      security,
      request: { params: IdParamSchema, body: { required: true, content: jsonContent(ProductShippingUpdateSchema) } },
      responses: {
        200: { description: "The profile", content: jsonContent(ProductShippingSchema) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => c.json(await changeProductShipping(await db(c), c.req.valid("param").id, c.req.valid("json")), 200),
  );
