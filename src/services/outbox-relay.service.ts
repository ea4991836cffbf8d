/**
 * Outbox relay: publishes unpublished outbox rows to the outbox queue, in id order, then marks them
 * published — in one transaction per batch, so a crash anywhere before the commit leaves the rows
 * unpublished for the next run (at-least-once: a batch sent just before a crash is sent again, and the
 * fan-out makes that a no-op). `FOR UPDATE SKIP LOCKED` lets relays run concurrently without taking
 * the same row. Runs every minute (the `outbox-relay` job) and right after a request or a payment
 * event wrote to the outbox (`kickOutboxRelay`, in `waitUntil`), so an event usually leaves in
 * milliseconds, not at the next cron tick.
 */
import type { OutboxEventMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import { createDatabase, type Drizzle, databaseOptions } from "../db/client.ts";
import { claimUnpublished, markPublished } from "../db/outbox.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";

/** Queues take at most 100 messages per sendBatch. */
const MAX_BATCH = 100;

export interface RelayResult {
  published: number;
  batches: number;
}

export async function relayOutbox(
  db: Drizzle,
  queue: Pick<Queue<OutboxEventMessage>, "sendBatch">,
  opts: { batchSize: number; deadline: number },
): Promise<RelayResult> {
  const limit = Math.max(1, Math.min(opts.batchSize, MAX_BATCH));
  const out: RelayResult = { published: 0, batches: 0 };
  while (Date.now() < opts.deadline) {
    const n = await db.transaction(async (tx) => {
      const rows = await claimUnpublished(tx, limit);
      if (!rows.length) return 0;
      // Sent before the mark: if the send fails nothing is marked; if the commit fails the batch goes again.
      await queue.sendBatch(
        rows.map((r) => ({
          body: { kind: "outbox-event", outbox_id: r.id, event_type: r.event_type, aggregate_id: r.aggregate_id },
          contentType: "json" as const,
        })),
      );
      await markPublished(
        tx,
        rows.map((r) => r.id),
      );
      return rows.length;
    });
    out.published += n;
    if (n) out.batches++;
    if (n < limit) break;
  }
  return out;
}

/**
 * Coalescing per isolate: while a kick is running here, further kicks only ask it to go round once
 * more (no second connection, no pile of relays racing for the same rows). The loop runs inside the
 * first kick's waitUntil; other isolates run their own, and SKIP LOCKED keeps them apart.
 */
let running = false;
let again = false;

/** Publishes what the caller just committed. Never throws: the cron relay is the safety net. */
export async function kickOutboxRelay(env: Env, cfg: Config, log: Logger): Promise<void> {
  if (running) {
    again = true;
    return;
  }
  running = true;
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    const orm = await db.orm();
    do {
      again = false;
      await relayOutbox(orm, env.OUTBOX_EVENTS, { batchSize: MAX_BATCH, deadline: Date.now() + 10_000 });
    } while (again);
  } catch (err) {
    log.warn("outbox relay kick failed; the outbox-relay job will publish", { component: "outbox", ...errorFields(err) });
  } finally {
    running = false;
    again = false;
    await db.close();
  }
}
