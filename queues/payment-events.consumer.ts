/**
 * Consumer of the payment-events queue: ack or retry per message; failures retry with
 * exponential backoff and jitter; after max_retries the queue moves the message to the DLQ.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { invalidateOrders } from "../src/services/order-cache.service.ts";
import { paymentProvider, refundSurplus } from "../src/services/payments.service.ts";
import { recordSettlementFailure, settle } from "../src/services/settlement.service.ts";
import { PaymentEventMessage } from "./messages.ts";

/** Queue redelivery delay: whole seconds, at most an hour. */
const retryDelay = (attempts: number, baseSec: number) => Math.round(backoffDelay(attempts, baseSec, 3600));

export async function consumePaymentEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "queue", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    let orm: Awaited<ReturnType<typeof db.orm>>;
    try {
      orm = await db.orm();
    } catch (err) {
      // Postgres away: nothing can be applied or recorded. Every message comes back later; the
      // webhook_events rows exist, so the sweeper re-enqueues whatever runs out of retries.
      const attempts = Math.max(...batch.messages.map((m) => m.attempts));
      log.error("database unavailable: retrying the batch", { messages: batch.messages.length, attempts, ...errorFields(err) });
      batch.retryAll({ delaySeconds: retryDelay(attempts, cfg.QUEUE_RETRY_BASE_SEC) });
      return;
    }
    // Refunds of surplus captures go through the provider; no webhooks are sent from here.
    const provider = paymentProvider(cfg, { origin: "", log });
    const deps = { db: orm, env, cfg, log, provider };
    for (const msg of batch.messages) {
      const parsed = PaymentEventMessage.safeParse(msg.body);
      if (!parsed.success) {
        // Malformed: retrying cannot help, but it must stay visible: let it reach the DLQ.
        log.error("malformed queue message", { message_id: msg.id, attempts: msg.attempts });
        msg.retry({ delaySeconds: retryDelay(msg.attempts, cfg.QUEUE_RETRY_BASE_SEC) });
        continue;
      }
      let result: Awaited<ReturnType<typeof settle>>;
      try {
        result = await settle(orm, log, parsed.data.webhook_event_id);
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
        continue;
      }
      log.info("payment event settled", {
        message_id: msg.id,
        event_id: parsed.data.event_id,
        outcome: result.outcome,
        attempts: msg.attempts,
      });
      // The event is applied and committed: ack it whatever happens next. A refund that fails here
      // stays pending in payment_anomalies and the sweeper job retries it.
      msg.ack();
      // Orders it changed leave every cache (by tag); PENDING and PAID orders are never cached anyway.
      if (result.orderIds.length) await invalidateOrders(cfg, log, result.orderIds);
      for (const anomalyId of result.refunds) {
        await refundSurplus(deps, anomalyId).catch((err) =>
          log.error("surplus refund failed; the sweeper retries it", { anomaly_id: anomalyId, ...errorFields(err) }),
        );
      }
    }
  } finally {
    await db.close();
  }
}
