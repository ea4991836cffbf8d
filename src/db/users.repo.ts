/** SQL for accounts and the shared failed-login counters. */
import { eq, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";
import { type User, users } from "./schema.ts";

export async function findUserByEmail(db: Drizzle, email: string): Promise<User | null> {
  const rows = await db.select().from(users).where(eq(users.email, email)).limit(1);
  return rows[0] ?? null;
}

export async function findUserById(db: Drizzle, id: string): Promise<User | null> {
  const rows = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return rows[0] ?? null;
}

export async function insertUser(db: Drizzle, u: { email: string; passwordHash: string; role?: "ADMIN" | "USER" }): Promise<User> {
  const [row] = await db.insert(users).values(u).returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

export async function updatePasswordHash(db: Drizzle, id: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash, updatedAt: sql`now()` }).where(eq(users.id, id));
}

/** Seconds until the longest active lock among `keys` ends (0 when none is locked). */
export async function lockedForSeconds(db: Drizzle, keys: string[]): Promise<number> {
  const rows = await db.execute<{ wait: number | null }>(sql`
    SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS wait
    FROM login_throttle WHERE key IN (${sql.join(
      keys.map((k) => sql`${k}`),
      sql`, `,
    )}) AND locked_until > now()`);
  return Math.max(0, rows.rows[0]?.wait ?? 0);
}

/**
 * Counts one failure for `key` atomically (one upsert; safe across isolates). Failures older
 * than the lockout window are forgotten. From `delayAfter` failures on, the key is locked for
 * 1 s, 2 s, 4 s, …; at `max` it is locked for `lockoutSec`.
 */
export async function recordLoginFailure(
  db: Drizzle,
  key: string,
  p: { max: number; delayAfter: number; lockoutSec: number },
): Promise<number> {
  const n = sql`(CASE WHEN login_throttle.last_failure_at < now() - make_interval(secs => ${p.lockoutSec}) THEN 1 ELSE login_throttle.failures + 1 END)`;
  const lock = (failures: ReturnType<typeof sql>) => sql`CASE
      WHEN ${failures} >= ${p.max} THEN now() + make_interval(secs => ${p.lockoutSec})
      WHEN ${failures} >= ${p.delayAfter} THEN now() + make_interval(secs => power(2, ${failures} - ${p.delayAfter})::int)
      ELSE NULL END`;
  const rows = await db.execute<{ failures: number }>(sql`
    INSERT INTO login_throttle AS login_throttle (key, failures, last_failure_at, locked_until)
    VALUES (${key}, 1, now(), ${lock(sql`1`)})
    ON CONFLICT (key) DO UPDATE SET failures = ${n}, last_failure_at = now(), locked_until = ${lock(n)}
    RETURNING failures`);
  return rows.rows[0]?.failures ?? 1;
}

export async function clearLoginFailures(db: Drizzle, key: string): Promise<void> {
  await db.execute(sql`DELETE FROM login_throttle WHERE key = ${key}`);
}
