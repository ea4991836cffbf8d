/** Consumer of the dead-letter queue: records each message in `dead_letters` (visible, replayable), then acks. */
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { createLogger } from "../src/lib/logger.ts";
import { recordDeadLetter } from "../src/services/dead-letters.service.ts";

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "dlq", queue: batch.queue });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  const source = batch.queue.replace(/-dlq$/, "");
  try {
    const orm = await db.orm();
    for (const msg of batch.messages) {
      try {
        const { key, attempts } = await recordDeadLetter(orm, source, msg);
        log.error("message dead-lettered", { message_id: msg.id, key, attempts });
        msg.ack();
      } catch {
        msg.retry({ delaySeconds: 30 });
      }
    }
  } finally {
    await db.close();
  }
}
