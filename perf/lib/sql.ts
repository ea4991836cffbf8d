/**
 * Captures the SQL a request issues by running the repo's own service functions
 * (src/services/catalog.service.ts → src/db/catalog.repo.ts) against a drizzle
 * instance whose "client" only records `query(config, values)` calls. The raw-SQL
 * baseline then replays exactly those statements (text, parameters, row mode and
 * drizzle's type parsers) with a pg.Pool: when the repo changes its SQL, the
 * baseline follows without anyone editing the harness.
 *
 * `recordSqlLive` does the same for code that needs real rows to get to its next statement (checkout):
 * it runs the function against the real database and notes which later parameters carry a value the
 * database produced (an id from `INSERT … RETURNING id`), so a replay swaps in its own.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import type { Drizzle } from "../../src/db/client.ts";
import * as schema from "../../src/db/schema.ts";
import { type Ref, withRefs } from "../floors/common.ts";

export interface RecordedQuery {
  config: pg.QueryConfig;
  values: unknown[];
  /**
   * Parameters that carry a value an earlier statement of the same request returned:
   * [parameter index, statement index, column (name, or index in array row mode), recorded value].
   * A replay replaces the recorded value (also inside a JSON parameter) with the one it got.
   */
  refs?: Ref[];
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs `run` against the real database at `url` (one connection, what it does is committed) and
 * records each statement with its parameters; a UUID a statement returned (first row) that a later
 * parameter contains becomes a ref. Types and row mode are recorded as the worker would send them.
 */
export async function recordSqlLive(url: string, run: (db: Drizzle) => Promise<unknown>): Promise<RecordedQuery[]> {
  const real = new pg.Client({ connectionString: url });
  await real.connect();
  const out: RecordedQuery[] = [];
  const firstRows: unknown[] = [];
  const client = {
    query: async (config: string | pg.QueryConfig, values?: unknown[]) => {
      const cfg = typeof config === "string" ? { text: config } : { ...config };
      const vals = values ?? cfg.values ?? [];
      const refs: NonNullable<RecordedQuery["refs"]> = [];
      vals.forEach((v, param) => {
        if (typeof v !== "string") return;
        firstRows.forEach((row, from) => {
          for (const [column, produced] of Object.entries((row ?? {}) as Record<string, unknown>)) {
            const col = Array.isArray(row) ? Number(column) : column;
            if (typeof produced === "string" && UUID.test(produced) && v.includes(produced)) refs.push([param, from, col, produced]);
          }
        });
      });
      out.push({ config: cfg, values: vals, ...(refs.length ? { refs } : {}) });
      const res = await real.query(cfg, vals);
      firstRows.push(res.rows[0]);
      return res;
    },
  };
  const db = drizzle({ client: client as unknown as pg.Client, schema }) as unknown as Drizzle;
  try {
    await run(db);
  } finally {
    await real.end();
  }
  return out;
}

/** Runs a request's statements in order on one connection, as the worker does (so BEGIN…COMMIT works). */
export async function replay(pool: pg.Pool, queries: RecordedQuery[]): Promise<void> {
  const client = await pool.connect();
  const firstRows: unknown[] = [];
  try {
    for (let k = 0; k < queries.length; k++) {
      const q = queries[k] as RecordedQuery;
      const res = await client.query({ ...q.config, values: withRefs(q.values, q.refs, firstRows) });
      firstRows.push(res.rows[0]);
    }
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
