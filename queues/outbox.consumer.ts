/**
 * Consumer of the outbox queue: fans each published event out into webhook deliveries and customer
 * emails (src/services/outbox-fanout.service.ts). The fan-out is idempotent per event, so the batch
 * is retried whole when anything fails; after max_retries the messages go to the outbound DLQ.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { fanOutEvents } from "../src/services/outbox-fanout.service.ts";
import { OutboxEventMessage } from "./messages.ts";

export async function consumeOutboxEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "outbox", queue: batch.queue });
  const delay = (attempts: number) => Math.round(backoffDelay(attempts, cfg.QUEUE_RETRY_BASE_SEC, 3600));
  const valid: { msg: Message<unknown>; body: OutboxEventMessage }[] = [];
  for (const msg of batch.messages) {
    const parsed = OutboxEventMessage.safeParse(msg.body);
    if (parsed.success) valid.push({ msg, body: parsed.data });
    else {
      // Retrying cannot help, but it must stay visible: let it reach the DLQ.
      log.error("malformed outbox message", { message_id: msg.id, attempts: msg.attempts });
      msg.retry({ delaySeconds: delay(msg.attempts) });
    }
  }
  if (!valid.length) return;
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    const counts = await fanOutEvents(
      { db: await db.orm(), cfg, deliveries: env.WEBHOOK_DELIVERIES, notifications: env.NOTIFICATIONS },
      valid.map((v) => v.body.outbox_id),
    );
    for (const v of valid) v.msg.ack();
    log.info("outbox events fanned out", counts);
  } catch (err) {
    const attempts = Math.max(...valid.map((v) => v.msg.attempts));
    log.error("outbox fan-out failed; retrying the batch", { messages: valid.length, attempts, ...errorFields(err) });
    for (const v of valid) v.msg.retry({ delaySeconds: delay(v.msg.attempts) });
  } finally {
    await db.close();
  }
}
