/**
 * One Postgres connection per request through Hyperdrive (Workers cannot share
 * I/O objects across requests). It connects on first use and is closed after
 * the response via `waitUntil`, so routes that never touch the database pay nothing.
 */
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema.ts";

export type Drizzle = NodePgDatabase<typeof schema>;

export interface Database {
  /** The drizzle instance (connects on first call). */
  orm(): Promise<Drizzle>;
  /** The raw pg client (connects on first call). */
  client(): Promise<pg.Client>;
  /** Closes the connection if one was opened. */
  close(): Promise<void>;
}

export function createDatabase(hyperdrive: Hyperdrive, opts: { queryTimeoutMs: number; connectTimeoutMs?: number }): Database {
  let connecting: Promise<pg.Client> | undefined;
  let orm: Drizzle | undefined;
  const client = () => {
    connecting ??= (async () => {
      const c = new pg.Client({
        connectionString: hyperdrive.connectionString,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? opts.queryTimeoutMs,
        query_timeout: opts.queryTimeoutMs,
        statement_timeout: opts.queryTimeoutMs,
      });
      // A dropped connection after the response is not the request's failure.
      c.on("error", () => {});
      try {
        await c.connect();
      } catch (err) {
        connecting = undefined;
        throw err;
      }
      return c;
    })();
    return connecting;
  };
  return {
    client,
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
