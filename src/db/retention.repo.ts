/** Retention deletes, one bounded batch per call (a long DELETE would hold locks and bloat WAL at once). */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type RetainedTable = "login_throttle" | "webhook_events" | "outbox";

/** Deletes up to `limit` rows of `table` that are past `retentionSec`; returns how many went. */
export async function deleteExpiredBatch(db: Drizzle, table: RetainedTable, retentionSec: number, limit: number): Promise<number> {
  const cutoff = sql`now() - make_interval(secs => ${retentionSec})`;
  const query = {
    // Idle counters only: an active lockout stays whatever its age.
    login_throttle: sql`DELETE FROM login_throttle WHERE key IN (
      SELECT key FROM login_throttle WHERE last_failure_at < ${cutoff} AND (locked_until IS NULL OR locked_until < now()) LIMIT ${limit})`,
    // Finished events only: RECEIVED and FAILED ones are work or evidence.
    webhook_events: sql`DELETE FROM webhook_events WHERE id IN (
      SELECT id FROM webhook_events WHERE status IN ('PROCESSED', 'IGNORED') AND processed_at < ${cutoff} LIMIT ${limit})`,
    // Published rows only: an unpublished event is never dropped.
    outbox: sql`DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ${cutoff} LIMIT ${limit})`,
  }[table];
  const res = await db.execute(query);
  return res.rowCount ?? 0;
}
