/**
 * One Postgres connection per request through Hyperdrive (Workers cannot share
 * I/O objects across requests). It connects on first use and is closed after
 * the response via `waitUntil`, so routes that never touch the database pay nothing.
 */
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { DatabaseUnavailableError } from "../lib/pg-errors.ts";
import * as schema from "./schema.ts";

export type Drizzle = NodePgDatabase<typeof schema>;

export interface Database {
  /** The drizzle instance (connects on first call). */
  orm(): Promise<Drizzle>;
  /** The raw pg client (connects on first call). */
  client(): Promise<pg.Client>;
  /** Whether a connection was opened (or is being opened). */
  isOpen(): boolean;
  /** Closes the connection if one was opened. */
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Statement timeout (server) and read timeout (client) of every query. */
  queryTimeoutMs: number;
  /** Longest wait for a lock (`lock_timeout`); below queryTimeoutMs so a lock wait fails as 55P03, not as a timeout. */
  lockTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** The connection settings from the app's config: one place for the API, the consumers and the jobs. */
export function databaseOptions(cfg: { DB_QUERY_TIMEOUT_MS: number; DB_LOCK_TIMEOUT_MS: number }): DatabaseOptions {
  return { queryTimeoutMs: cfg.DB_QUERY_TIMEOUT_MS, lockTimeoutMs: cfg.DB_LOCK_TIMEOUT_MS };
}

export function createDatabase(hyperdrive: Hyperdrive, opts: DatabaseOptions): Database {
  let connecting: Promise<pg.Client> | undefined;
  let orm: Drizzle | undefined;
  const client = () => {
    connecting ??= (async () => {
      const c = new pg.Client({
        connectionString: hyperdrive.connectionString,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? opts.queryTimeoutMs,
        query_timeout: opts.queryTimeoutMs,
        statement_timeout: opts.queryTimeoutMs,
        ...(opts.lockTimeoutMs ? { lock_timeout: opts.lockTimeoutMs } : {}),
      });
      // A dropped connection after the response is not the request's failure.
      c.on("error", () => {});
      try {
        await c.connect();
      } catch (err) {
        connecting = undefined;
        // Whatever the cause (refused, timed out, shut down, too many clients): the request cannot be served now.
        throw new DatabaseUnavailableError(err);
      }
      return c;
    })();
    return connecting;
  };
  return {
    client,
    isOpen: () => connecting !== undefined,
    async orm() {
      const c = await client();
      orm ??= drizzle(c, { schema });
      return orm;
    },
    async close() {
      const pending = connecting;
      connecting = undefined;
      if (!pending) return;
      try {
        await (await pending).end();
      } catch {
        // Already closed or never opened: nothing to release.
      }
    },
  };
}
