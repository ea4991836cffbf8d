/** Queue message shapes, defined once for producers and consumers. */
import { z } from "zod";

export const PaymentEventMessage = z.object({
  kind: z.literal("payment-event"),
  webhook_event_id: z.string().uuid(),
  provider: z.enum(["sandbox", "stripe"]),
  event_id: z.string().min(1).max(255),
});
export type PaymentEventMessage = z.infer<typeof PaymentEventMessage>;

/** An outbox row published by the relay (src/services/outbox-relay.service.ts) to the outbox queue. */
export const OutboxEventMessage = z.object({
  kind: z.literal("outbox-event"),
  outbox_id: z.number().int().positive(),
  event_type: z.string().min(1).max(100),
  aggregate_id: z.string().uuid(),
});
export type OutboxEventMessage = z.infer<typeof OutboxEventMessage>;

/** One (event, endpoint) delivery; the row in webhook_deliveries holds its state and schedule. */
export const WebhookDeliveryMessage = z.object({ kind: z.literal("webhook-delivery"), delivery_id: z.string().uuid() });
export type WebhookDeliveryMessage = z.infer<typeof WebhookDeliveryMessage>;

/** One customer email; the row in notifications holds its state. */
export const NotificationMessage = z.object({ kind: z.literal("notification"), notification_id: z.string().uuid() });
export type NotificationMessage = z.infer<typeof NotificationMessage>;

export const OutboundMessage = z.discriminatedUnion("kind", [OutboxEventMessage, WebhookDeliveryMessage, NotificationMessage]);
export type OutboundMessage = z.infer<typeof OutboundMessage>;

export const QUEUE_NAMES = {
  paymentEvents: /^toko-payment-events(-[a-z]+)?$/,
  paymentEventsDlq: /^toko-payment-events(-[a-z]+)?-dlq$/,
  outbox: /^toko-outbox(-[a-z]+)?$/,
  webhookDeliveries: /^toko-webhook-deliveries(-[a-z]+)?$/,
  notifications: /^toko-notifications(-[a-z]+)?$/,
  /** One dead-letter queue for the three outbound queues (the message's `kind` says which). */
  outboundDlq: /^toko-outbound(-[a-z]+)?-dlq$/,
};
