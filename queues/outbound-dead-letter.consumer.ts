/**
 * Consumer of the outbound dead-letter queue (shared by the outbox, webhook-deliveries and
 * notifications queues): each message becomes a dead letter (GET /api/v1/admin/queue/dlq, replayable)
 * and its delivery or notification is marked FAILED. Like the payment DLQ consumer it never acks what
 * it could not store: without Postgres every message is retried, backing off to an hour, through
 * max_retries = 100.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { handleOutboundDeadLetter } from "../src/services/outbound-maintenance.service.ts";
import { deadLetterRetryDelay } from "./dead-letter.consumer.ts";

export async function consumeOutboundDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const retryAll = () => {
    for (const msg of batch.messages) msg.retry({ delaySeconds: deadLetterRetryDelay(msg.attempts) });
  };
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    console.error(
      JSON.stringify({ level: "error", msg: "dead letters kept: invalid configuration", queue: batch.queue, ...errorFields(err) }),
    );
    return retryAll();
  }
  const log = createLogger(cfg.LOG_LEVEL, { component: "dlq", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    let orm: Awaited<ReturnType<typeof db.orm>>;
    try {
      orm = await db.orm();
    } catch (err) {
      log.error("database unavailable: dead letters kept for a later attempt", { messages: batch.messages.length, ...errorFields(err) });
      return retryAll();
    }
    for (const msg of batch.messages) {
      try {
        const { key } = await handleOutboundDeadLetter(orm, batch.queue, msg);
        log.error("outbound message dead-lettered", { message_id: msg.id, key, attempts: msg.attempts });
        msg.ack();
      } catch (err) {
        log.error("dead letter not stored; will retry", { message_id: msg.id, attempts: msg.attempts, ...errorFields(err) });
        msg.retry({ delaySeconds: deadLetterRetryDelay(msg.attempts) });
      }
    }
  } finally {
    await db.close();
  }
}
