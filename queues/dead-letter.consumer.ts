/** Consumer of the dead-letter queue: records each message in `dead_letters` (visible, replayable), then acks. */
import { loadConfig } from "../src/config.ts";
import { createDatabase } from "../src/db/client.ts";
import { markWebhookDead, upsertDeadLetter } from "../src/db/payments.repo.ts";
import { createLogger } from "../src/lib/logger.ts";
import { PaymentEventMessage } from "./messages.ts";

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "dlq", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, { queryTimeoutMs: cfg.DB_QUERY_TIMEOUT_MS });
  const source = batch.queue.replace(/-dlq$/, "");
  try {
    const orm = await db.orm();
    for (const msg of batch.messages) {
      try {
        const parsed = PaymentEventMessage.safeParse(msg.body);
        const failure = parsed.success ? await markWebhookDead(orm, parsed.data.webhook_event_id) : null;
        await upsertDeadLetter(orm, {
          queue: source,
          messageKey: parsed.success ? `webhook:${parsed.data.webhook_event_id}` : `message:${msg.id}`,
          body: msg.body ?? null,
          attempts: failure?.attempts ?? 0,
          lastError: failure?.last_error ?? (parsed.success ? null : "malformed message"),
        });
        log.error("message dead-lettered", {
          message_id: msg.id,
          key: parsed.success ? parsed.data.event_id : msg.id,
          attempts: failure?.attempts,
        });
        msg.ack();
      } catch {
        msg.retry({ delaySeconds: 30 });
      }
    }
  } finally {
    await db.close();
  }
}
