/**
 * SQL of outbound webhook messages, deliveries and attempts. A delivery row is the truth about one
 * (event, endpoint): queue messages only say "look at it now", so a duplicate or stale message is
 * harmless (the claim refuses it) and a lost one is found again by the sweep.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";
import { iso } from "./webhook-endpoints.repo.ts";

/**
 * Copies published outbox events into webhook messages (once per event) and creates one delivery per
 * enabled endpoint whose filter matches and that existed when the event happened. Returns every
 * delivery of these events that has not been attempted yet, new or not: a second publication of an
 * event (at-least-once) re-sends their messages if the first fan-out died before sending them.
 */
export async function fanOutWebhooks(tx: Drizzle, outboxIds: number[]): Promise<string[]> {
  const ids = sql`${sql.param(outboxIds)}::bigint[]`;
  await tx.execute(sql`
    INSERT INTO webhook_messages (outbox_id, event_type, payload, occurred_at)
    SELECT id, event_type, payload, created_at FROM outbox WHERE id = ANY(${ids})
    ON CONFLICT (outbox_id) DO NOTHING`);
  await tx.execute(sql`
    INSERT INTO webhook_deliveries (message_id, endpoint_id)
    SELECT m.id, e.id FROM webhook_messages m
    JOIN webhook_endpoints e ON e.enabled AND e.created_at <= m.occurred_at AND ('*' = ANY(e.events) OR m.event_type = ANY(e.events))
    WHERE m.outbox_id = ANY(${ids})
    ON CONFLICT (message_id, endpoint_id) DO NOTHING`);
  const res = await tx.execute<{ id: string }>(sql`
    SELECT d.id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
    WHERE m.outbox_id = ANY(${ids}) AND d.status = 'PENDING' AND d.attempts = 0 AND d.lease_until IS NULL`);
  return res.rows.map((r) => r.id);
}

/** A `ping` message for one endpoint (no outbox row) and its delivery. */
export async function insertPing(db: Drizzle, endpointId: string, payload: unknown): Promise<string> {
  const res = await db.execute<{ id: string }>(sql`
    WITH m AS (
      INSERT INTO webhook_messages (event_type, payload, occurred_at) VALUES ('ping', ${JSON.stringify(payload)}::jsonb, now()) RETURNING id
    ) INSERT INTO webhook_deliveries (message_id, endpoint_id) SELECT m.id, ${endpointId} FROM m RETURNING id`);
  return (res.rows[0] as { id: string }).id;
}

export type ClaimedDelivery = {
  id: string;
  /** Attempts made before this one. */
  attempts: number;
  endpoint_id: string;
  url: string;
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  event_type: string;
  payload: unknown;
  occurred_at: string;
};

/**
 * Leases the deliveries among `ids` that are PENDING, due (within 2 s: queue delays are whole
 * seconds) and not leased by another attempt. Anything else — delivered, failed, not due (a stale
 * duplicate message), in flight elsewhere — is not returned: its message is simply acknowledged.
 */
export async function claimDeliveries(db: Drizzle, ids: string[], leaseSec: number): Promise<ClaimedDelivery[]> {
  const res = await db.execute<ClaimedDelivery>(sql`
    WITH c AS (
      UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => ${leaseSec}), updated_at = now()
      WHERE d.id = ANY(${sql.param(ids)}::uuid[]) AND d.status = 'PENDING' AND (d.lease_until IS NULL OR d.lease_until < now())
        AND d.next_attempt_at <= now() + interval '2 seconds'
      RETURNING d.id, d.message_id, d.endpoint_id, d.attempts
    )
    SELECT c.id, c.attempts, e.id AS endpoint_id, e.url, e.enabled, e.secret,
           CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret,
           m.event_type, m.payload, ${iso("m.occurred_at")} AS occurred_at
    FROM c JOIN webhook_endpoints e ON e.id = c.endpoint_id JOIN webhook_messages m ON m.id = c.message_id`);
  return res.rows;
}

export type AttemptRecord = {
  deliveryId: string;
  status: "PENDING" | "DELIVERED" | "FAILED";
  outcome: "delivered" | "retry" | "failed" | "gone";
  startedAt: string;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  nextAttemptAt: string | null;
  /** Did the receiver take it (2xx)? Moves the endpoint's run of failures. */
  ok: boolean;
};

/**
 * Stores attempts and their consequences in one statement: the attempt rows, each delivery's new
 * state (lease released), and each endpoint's failure run — started by a failure, cleared by any
 * success among these attempts, written only when it changes (a healthy endpoint's row is not
 * rewritten per delivery). Returns per delivery its attempt count and how long its endpoint has been
 * failing (null when it succeeded here).
 */
export async function recordAttempts(
  db: Drizzle,
  records: AttemptRecord[],
): Promise<Map<string, { attempts: number; failing_for_sec: number | null }>> {
  if (!records.length) return new Map();
  const rows = JSON.stringify(
    records.map((a) => ({
      delivery_id: a.deliveryId,
      status: a.status,
      outcome: a.outcome,
      started_at: a.startedAt,
      duration_ms: a.durationMs,
      response_status: a.responseStatus,
      response_body: a.responseBody,
      error: a.error,
      next_attempt_at: a.nextAttemptAt,
      ok: a.ok,
    })),
  );
  const res = await db.execute<{ id: string; attempts: number; failing_for_sec: number | null }>(sql`
    WITH r AS (
      SELECT * FROM jsonb_to_recordset(${rows}::jsonb) AS r(delivery_id uuid, status text, outcome text, started_at timestamptz,
        duration_ms int, response_status int, response_body text, error text, next_attempt_at timestamptz, ok boolean)
    ), d AS (
      UPDATE webhook_deliveries w SET status = r.status::webhook_delivery_status, attempts = w.attempts + 1,
        next_attempt_at = coalesce(r.next_attempt_at, w.next_attempt_at), lease_until = NULL, last_status = r.response_status,
        last_error = r.error, delivered_at = CASE WHEN r.status = 'DELIVERED' THEN now() ELSE w.delivered_at END, updated_at = now()
      FROM r WHERE w.id = r.delivery_id RETURNING w.id, w.endpoint_id, w.attempts
    ), ins AS (
      INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, duration_ms, response_status, response_body, error, outcome, next_attempt_at)
      SELECT d.id, d.attempts, r.started_at, r.duration_ms, r.response_status, r.response_body, r.error, r.outcome, r.next_attempt_at
      FROM d JOIN r ON r.delivery_id = d.id
    ), health AS (
      SELECT d.endpoint_id, bool_or(r.ok) AS any_ok FROM d JOIN r ON r.delivery_id = d.id GROUP BY d.endpoint_id
    ), run AS (
      UPDATE webhook_endpoints e SET failing_since = CASE WHEN h.any_ok THEN NULL ELSE now() END
      FROM health h WHERE e.id = h.endpoint_id AND (e.failing_since IS NULL) <> h.any_ok
    )
    SELECT d.id, d.attempts,
           CASE WHEN h.any_ok THEN NULL ELSE extract(epoch FROM now() - coalesce(e.failing_since, now()))::float8 END AS failing_for_sec
    FROM d JOIN health h ON h.endpoint_id = d.endpoint_id JOIN webhook_endpoints e ON e.id = d.endpoint_id`);
  return new Map(res.rows.map((r) => [r.id, { attempts: r.attempts, failing_for_sec: r.failing_for_sec }]));
}

/** The endpoint is disabled (or gone): the delivery is not attempted. Replay or retry can bring it back. */
export async function cancelDeliveries(db: Drizzle, ids: string[], reason: string): Promise<void> {
  await db.execute(sql`
    UPDATE webhook_deliveries SET status = 'CANCELLED', lease_until = NULL, last_error = ${reason}, updated_at = now()
    WHERE id = ANY(${sql.param(ids)}::uuid[]) AND status = 'PENDING'`);
}

/** Held back without an attempt (breaker open, concurrency cap): lease released, due again in `delaySec`. */
export async function deferDeliveries(db: Drizzle, ids: string[], delaySec: number): Promise<void> {
  await db.execute(sql`
    UPDATE webhook_deliveries SET lease_until = NULL, next_attempt_at = now() + make_interval(secs => ${delaySec}), updated_at = now()
    WHERE id = ANY(${sql.param(ids)}::uuid[]) AND status = 'PENDING'`);
}

export type DeliveryRow = {
  id: string;
  webhook_id: string;
  message_id: string;
  event_type: string;
  status: "PENDING" | "DELIVERED" | "FAILED" | "CANCELLED";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  created_at_key: string;
  attempt_log: {
    attempt: number;
    started_at: string;
    duration_ms: number;
    response_status: number | null;
    response_body: string | null;
    error: string | null;
    outcome: AttemptRecord["outcome"];
    next_attempt_at: string | null;
  }[];
};

const DELIVERY_SELECT = sql`
  SELECT d.id, 'msg_' || replace(d.id::text, '-', '') AS webhook_id, d.message_id, m.event_type, d.status::text AS status, d.attempts,
         d.last_status, d.last_error, CASE WHEN d.status = 'PENDING' THEN ${iso("d.next_attempt_at")} END AS next_attempt_at,
         ${iso("d.delivered_at")} AS delivered_at, ${iso("d.created_at")} AS created_at, d.created_at::text AS created_at_key,
         COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'started_at', ${iso("a.started_at")}, 'duration_ms', a.duration_ms,
                     'response_status', a.response_status, 'response_body', a.response_body, 'error', a.error, 'outcome', a.outcome,
                     'next_attempt_at', ${iso("a.next_attempt_at")}) ORDER BY a.attempt)
                   FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS attempt_log
  FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id`;

/** An endpoint's deliveries, newest first (keyset over created_at, id), each with its attempts. */
export async function listDeliveries(
  db: Drizzle,
  endpointId: string,
  f: { status?: string | undefined },
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<DeliveryRow[]> {
  const where: SQL[] = [sql`d.endpoint_id = ${endpointId}`];
  if (f.status) where.push(sql`d.status = ${f.status}::webhook_delivery_status`);
  if (after) where.push(sql`(d.created_at, d.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  const res = await db.execute<DeliveryRow>(sql`${DELIVERY_SELECT} WHERE ${sql.join(where, sql` AND `)}
    ORDER BY d.created_at DESC, d.id DESC LIMIT ${limit + 1}`);
  return res.rows;
}

export async function getDelivery(db: Drizzle, id: string): Promise<DeliveryRow | null> {
  const res = await db.execute<DeliveryRow>(sql`${DELIVERY_SELECT} WHERE d.id = ${id}`);
  return res.rows[0] ?? null;
}

/**
 * Makes one delivery due now (a manual retry: one more attempt, and the rest of the schedule if any
 * is left), and marks its dead letter replayed. `in_flight` while an attempt holds it; `disabled`
 * when its endpoint is.
 */
export async function resetDelivery(db: Drizzle, id: string): Promise<"reset" | "missing" | "in_flight" | "disabled"> {
  const res = await db.execute<{ state: string }>(sql`
    WITH cur AS (
      SELECT d.id, e.enabled, (d.status = 'PENDING' AND d.lease_until > now()) AS leased
      FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ${id} FOR UPDATE OF d
    ), upd AS (
      UPDATE webhook_deliveries d SET status = 'PENDING', next_attempt_at = now(), lease_until = NULL, updated_at = now()
      FROM cur WHERE d.id = cur.id AND cur.enabled AND NOT cur.leased RETURNING d.id
    ), dl AS (
      UPDATE dead_letters SET status = 'REPLAYED', replayed_at = now()
      WHERE status = 'DEAD' AND message_key IN (SELECT 'delivery:' || id::text FROM upd)
    )
    SELECT CASE WHEN NOT enabled THEN 'disabled' WHEN leased THEN 'in_flight' ELSE 'reset' END AS state FROM cur`);
  return (res.rows[0]?.state as "reset" | "in_flight" | "disabled" | undefined) ?? "missing";
}

/**
 * Replay for one endpoint: every event since `since` it did not get is delivered — deliveries that
 * failed or were cancelled are made due again (dead letters marked replayed), and events that never
 * got a delivery to it (it was disabled, or filtered them out) get one. At most `limit` of each per
 * call: a second call continues. Null when the endpoint is missing or disabled.
 */
export async function replayEndpoint(db: Drizzle, endpointId: string, since: string, limit: number): Promise<string[] | null> {
  const res = await db.execute<{ id: string | null; found: boolean }>(sql`
    WITH ep AS (SELECT id, events FROM webhook_endpoints WHERE id = ${endpointId} AND enabled),
    missing AS (
      INSERT INTO webhook_deliveries (message_id, endpoint_id)
      SELECT m.id, ep.id FROM webhook_messages m, ep
      WHERE m.occurred_at >= ${since}::timestamptz AND m.outbox_id IS NOT NULL AND ('*' = ANY(ep.events) OR m.event_type = ANY(ep.events))
      ORDER BY m.occurred_at LIMIT ${limit}
      ON CONFLICT (message_id, endpoint_id) DO NOTHING RETURNING id
    ), reset AS (
      UPDATE webhook_deliveries d SET status = 'PENDING', next_attempt_at = now(), lease_until = NULL, updated_at = now()
      WHERE d.id IN (
        SELECT d2.id FROM webhook_deliveries d2 JOIN webhook_messages m ON m.id = d2.message_id JOIN ep ON ep.id = d2.endpoint_id
        WHERE d2.status IN ('FAILED', 'CANCELLED') AND m.occurred_at >= ${since}::timestamptz ORDER BY m.occurred_at LIMIT ${limit}
      ) RETURNING d.id
    ), dl AS (
      UPDATE dead_letters SET status = 'REPLAYED', replayed_at = now()
      WHERE status = 'DEAD' AND message_key IN (SELECT 'delivery:' || id::text FROM reset)
    )
    SELECT id, true AS found FROM missing UNION ALL SELECT id, true FROM reset
    UNION ALL SELECT NULL, EXISTS (SELECT 1 FROM ep)`);
  if (!res.rows.some((r) => r.found)) return null;
  return res.rows.flatMap((r) => (r.id ? [r.id] : []));
}

/**
 * Deliveries due longer than `afterSec` ago and not in flight: their queue message was lost (a send
 * that failed after the commit, a message past its retries). Each is made due now and returned to be
 * queued again; taken with SKIP LOCKED, and only once per `afterSec`.
 */
export async function sweepDueDeliveries(db: Drizzle, afterSec: number, limit: number): Promise<string[]> {
  const res = await db.execute<{ id: string }>(sql`
    UPDATE webhook_deliveries d SET next_attempt_at = now(), updated_at = now()
    FROM (
      SELECT id FROM webhook_deliveries
      WHERE status = 'PENDING' AND next_attempt_at < now() - make_interval(secs => ${afterSec}) AND (lease_until IS NULL OR lease_until < now())
      ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ) due WHERE d.id = due.id RETURNING d.id`);
  return res.rows.map((r) => r.id);
}

/** A delivery whose messages kept failing (dead-lettered by the queue): FAILED, kept for replay. */
export async function failDelivery(db: Drizzle, id: string, error: string): Promise<{ attempts: number } | null> {
  const res = await db.execute<{ attempts: number }>(sql`
    UPDATE webhook_deliveries SET status = 'FAILED', lease_until = NULL, last_error = ${error}, updated_at = now()
    WHERE id = ${id} AND status = 'PENDING' RETURNING attempts`);
  return res.rows[0] ?? null;
}

export async function deliveryStats(db: Drizzle): Promise<Record<string, number | null>> {
  const res = await db.execute<Record<string, number | null>>(sql`
    SELECT count(*) FILTER (WHERE status = 'PENDING')::int AS webhook_deliveries_pending,
           count(*) FILTER (WHERE status = 'FAILED')::int AS webhook_deliveries_failed,
           extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE status = 'PENDING'))::float8 AS webhook_oldest_due_age_sec,
           (SELECT count(*) FROM webhook_endpoints WHERE NOT enabled)::int AS webhook_endpoints_disabled
    FROM webhook_deliveries`);
  return res.rows[0] ?? {};
}

/** Retention: messages older than `retentionSec` whose deliveries are all finished (cascades to deliveries and attempts). */
export async function deleteOldMessages(db: Drizzle, retentionSec: number, limit: number): Promise<number> {
  const res = await db.execute(sql`
    DELETE FROM webhook_messages WHERE id IN (
      SELECT m.id FROM webhook_messages m WHERE m.created_at < now() - make_interval(secs => ${retentionSec})
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id AND d.status = 'PENDING')
      LIMIT ${limit})`);
  return res.rowCount ?? 0;
}
