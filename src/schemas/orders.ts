/** Order shapes. Prices never come from the client: only SKUs and quantities. */
import { z } from "@hono/zod-openapi";
import { orderStatus } from "../db/schema.ts";
import { CurrencySchema, CursorSchema, DateTimeSchema, LimitSchema, LineInputSchema } from "./common.ts";
import { AddressInputSchema, OrderShippingSchema, RateIdSchema } from "./shipping.ts";

/** The Postgres enum (src/db/schema.ts) is the single source of the order statuses. */
export const ORDER_STATUSES = orderStatus.enumValues;
export const OrderStatusSchema = z.enum(ORDER_STATUSES).openapi("OrderStatus");

const lines = z
  .array(LineInputSchema)
  .min(1, "at least one line")
  .max(100, "at most 100 lines")
  .superRefine((items, ctx) => {
    const seen = new Map<string, number>();
    items.forEach((l, i) => {
      const first = seen.get(l.sku);
      if (first !== undefined)
        ctx.addIssue({ code: "custom", path: [i, "sku"], message: `repeats line ${first}; put the total quantity on one line` });
      else seen.set(l.sku, i);
    });
  });

export const OrderCreateSchema = z
  .object({
    items: lines,
    client_token: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
      .optional()
      .openapi({ description: "Your own de-duplication token: a second order with the same token returns the first" }),
    shipping_address: AddressInputSchema.optional().openapi({
      description: "Where to ship: required (with `shipping_rate_id`) when a product needs shipping, refused when none does",
    }),
    shipping_rate_id: RateIdSchema.optional(),
  })
  .strict()
  .openapi("OrderCreate");

export const BulkOrderCreateSchema = z
  .object({
    orders: z
      .array(OrderCreateSchema.extend({ user_id: z.string().uuid() }).strict())
      .min(1)
      .max(100),
  })
  .strict()
  .openapi("BulkOrderCreate");

export const OrderItemSchema = z
  .object({
    product_id: z.string().uuid(),
    sku: z.string(),
    name: z.string(),
    unit_price_cents: z.number().int(),
    qty: z.number().int(),
    line_total_cents: z.number().int(),
  })
  .openapi("OrderItem");

export const OrderSchema = z
  .object({
    id: z.string().uuid(),
    user_id: z.string().uuid(),
    customer_email: z.string().optional(),
    status: OrderStatusSchema,
    currency: CurrencySchema,
    subtotal_cents: z.number().int().openapi({ description: "The goods" }),
    shipping_cents: z.number().int().openapi({ description: "The shipping rate picked at checkout; 0 when nothing ships" }),
    total_cents: z.number().int().openapi({ description: "subtotal_cents + shipping_cents, in `currency`" }),
    version: z.number().int(),
    client_token: z.string().nullable(),
    expires_at: z.string().datetime({ offset: true }).nullable().openapi({
      description: "While PENDING: when the order expires unpaid (cancelled, stock released). Kept afterwards as history.",
    }),
    items: z.array(OrderItemSchema),
    created_at: z.string().datetime({ offset: true }),
    updated_at: z.string().datetime({ offset: true }),
    shipping: OrderShippingSchema.nullable().openapi({ description: "Address, carrier, service and price; null when nothing ships" }),
  })
  .openapi("Order");

export const OrderListSchema = z
  .object({ data: z.array(OrderSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })
  .openapi("OrderList");

export const OrderListQuerySchema = z
  .object({
    status: OrderStatusSchema.optional().openapi({ param: { name: "status", in: "query" } }),
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ param: { name: "q", in: "query" }, description: "ADMIN: order id, SKU, product name or customer email" }),
    created_from: DateTimeSchema.optional().openapi({ param: { name: "created_from", in: "query" } }),
    created_to: DateTimeSchema.optional().openapi({ param: { name: "created_to", in: "query" } }),
    user_id: z
      .string()
      .uuid()
      .optional()
      .openapi({ param: { name: "user_id", in: "query" }, description: "ADMIN only" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict()
  .refine((q) => !q.created_from || !q.created_to || Date.parse(q.created_from) <= Date.parse(q.created_to), {
    path: ["created_from"],
    message: "must not be after created_to",
  });

export const StatusChangeSchema = z
  .object({
    status: OrderStatusSchema,
    version: z.number().int().min(1).openapi({ description: "The version you read; a stale one is a 409" }),
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .strict()
  .openapi("OrderStatusChange");

export type OrderCreate = z.infer<typeof OrderCreateSchema>;
export type OrderListQuery = z.infer<typeof OrderListQuerySchema>;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
