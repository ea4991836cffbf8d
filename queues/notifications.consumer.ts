/**
 * Consumer of the notifications queue: one email per message (src/services/notifications.service.ts),
 * acked or retried on its own with the backoff helper; after max_retries the message goes to the
 * outbound DLQ, whose consumer marks the notification FAILED and keeps a dead letter.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { emailProvider, sendNotification } from "../src/services/notifications.service.ts";
import { NotificationMessage } from "./messages.ts";

export async function consumeNotifications(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "notifications", queue: batch.queue });
  const delay = (attempts: number) => Math.round(backoffDelay(attempts, cfg.QUEUE_RETRY_BASE_SEC, 3600));
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    let orm: Awaited<ReturnType<typeof db.orm>>;
    try {
      orm = await db.orm();
    } catch (err) {
      log.error("database unavailable: retrying the batch", { messages: batch.messages.length, ...errorFields(err) });
      for (const m of batch.messages) m.retry({ delaySeconds: delay(m.attempts) });
      return;
    }
    const deps = { db: orm, cfg, log, provider: emailProvider(cfg), queueName: batch.queue };
    for (const msg of batch.messages) {
      const parsed = NotificationMessage.safeParse(msg.body);
      if (!parsed.success) {
        log.error("malformed notification message", { message_id: msg.id, attempts: msg.attempts });
        msg.retry({ delaySeconds: delay(msg.attempts) });
        continue;
      }
      const retryIn = delay(msg.attempts);
      try {
        await sendNotification(deps, parsed.data.notification_id, retryIn);
        msg.ack();
      } catch (err) {
        log.warn("notification failed; will retry", {
          notification_id: parsed.data.notification_id,
          attempts: msg.attempts,
          retry_in_sec: retryIn,
          ...errorFields(err),
        });
        msg.retry({ delaySeconds: retryIn });
      }
    }
  } finally {
    await db.close();
  }
}
