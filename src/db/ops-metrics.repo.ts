/**
 * The exact, global figures `GET /metrics` exposes, read in one statement (one round trip). Each part
 * reads an index: orders_status_created_idx, webhook_events_status_idx, dead_letters_status_seen_idx,
 * outbox_unpublished_idx, report_refreshes_finished_idx. The orders count is the costliest (one index
 * entry per order); /metrics caches the result (METRICS_CACHE_SEC).
 */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export interface StateFigures {
  /** status → orders (statuses with none are absent). */
  orders: Record<string, number>;
  /** Payment webhook events stored and not applied yet (RECEIVED). */
  webhook_backlog: number;
  /** Age of the oldest RECEIVED event, seconds (null when there is none). */
  webhook_backlog_oldest_sec: number | null;
  /** queue → dead letters waiting (DEAD). */
  dead_letters: Record<string, number>;
  outbox_unpublished: number;
  /** Age of the oldest unpublished outbox row, seconds (null when everything is published). */
  outbox_oldest_unpublished_sec: number | null;
  /** When the sales views were last refreshed (unix seconds; null before the first refresh). */
  reports_last_refresh: number | null;
  /** Enabled outbound webhook endpoints (each has a circuit breaker), at most `endpointLimit`. */
  endpoint_ids: string[];
}

export async function readStateFigures(db: Drizzle, endpointLimit: number): Promise<StateFigures> {
  const res = await db.execute<Record<string, unknown>>(sql`
    SELECT
      (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
         FROM (SELECT status::text AS status, count(*)::int AS n FROM orders GROUP BY status) o) AS orders,
      (SELECT count(*)::int FROM webhook_events WHERE status = 'RECEIVED') AS webhook_backlog,
      (SELECT extract(epoch FROM now() - min(received_at))::float8 FROM webhook_events WHERE status = 'RECEIVED')
        AS webhook_backlog_oldest_sec,
      (SELECT coalesce(jsonb_object_agg(queue, n), '{}'::jsonb)
         FROM (SELECT queue, count(*)::int AS n FROM dead_letters WHERE status = 'DEAD' GROUP BY queue) d) AS dead_letters,
      (SELECT count(*)::int FROM outbox WHERE published_at IS NULL) AS outbox_unpublished,
      (SELECT extract(epoch FROM now() - created_at)::float8 FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1)
        AS outbox_oldest_unpublished_sec,
      (SELECT extract(epoch FROM max(finished_at))::float8 FROM report_refreshes) AS reports_last_refresh,
      (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb)
         FROM (SELECT id::text AS id FROM webhook_endpoints WHERE enabled ORDER BY id LIMIT ${endpointLimit}) e) AS endpoint_ids`);
  const row = res.rows[0] ?? {};
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    orders: (row.orders ?? {}) as Record<string, number>,
    webhook_backlog: num(row.webhook_backlog) ?? 0,
    webhook_backlog_oldest_sec: num(row.webhook_backlog_oldest_sec),
    dead_letters: (row.dead_letters ?? {}) as Record<string, number>,
    outbox_unpublished: num(row.outbox_unpublished) ?? 0,
    outbox_oldest_unpublished_sec: num(row.outbox_oldest_unpublished_sec),
    reports_last_refresh: num(row.reports_last_refresh),
    endpoint_ids: (row.endpoint_ids ?? []) as string[],
  };
}
