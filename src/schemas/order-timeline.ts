/** An order's timeline (ADMIN): status history and payments, for the console's order detail. */
import { z } from "@hono/zod-openapi";
import { paymentStatus } from "../db/schema.ts";
import { OrderStatusSchema } from "./orders.ts";

export const OrderTimelineSchema = z
  .object({
    order_id: z.string().uuid(),
    history: z
      .array(
        z.object({
          from_status: OrderStatusSchema.nullable().openapi({ description: "null for the first entry (the order was placed)" }),
          to_status: OrderStatusSchema,
          actor_role: z.string().openapi({ description: "ADMIN, USER or SYSTEM (settlement, expiry)" }),
          actor_email: z.string().nullable(),
          reason: z.string().nullable(),
          at: z.string().datetime({ offset: true }),
        }),
      )
      .openapi({ description: "Oldest first" }),
    payments: z
      .array(
        z.object({
          payment_id: z.string().uuid(),
          provider: z.string(),
          provider_ref: z.string().nullable(),
          status: z.enum(paymentStatus.enumValues),
          amount_cents: z.number().int(),
          amount_refunded_cents: z.number().int(),
          currency: z.string(),
          failed_attempts: z.number().int(),
          last_failure: z.string().nullable(),
          created_at: z.string().datetime({ offset: true }),
          updated_at: z.string().datetime({ offset: true }),
        }),
      )
      .openapi({ description: "Oldest first" }),
  })
  .openapi("OrderTimeline");

export type OrderTimeline = z.infer<typeof OrderTimelineSchema>;
