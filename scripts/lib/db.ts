/**
 * Database helpers shared by the dev server, the test global setup, the
 * benchmark harness and the db:* scripts. Node only (never bundled into the worker).
 */

import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));

/** A pg client that ignores the benign errors node-postgres emits after `end()`. */
export function client(url: string): pg.Client {
  const c = new pg.Client({ connectionString: url });
  c.on("error", (err) => {
    if (!/Stream was cancelled|socket has been closed|Connection terminated/i.test(err.message)) {
      console.error("[db] client error:", err.message);
    }
  });
  return c;
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = client(url);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Applies the SQL migrations in `migrations/` (append-only, tracked in __drizzle_migrations). */
export async function runMigrations(url: string): Promise<void> {
  await withClient(url, async (c) => {
    await migrate(drizzle(c), { migrationsFolder: MIGRATIONS_DIR, migrationsTable: "__drizzle_migrations", migrationsSchema: "public" });
  });
}

/** Returns `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a fresh, uniquely named database on the server of `url`; returns its URL. */
export async function createFreshDatabase(url: string, prefix: string): Promise<string> {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await withClient(withDatabase(url, "postgres"), (c) => c.query(`CREATE DATABASE "${name}"`));
  return withDatabase(url, name);
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await withClient(withDatabase(url, "postgres"), (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Creates the database named in `url` when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1) || "postgres";
  await withClient(withDatabase(url, "postgres"), async (c) => {
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await c.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  });
}

/** Hides the password of a connection string before it is printed. */
export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "****";
  return u.toString();
}
