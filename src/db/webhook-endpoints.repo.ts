/** SQL of the webhook endpoints staff register (outbound webhooks). Secrets never leave through a DTO. */
import { type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

/** A timestamptz column as RFC 3339 UTC text with microseconds. */
export const iso = (expr: string): SQL => sql.raw(`to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

export type EndpointRow = {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
  created_at_key: string;
  /** The signing secrets: the current one, and the previous one while its grace period runs. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
};

const COLS = sql.join(
  [
    sql`e.id, e.url, e.description, e.events, e.enabled, e.disabled_reason, e.secret`,
    sql`CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret`,
    sql`CASE WHEN e.previous_secret_expires_at > now() THEN ${iso("e.previous_secret_expires_at")} END AS previous_secret_expires_at`,
    sql`${iso("e.disabled_at")} AS disabled_at, ${iso("e.failing_since")} AS failing_since`,
    sql`${iso("e.created_at")} AS created_at, ${iso("e.updated_at")} AS updated_at, e.created_at::text AS created_at_key`,
  ],
  sql`, `,
);

export async function insertEndpoint(
  db: Drizzle,
  e: { url: string; description: string; events: string[]; enabled: boolean; secret: string },
): Promise<EndpointRow> {
  const res = await db.execute<EndpointRow>(sql`
    WITH e AS (
      INSERT INTO webhook_endpoints (url, description, events, enabled, secret, disabled_reason, disabled_at)
      VALUES (${e.url}, ${e.description}, ${sql.param(e.events)}::text[], ${e.enabled}, ${e.secret},
              ${e.enabled ? null : "created disabled"}, ${e.enabled ? null : sql`now()`})
      RETURNING *
    ) SELECT ${COLS} FROM e`);
  return res.rows[0] as EndpointRow;
}

export async function getEndpoint(db: Drizzle, id: string): Promise<EndpointRow | null> {
  const res = await db.execute<EndpointRow>(sql`SELECT ${COLS} FROM webhook_endpoints e WHERE e.id = ${id}`);
  return res.rows[0] ?? null;
}

export async function listEndpoints(db: Drizzle, after: { createdAt: string; id: string } | null, limit: number): Promise<EndpointRow[]> {
  const where = after ? sql`WHERE (e.created_at, e.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)` : sql``;
  const res = await db.execute<EndpointRow>(sql`
    SELECT ${COLS} FROM webhook_endpoints e ${where} ORDER BY e.created_at DESC, e.id DESC LIMIT ${limit + 1}`);
  return res.rows;
}

/**
 * Applies a partial update. Enabling clears why it was disabled and its failure run (a fresh start);
 * disabling records `disabledReason`. Null when there is no such endpoint.
 */
export async function updateEndpoint(
  db: Drizzle,
  id: string,
  p: { url?: string | undefined; description?: string | undefined; events?: string[] | undefined; enabled?: boolean | undefined },
  disabledReason: string,
): Promise<EndpointRow | null> {
  const sets: SQL[] = [sql`updated_at = now()`];
  if (p.url !== undefined) sets.push(sql`url = ${p.url}`);
  if (p.description !== undefined) sets.push(sql`description = ${p.description}`);
  if (p.events !== undefined) sets.push(sql`events = ${sql.param(p.events)}::text[]`);
  if (p.enabled === true) sets.push(sql`enabled = true, disabled_reason = NULL, disabled_at = NULL, failing_since = NULL`);
  if (p.enabled === false) {
    sets.push(sql`enabled = false, disabled_reason = CASE WHEN enabled THEN ${disabledReason} ELSE disabled_reason END,
      disabled_at = CASE WHEN enabled THEN now() ELSE disabled_at END`);
  }
  const res = await db.execute<EndpointRow>(sql`
    WITH e AS (UPDATE webhook_endpoints SET ${sql.join(sets, sql`, `)} WHERE id = ${id} RETURNING *) SELECT ${COLS} FROM e`);
  return res.rows[0] ?? null;
}

export async function deleteEndpoint(db: Drizzle, id: string): Promise<boolean> {
  const res = await db.execute(sql`DELETE FROM webhook_endpoints WHERE id = ${id}`);
  return (res.rowCount ?? 0) > 0;
}

/** The current secret becomes the previous one, signing next to `secret` for `graceSec` (0: it stops at once). */
export async function rotateSecret(db: Drizzle, id: string, secret: string, graceSec: number): Promise<EndpointRow | null> {
  const res = await db.execute<EndpointRow>(sql`
    WITH e AS (
      UPDATE webhook_endpoints SET previous_secret = secret, secret = ${secret},
        previous_secret_expires_at = now() + make_interval(secs => ${graceSec}), updated_at = now()
      WHERE id = ${id} RETURNING *
    ) SELECT ${COLS} FROM e`);
  return res.rows[0] ?? null;
}

/** Enabled → disabled with `reason`; false when it was already disabled (or is gone): the caller notifies once. */
export async function disableEndpoint(db: Drizzle, id: string, reason: string): Promise<{ url: string } | null> {
  const res = await db.execute<{ url: string }>(sql`
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = ${reason}, disabled_at = now(), updated_at = now()
    WHERE id = ${id} AND enabled RETURNING url`);
  return res.rows[0] ?? null;
}
