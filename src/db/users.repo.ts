/** SQL for accounts (roles, token versions) and the shared failed-login counters. */
import { eq, type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";
import { type User, users } from "./schema.ts";

type Role = User["role"];

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

/** An account found by support staff, with its sign-in lock state (`acct:<email>` counter). */
export interface AccountLookupRow {
  user: User;
  failures: number;
  lockedUntil: Date | null;
}

/** ADMIN: accounts whose email contains `fragment` (case-insensitive), exact matches first, then by email; at most `limit`. */
export async function findAccountsByEmail(db: Drizzle, fragment: string, limit: number): Promise<AccountLookupRow[]> {
  const like = `%${fragment.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const rows = await db
    .select({ user: users, failures: sql<number>`coalesce(t.failures, 0)::int`, lockedUntil: sql<Date | null>`t.locked_until` })
    .from(users)
    .leftJoin(sql`login_throttle t`, sql`t.key = 'acct:' || ${users.email}`)
    .where(sql`${users.email} ILIKE ${like}`)
    .orderBy(sql`${users.email} = ${fragment.toLowerCase()} DESC`, users.email)
    .limit(limit);
  return rows.map((r) => ({ user: r.user, failures: r.failures, lockedUntil: r.lockedUntil ? new Date(r.lockedUntil) : null }));
}

/** One failed-login counter: its key (`acct:<email>`, `ip:<client>`) and its thresholds. */
export interface ThrottleRule {
  key: string;
  /** Failures that lock the key for `lockoutSec`. */
  max: number;
  /** Failures from which each one locks the key for 1 s, 2 s, 4 s, … */
  delayAfter: number;
  lockoutSec: number;
}

/** locked_until for a key at `failures` failures, the last one at `at`. A delay never exceeds the lockout. */
const lockFor = (r: ThrottleRule, failures: SQL, at: SQL) => sql`CASE
      WHEN ${failures} >= ${r.max} THEN ${at} + make_interval(secs => ${r.lockoutSec})
      WHEN ${failures} >= ${r.delayAfter}
        THEN ${at} + make_interval(secs => least(power(2, least(${failures} - ${r.delayAfter}, 30)), ${r.lockoutSec}))
      ELSE NULL END`;

class Locked extends Error {
  readonly waitSec: number;
  constructor(waitSec: number) {
    super("login key locked");
    this.waitSec = waitSec;
  }
}

/**
 * Reserves one login attempt on every key, all or nothing, before the password is checked: 0 when
 * reserved, else the seconds until the longest lock among them ends (nothing is counted then).
 * Each key is one upsert that counts the attempt only if the key is not locked (the check and the
 * count are one statement, under the row lock), so N parallel guesses see the lock that the earlier
 * ones set: at most the threshold is ever evaluated. Keys are taken in a fixed order (no deadlock);
 * a refusal rolls the transaction back, so a key counted before a locked one is not charged either.
 * The reservation stands as a failure; a success clears it (`clearLoginFailures`) or gives it back
 * (`releaseLoginAttempt`). Failures older than the lockout window are forgotten.
 */
export async function reserveLoginAttempt(db: Drizzle, rules: ThrottleRule[]): Promise<number> {
  const ordered = [...rules].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  try {
    await db.transaction(async (tx) => {
      for (const r of ordered) {
        const n = sql`(CASE WHEN login_throttle.last_failure_at < now() - make_interval(secs => ${r.lockoutSec}) THEN 1 ELSE login_throttle.failures + 1 END)`;
        const counted = await tx.execute(sql`
          INSERT INTO login_throttle AS login_throttle (key, failures, last_failure_at, locked_until)
          VALUES (${r.key}, 1, now(), ${lockFor(r, sql`1`, sql`now()`)})
          ON CONFLICT (key) DO UPDATE SET failures = ${n}, last_failure_at = now(), locked_until = ${lockFor(r, n, sql`now()`)}
          WHERE login_throttle.locked_until IS NULL OR login_throttle.locked_until <= now()
          RETURNING 1`);
        if (counted.rows.length) continue;
        // Locked (ON CONFLICT locked the row for this transaction even so: its lock cannot move now).
        const keys = sql.join(
          ordered.map((o) => sql`${o.key}`),
          sql`, `,
        );
        const rows = await tx.execute<{ wait: number | null }>(sql`
          SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS wait
          FROM login_throttle WHERE key IN (${keys}) AND locked_until > now()`);
        throw new Locked(Math.max(1, rows.rows[0]?.wait ?? 1));
      }
    });
    return 0;
  } catch (err) {
    if (err instanceof Locked) return err.waitSec;
    throw err;
  }
}

/**
 * Gives back one reserved attempt (the password was right, on a key that a success does not
 * clear: the client IP). The lock is recomputed for the lower count, so successes never lock.
 */
export async function releaseLoginAttempt(db: Drizzle, r: ThrottleRule): Promise<void> {
  const n = sql`(login_throttle.failures - 1)`;
  await db.execute(sql`
    UPDATE login_throttle SET failures = greatest(${n}, 0), locked_until = ${lockFor(r, n, sql`login_throttle.last_failure_at`)}
    WHERE key = ${r.key} AND failures > 0`);
}

/** Deletes a key's counter (and its lock); true when there was one. */
export async function clearLoginFailures(db: Drizzle, key: string): Promise<boolean> {
  const res = await db.execute(sql`DELETE FROM login_throttle WHERE key = ${key}`);
  return (res.rowCount ?? 0) > 0;
}

/** What authentication needs from an account: its role and token version (null: no such account). */
export async function findAccessState(db: Drizzle, id: string): Promise<{ role: Role; tokenVersion: number } | null> {
  const rows = await db.select({ role: users.role, tokenVersion: users.tokenVersion }).from(users).where(eq(users.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Revokes every token of the account (bumps token_version); null when there is no such account. */
export async function bumpTokenVersion(db: Drizzle, id: string): Promise<User | null> {
  const [row] = await db
    .update(users)
    .set({ tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: sql`now()` })
    .where(eq(users.id, id))
    .returning();
  return row ?? null;
}

/** A new password hash and a bumped token_version (every older token is revoked), in one statement. */
export async function replacePassword(db: Drizzle, id: string, passwordHash: string): Promise<User | null> {
  const [row] = await db
    .update(users)
    .set({ passwordHash, tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: sql`now()` })
    .where(eq(users.id, id))
    .returning();
  return row ?? null;
}

export type RoleChange = { outcome: "changed" | "unchanged"; user: User } | { outcome: "not_found" } | { outcome: "last_admin" };

/**
 * Sets an account's role and bumps its token_version (unless it already has that role). Never
 * leaves the system without an ADMIN: every ADMIN row (and the target) is locked first, in id
 * order, so concurrent demotions serialise and each one counts the admins that really remain.
 */
export async function changeRole(db: Drizzle, id: string, role: Role): Promise<RoleChange> {
  return db.transaction(async (tx): Promise<RoleChange> => {
    const locked = await tx.execute<{ id: string; role: Role }>(sql`
      SELECT id, role FROM users WHERE role = 'ADMIN' OR id = ${id} ORDER BY id FOR UPDATE`);
    const target = locked.rows.find((r) => r.id === id);
    if (!target) return { outcome: "not_found" };
    if (target.role === role) {
      const [user] = await tx.select().from(users).where(eq(users.id, id));
      if (!user) throw new Error("locked account vanished");
      return { outcome: "unchanged", user };
    }
    if (target.role === "ADMIN" && locked.rows.filter((r) => r.role === "ADMIN").length <= 1) return { outcome: "last_admin" };
    const [user] = await tx
      .update(users)
      .set({ role, tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: sql`now()` })
      .where(eq(users.id, id))
      .returning();
    if (!user) throw new Error("locked account vanished");
    return { outcome: "changed", user };
  });
}
