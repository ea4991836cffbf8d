/** Orders: checkout, reads (own, or all for ADMIN), status changes, bulk. Guards in src/guards/index.ts. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { getPrivate, orderResource, privateKey, putPrivate, resourceGeneration } from "../lib/private-cache.ts";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, IdempotencyKeyHeaders, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import {
  BulkOrderCreateSchema,
  OrderCreateSchema,
  OrderListQuerySchema,
  OrderListSchema,
  OrderSchema,
  StatusChangeSchema,
} from "../schemas/orders.ts";
import { invalidateOrders, isOrderCacheable, orderCacheTags } from "../services/order-cache.service.ts";
import { changeStatus, checkoutPolicy, orderPage, placeBulk, placeOrder, readOrder, toOrderDto } from "../services/orders.service.ts";
import { intentCloser, paymentProvider } from "../services/payments.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];
const errors = {
  ...authResponses,
  409: problem("Conflict: insufficient stock, stale version, invalid transition, key in flight"),
  422: problem("Idempotency-Key reused with another request"),
  429: problem("Rate limited"),
  ...problemResponses,
};

const db = (c: Context<AppEnv>) => c.get("dbFresh").orm();

/** After a change: the next read here misses (generation bump, awaited); other locations by tag purge (background). */
function invalidateOrder(c: Context<AppEnv>, id: string) {
  return invalidateOrders(c.get("config"), c.get("log"), [id], {
    origin: new URL(c.req.url).origin,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  });
}

/**
 * The order's client_token when the client sent none: `idem:<Idempotency-Key><suffix>`, so Postgres' unique
 * (user, client_token) recognises a retry whose first COMMIT was not acknowledged (docs/reliability.md).
 */
function withKeyToken<T extends { client_token?: string | undefined }>(order: T, key: string | undefined, suffix = ""): T {
  return order.client_token || !key ? order : { ...order, client_token: `idem:${key}${suffix}` };
}

export const ordersRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "createOrder",
      tags: ["Orders"],
      summary: "Place an order (stock reserved atomically)",
      description:
        "Prices come from the catalogue, never from the client. Any short line → 409 naming the SKUs, nothing written. A repeated `client_token` returns the original order (200).",
      security,
      request: { headers: IdempotencyKeyHeaders, body: { required: true, content: jsonContent(OrderCreateSchema) } },
      responses: {
        201: { description: "Created", content: jsonContent(OrderSchema) },
        200: { description: "The order this client_token already created", content: jsonContent(OrderSchema) },
        ...errors,
      },
    }),
    async (c) => {
      const p = c.get("principal");
      const input = c.req.valid("json");
      // The Idempotency-Key is also the order's client_token when the client sent none, so the database
      // dedupes it too: if the connection drops after COMMIT but before the answer, the request ends in a
      // 503, the guard releases the key, and the client's retry must find the order, not place a second
      // one (found by the chaos suite, docs/reliability.md). The retry gets the order with 200.
      const body = withKeyToken(input, c.req.header("idempotency-key"));
      const { order, replayed } = await placeOrder(await db(c), p.userId, body, p, checkoutPolicy(c.get("config")));
      return c.json(toOrderDto(order), replayed ? 200 : 201, { Location: `/api/v1/orders/${order.id}` });
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/bulk",
      operationId: "createOrdersBulk",
      tags: ["Orders"],
      summary: "ADMIN: up to 100 orders in one all-or-nothing transaction",
      security,
      request: { body: { required: true, content: jsonContent(BulkOrderCreateSchema) } },
      responses: { 201: { description: "All created", content: jsonContent(z.object({ data: z.array(OrderSchema) })) }, ...errors },
    }),
    async (c) => {
      // As for one order: with an Idempotency-Key, each order without a client_token gets `idem:<key>:<index>`,
      // so a retry after an unacknowledged COMMIT finds the batch instead of placing it twice.
      const key = c.req.header("idempotency-key");
      const orders = c.req.valid("json").orders.map((o, i) => withKeyToken(o, key, `:${i}`));
      const created = await placeBulk(await db(c), orders, c.get("principal"), checkoutPolicy(c.get("config")));
      return c.json({ data: created.map(toOrderDto) }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listOrders",
      tags: ["Orders"],
      summary: "Your orders (ADMIN: all, with filters)",
      security,
      request: { query: OrderListQuerySchema },
      responses: { 200: { description: "A page of orders, newest first", content: jsonContent(OrderListSchema) }, ...errors },
    }),
    async (c) =>
      c.json(await orderPage(await db(c), c.get("config").CURSOR_SECRET, c.req.valid("query"), c.get("principal")), 200, {
        "Cache-Control": "private, no-store",
      }),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getOrder",
      tags: ["Orders"],
      summary: "One order (owner or ADMIN; others 404). Short edge cache past payment: X-Cache HIT|MISS, BYPASS while PENDING or PAID",
      security,
      request: { params: IdParamSchema },
      responses: { 200: { description: "The order", content: jsonContent(OrderSchema) }, ...errors },
    }),
    async (c) => {
      // Uuids are case-insensitive: one spelling for the key, the generation and the tag.
      const id = c.req.valid("param").id.toLowerCase();
      const p = c.get("principal");
      const origin = new URL(c.req.url).origin;
      const ttl = c.get("config").ORDER_CACHE_TTL_SEC;
      const resource = orderResource(id);
      const key = privateKey(origin, resource, await resourceGeneration(origin, resource), p.role === "ADMIN" ? "ADMIN" : p.userId);
      const headers = { "Cache-Control": "private, no-cache", "Content-Type": "application/json" };
      const cached = ttl > 0 ? await getPrivate(key) : null;
      // The cached bytes are already the JSON document: sent as-is (typed as the route's JSON response).
      if (cached) return c.body(cached, 200, { ...headers, "X-Cache": "HIT" }) as never;
      const order = toOrderDto(await readOrder(await db(c), id, p));
      const body = JSON.stringify(order);
      // PENDING and PAID change without a request (webhooks, expiry): never stored (src/services/order-cache.service.ts).
      const store = ttl > 0 && isOrderCacheable(order.status);
      if (store) c.executionCtx.waitUntil(putPrivate(key, body, ttl, orderCacheTags(id)).catch(() => {}));
      return c.body(body, 200, { ...headers, "X-Cache": store ? "MISS" : "BYPASS" }) as never;
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{id}/status",
      operationId: "changeOrderStatus",
      tags: ["Orders"],
      summary: "Change status with optimistic locking (ADMIN; owners may cancel PENDING)",
      description:
        "Transitions: PENDING → PAID | CANCELLED (restocks); PAID → FULFILLED | REFUNDED; FULFILLED → SHIPPED; SHIPPED → DELIVERED. A stale `version` or any other transition → 409.",
      security,
      request: { params: IdParamSchema, body: { required: true, content: jsonContent(StatusChangeSchema) } },
      responses: { 200: { description: "Updated", content: jsonContent(OrderSchema) }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { status, version, reason } = c.req.valid("json");
      const cfg = c.get("config");
      const log = c.get("log");
      // Cancelling closes the order's open payment intent at the provider first.
      const provider = paymentProvider(cfg, { origin: new URL(c.req.url).origin, log });
      const closeIntent = intentCloser({ env: c.env, cfg, log, provider });
      const { order } = await changeStatus(await db(c), id, status, version, c.get("principal"), reason ?? null, closeIntent);
      await invalidateOrder(c, id);
      return c.json(toOrderDto(order), 200);
    },
  );
