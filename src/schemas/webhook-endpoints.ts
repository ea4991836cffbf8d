/** Outbound webhooks and notifications (ADMIN): request and response shapes. */
import { z } from "@hono/zod-openapi";
import { CursorSchema, DateTimeSchema, LimitSchema } from "./common.ts";

/** The event types merchants can subscribe to (docs/webhooks.md lists their payloads). */
export const EVENT_TYPES = [
  "order.created",
  "order.status_changed",
  "order.refunded_partially",
  "payment.failed",
  "payment.refunded",
  "payment.surplus_captured",
  "webhook_endpoint.disabled",
] as const;

const EventFilter = z.enum(["*", ...EVENT_TYPES]).openapi({ description: "An event type, or `*` for every type" });

const Url = z.string().url().max(2048).openapi({
  example: "https://erp.example.com/hooks/toko",
  description: "https (http only in development); its host must resolve to public addresses only (checked now and before every attempt)",
});

export const EndpointCreateSchema = z
  .object({
    url: Url,
    events: z.array(EventFilter).min(1).max(50),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional().openapi({ description: "Default true" }),
  })
  .strict()
  .openapi("WebhookEndpointCreate");

export const EndpointUpdateSchema = z
  .object({
    url: Url.optional(),
    events: z.array(EventFilter).min(1).max(50).optional(),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional().openapi({ description: "true re-enables (clearing why it was disabled); false stops deliveries" }),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: "nothing to change" })
  .openapi("WebhookEndpointUpdate");

export const EndpointSchema = z
  .object({
    id: z.string().uuid(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    disabled_at: z.string().nullable(),
    failing_since: z.string().nullable().openapi({ description: "Start of the current run of failed attempts" }),
    previous_secret_expires_at: z
      .string()
      .nullable()
      .openapi({ description: "After a rotation: until then the previous secret signs too (a second `v1,` signature)" }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookEndpoint");

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", description: "Shown once: store it now" }),
}).openapi("WebhookEndpointWithSecret");

export const EndpointPageSchema = z.object({ data: z.array(EndpointSchema), has_more: z.boolean(), next_cursor: z.string().nullable() });

export const PageQuerySchema = z.object({ limit: LimitSchema, cursor: CursorSchema }).strict();

export const PingSchema = z
  .object({ delivery_id: z.string().uuid(), webhook_id: z.string().openapi({ example: "msg_3f2a9c0e5d55" }) })
  .openapi("WebhookPing");

const DELIVERY_STATUS = ["PENDING", "DELIVERED", "FAILED", "CANCELLED"] as const;

export const DeliveryQuerySchema = z
  .object({
    status: z
      .enum(DELIVERY_STATUS)
      .optional()
      .openapi({ param: { name: "status", in: "query" } }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const DeliverySchema = z
  .object({
    id: z.string().uuid(),
    webhook_id: z.string().openapi({ description: "The `webhook-id` header: the same on every attempt (receivers de-duplicate on it)" }),
    message_id: z.string().uuid(),
    event_type: z.string(),
    status: z.enum(DELIVERY_STATUS),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    attempt_log: z.array(
      z.object({
        attempt: z.number().int(),
        started_at: z.string(),
        duration_ms: z.number().int(),
        response_status: z.number().int().nullable(),
        response_body: z.string().nullable().openapi({ description: "The first 1 KiB of the answer" }),
        error: z.string().nullable(),
        outcome: z.enum(["delivered", "retry", "failed", "gone"]),
        next_attempt_at: z.string().nullable(),
      }),
    ),
  })
  .openapi("WebhookDelivery");

export const DeliveryPageSchema = z.object({ data: z.array(DeliverySchema), has_more: z.boolean(), next_cursor: z.string().nullable() });

export const ReplaySchema = z.object({ since: DateTimeSchema }).strict().openapi("WebhookReplay");

const NOTIFICATION_STATUS = ["PENDING", "SENT", "FAILED"] as const;

export const NotificationQuerySchema = z
  .object({
    status: z
      .enum(NOTIFICATION_STATUS)
      .optional()
      .openapi({ param: { name: "status", in: "query" } }),
    order_id: z
      .string()
      .uuid()
      .optional()
      .openapi({ param: { name: "order_id", in: "query" } }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const NotificationSchema = z
  .object({
    id: z.string().uuid(),
    event_key: z.string().openapi({ description: "One email per event: `outbox:<event id>`" }),
    event_type: z.string(),
    template: z.enum(["order_paid", "order_shipped", "order_refunded", "payment_failed"]),
    order_id: z.string().uuid().nullable(),
    recipient: z.string(),
    status: z.enum(NOTIFICATION_STATUS),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    provider: z.string().nullable(),
    provider_message_id: z.string().nullable(),
    subject: z.string().nullable().openapi({ description: "Sandbox provider only: the rendered message is kept" }),
    text_body: z.string().nullable(),
    html_body: z.string().nullable(),
    created_at: z.string(),
    sent_at: z.string().nullable(),
  })
  .openapi("Notification");

export const NotificationPageSchema = z.object({
  data: z.array(NotificationSchema),
  has_more: z.boolean(),
  next_cursor: z.string().nullable(),
});
