import { z } from "@hono/zod-openapi";
import { paymentStatus } from "../db/schema.ts";
import { CursorSchema, DateTimeSchema, LimitSchema } from "./common.ts";

export const PaymentCreateSchema = z
  .object({
    order_id: z.string().uuid(),
    test_outcome: z
      .enum(["succeeded", "failed", "delayed_success", "provider_error", "provider_timeout"])
      .optional()
      .openapi({ description: "Sandbox provider only: what the simulated customer/provider does" }),
  })
  .strict()
  .openapi("PaymentCreate");

export const PaymentSchema = z
  .object({
    payment_id: z.string().uuid(),
    order_id: z.string().uuid(),
    provider: z.enum(["sandbox", "stripe"]),
    status: z.enum(paymentStatus.enumValues).openapi({
      description:
        "INITIATED: open (a failed attempt leaves it open; pay again to retry the same intent). SUCCEEDED: captured. REFUNDED: fully refunded. FAILED: closed without capture.",
    }),
    amount_cents: z.number().int(),
    currency: z.string(),
    amount_refunded_cents: z.number().int().optional(),
    /** Which attempt on this intent the response is about (POST), or how many failed so far (GET). */
    attempt: z.number().int().min(1).optional(),
    failed_attempts: z.number().int().min(0).optional(),
    last_failure: z.string().nullable().optional(),
    redirect_url: z.string().optional(),
    client_secret: z.string().optional(),
  })
  .openapi("Payment");

export const ProviderParamSchema = z.object({
  provider: z.enum(["sandbox", "stripe"]).openapi({ param: { name: "provider", in: "path" } }),
});

export const DeadLetterQuerySchema = z
  .object({
    status: z
      .enum(["DEAD", "REPLAYED"])
      .optional()
      .openapi({ param: { name: "status", in: "query" } }),
    queue: z
      .string()
      .max(100)
      .optional()
      .openapi({ param: { name: "queue", in: "query" } }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const ReplaySinceSchema = z.object({ since: DateTimeSchema }).strict().openapi("DeadLetterReplay");

export const DeadLetterSchema = z
  .object({
    id: z.string().uuid(),
    queue: z.string(),
    message_key: z.string(),
    body: z.record(z.string(), z.unknown()),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    status: z.enum(["DEAD", "REPLAYED"]),
    first_seen_at: z.string(),
    last_seen_at: z.string(),
    replayed_at: z.string().nullable(),
  })
  .openapi("DeadLetter");
