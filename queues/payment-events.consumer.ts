/**
 * Consumer of the payment-events queue: ack or retry per message; failures retry with
 * exponential backoff and jitter; after max_retries the queue moves the message to the DLQ.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { recordSettlementFailure, settle } from "../src/services/settlement.service.ts";
import { PaymentEventMessage } from "./messages.ts";

/** Queue redelivery delay: whole seconds, at most an hour. */
const retryDelay = (attempts: number, baseSec: number) => Math.round(backoffDelay(attempts, baseSec, 3600));

export async function consumePaymentEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "queue", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    const orm = await db.orm();
    for (const msg of batch.messages) {
      const parsed = PaymentEventMessage.safeParse(msg.body);
      if (!parsed.success) {
        // Malformed: retrying cannot help, but it must stay visible: let it reach the DLQ.
        log.error("malformed queue message", { message_id: msg.id, attempts: msg.attempts });
        msg.retry({ delaySeconds: retryDelay(msg.attempts, cfg.QUEUE_RETRY_BASE_SEC) });
        continue;
      }
      try {
        const outcome = await settle(orm, log, parsed.data.webhook_event_id);
        log.info("payment event settled", { message_id: msg.id, event_id: parsed.data.event_id, outcome, attempts: msg.attempts });
        msg.ack();
      } catch (err) {
        const fields = errorFields(err);
        log.warn("payment event failed; will retry", {
          message_id: msg.id,
          event_id: parsed.data.event_id,
          attempts: msg.attempts,
          ...fields,
        });
        await recordSettlementFailure(orm, parsed.data.webhook_event_id, String(fields.error_message ?? "error"));
        msg.retry({ delaySeconds: retryDelay(msg.attempts, cfg.QUEUE_RETRY_BASE_SEC) });
      }
    }
  } finally {
    await db.close();
  }
}
