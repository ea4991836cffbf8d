/** Queue message shapes, defined once for producers and consumers. */
import { z } from "zod";

export const PaymentEventMessage = z.object({
  kind: z.literal("payment-event"),
  webhook_event_id: z.string().uuid(),
  provider: z.enum(["sandbox", "stripe"]),
  event_id: z.string().min(1).max(255),
});
export type PaymentEventMessage = z.infer<typeof PaymentEventMessage>;

export const QUEUE_NAMES = {
  paymentEvents: /^toko-payment-events(-[a-z]+)?$/,
  paymentEventsDlq: /^toko-payment-events(-[a-z]+)?-dlq$/,
};
