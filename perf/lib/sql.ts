/**
 * Captures the SQL a request issues by running the repo's own service functions
 * (src/services/catalog.service.ts → src/db/catalog.repo.ts) against a drizzle
 * instance whose "client" only records `query(config, values)` calls. The raw-SQL
 * baseline then replays exactly those statements (text, parameters, row mode and
 * drizzle's type parsers) with a pg.Pool: when the repo changes its SQL, the
 * baseline follows without anyone editing the harness.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Drizzle } from "../../src/db/client.ts";
import * as schema from "../../src/db/schema.ts";

export interface RecordedQuery {
  config: pg.QueryConfig;
  values: unknown[];
}

export async function recordSql(run: (db: Drizzle) => Promise<unknown>): Promise<RecordedQuery[]> {
  const out: RecordedQuery[] = [];
  const client = {
    query: async (config: string | pg.QueryConfig, values?: unknown[]) => {
      out.push({ config: typeof config === "string" ? { text: config } : { ...config }, values: values ?? [] });
      return { rows: [], fields: [], rowCount: 0, command: "SELECT" };
    },
  };
  const db = drizzle({ client: client as unknown as pg.Client, schema }) as unknown as Drizzle;
  try {
    await run(db);
  } catch {
    // e.g. productDetail throws not_found on the empty result: the query was recorded before that.
  }
  if (!out.length) throw new Error("recordSql: the function issued no SQL");
  return out;
}

/** Runs a request's statements in order on one connection, as the worker does (so BEGIN…COMMIT works). */
export async function replay(pool: pg.Pool, queries: RecordedQuery[]): Promise<void> {
  const client = await pool.connect();
  try {
    for (const q of queries) await client.query({ ...q.config, values: q.values as unknown[] });
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
