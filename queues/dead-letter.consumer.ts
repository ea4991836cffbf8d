/**
 * Consumer of the dead-letter queue. Each message is stored, sent back, or dropped as
 * `handleDeadLetter()` decides (src/services/dead-letters.service.ts), then acked. It never acks
 * what it could not store: when Postgres (or the config) is unavailable every message is retried
 * with a long backoff (up to an hour) through `max_retries = 100` (the Queues maximum), days of
 * cover. The webhook_events row, stored before the provider's 202, is the last safety net: the
 * sweeper job re-queues whatever is still RECEIVED.
 */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { backoffDelay } from "../src/lib/backoff.ts";
import { createLogger, errorFields } from "../src/lib/logger.ts";
import { handleDeadLetter } from "../src/services/dead-letters.service.ts";

/** Redelivery delay of a dead letter that could not be handled: from a minute, doubling, at most an hour. */
export const deadLetterRetryDelay = (attempts: number) => Math.round(backoffDelay(attempts, 60, 3600));

function retryAll(batch: MessageBatch<unknown>) {
  for (const msg of batch.messages) msg.retry({ delaySeconds: deadLetterRetryDelay(msg.attempts) });
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    // A bad deploy must not burn the retries of messages nobody else holds.
    console.error(
      JSON.stringify({ level: "error", msg: "dead letters kept: invalid configuration", queue: batch.queue, ...errorFields(err) }),
    );
    return retryAll(batch);
  }
  const log = createLogger(cfg.LOG_LEVEL, { component: "dlq", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  const source = batch.queue.replace(/-dlq$/, "");
  try {
    let orm: Awaited<ReturnType<typeof db.orm>>;
    try {
      orm = await db.orm();
    } catch (err) {
      log.error("database unavailable: dead letters kept for a later attempt", {
        messages: batch.messages.length,
        attempts: Math.max(...batch.messages.map((m) => m.attempts)),
        ...errorFields(err),
      });
      return retryAll(batch);
    }
    for (const msg of batch.messages) {
      try {
        const r = await handleDeadLetter(orm, env.PAYMENT_EVENTS, source, msg);
        const fields = { message_id: msg.id, key: r.key, attempts: r.attempts, status: r.status };
        if (r.outcome === "parked") log.error("message dead-lettered", fields);
        else if (r.outcome === "requeued") log.warn("dead letter never reached settlement: sent back to the queue", fields);
        else log.info("dead letter already settled: dropped", fields);
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
