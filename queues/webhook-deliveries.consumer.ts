/**
 * Consumer of the webhook-deliveries queue: one attempt per due delivery
 * (src/services/webhook-delivery.service.ts). Retries on the schedule are new, delayed messages sent
 * by the service, so every message that was handled is acked; only an unexpected failure (Postgres)
 * retries the message itself, after the delivery's lease, and its last retry lands in the outbound DLQ.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { deliverBatch } from "../src/services/webhook-delivery.service.ts";
import { WebhookDeliveryMessage } from "./messages.ts";

export async function consumeWebhookDeliveries(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "webhooks", queue: batch.queue });
  // Past the lease of the attempt that may still hold the delivery.
  const later = (attempts: number) =>
    Math.ceil(cfg.WEBHOOK_TIMEOUT_MS / 1000) + 20 + Math.round(backoffDelay(attempts, cfg.QUEUE_RETRY_BASE_SEC, 600));
  const byDelivery = new Map<string, Message<unknown>[]>();
  for (const msg of batch.messages) {
    const parsed = WebhookDeliveryMessage.safeParse(msg.body);
    if (!parsed.success) {
      log.error("malformed webhook delivery message", { message_id: msg.id, attempts: msg.attempts });
      msg.retry({ delaySeconds: later(msg.attempts) });
      continue;
    }
    byDelivery.set(parsed.data.delivery_id, [...(byDelivery.get(parsed.data.delivery_id) ?? []), msg]);
  }
  if (!byDelivery.size) return;
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    const outcomes = await deliverBatch(
      { db: await db.orm(), cfg, log, queue: env.WEBHOOK_DELIVERIES, breakers: env.CIRCUIT_BREAKER, queueName: batch.queue },
      [...byDelivery.keys()],
    );
    for (const [id, msgs] of byDelivery) {
      for (const m of msgs) {
        if (outcomes.get(id) === "error") m.retry({ delaySeconds: later(m.attempts) });
        else m.ack();
      }
    }
  } catch (err) {
    log.error("webhook deliveries failed; retrying the batch", { messages: batch.messages.length, ...errorFields(err) });
    for (const msgs of byDelivery.values()) for (const m of msgs) m.retry({ delaySeconds: later(m.attempts) });
  } finally {
    await db.close();
  }
}
