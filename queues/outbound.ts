/** Routes the outbound queues' batches (outbox, webhook deliveries, notifications, their DLQ) to their consumers. */
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/lib/logger.ts";
import { kickOutboxRelay } from "../src/services/outbox-relay.service.ts";
import { QUEUE_NAMES } from "./messages.ts";
import { consumeNotifications } from "./notifications.consumer.ts";
import { consumeOutboundDeadLetters } from "./outbound-dead-letter.consumer.ts";
import { consumeOutboxEvents } from "./outbox.consumer.ts";
import { consumeWebhookDeliveries } from "./webhook-deliveries.consumer.ts";

/** False when the batch is not from an outbound queue. */
export async function consumeOutbound(batch: MessageBatch<unknown>, env: Env): Promise<boolean> {
  if (QUEUE_NAMES.outboundDlq.test(batch.queue)) await consumeOutboundDeadLetters(batch, env);
  else if (QUEUE_NAMES.outbox.test(batch.queue)) await consumeOutboxEvents(batch, env);
  else if (QUEUE_NAMES.webhookDeliveries.test(batch.queue)) await consumeWebhookDeliveries(batch, env);
  else if (QUEUE_NAMES.notifications.test(batch.queue)) await consumeNotifications(batch, env);
  else return false;
  return true;
}

/** After a consumer that may have written outbox rows (settlement): publish them now, not at the next cron tick. */
export async function kickRelay(env: Env): Promise<void> {
  try {
    const cfg = loadConfig(env);
    await kickOutboxRelay(env, cfg, createLogger(cfg.LOG_LEVEL, { component: "outbox" }));
  } catch {
    // Invalid configuration: the consumers report it; the cron relay is the safety net.
  }
}
