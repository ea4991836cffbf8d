/**
 * One Postgres connection per request through Hyperdrive (Workers cannot share
 * I/O objects across requests). It connects on first use and is closed after
 * the response via `waitUntil`, so routes that never touch the database pay nothing.
 */
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { DatabaseUnavailableError } from "../lib/pg-errors.ts";

/**
 * Without the relational schema: nothing uses `db.query.*`, and passing the schema makes drizzle rebuild its
 * relational config on every connection (≈ 0.1 ms per request that touches the database, in the profile).
 */
export type Drizzle = NodePgDatabase;

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
  /** Called before connecting (the load-shedding gate, src/lib/load-shed.ts): may throw to refuse. */
  admit?: () => Promise<void>;
}

/** The connection settings from the app's config: one place for the API, the consumers and the jobs. */
export function databaseOptions(cfg: { DB_QUERY_TIMEOUT_MS: number; DB_LOCK_TIMEOUT_MS: number }): DatabaseOptions {
  return { queryTimeoutMs: cfg.DB_QUERY_TIMEOUT_MS, lockTimeoutMs: cfg.DB_LOCK_TIMEOUT_MS };
}

const parsed = new Map<string, pg.ClientConfig>();
/**
 * The connection string's parts, parsed once per isolate: given the string, pg parses it on every
 * request (≈ 0.1 ms of a cache miss's CPU in the profile, docs/performance.md). A string with options
 * (`?sslmode=…`) is left to pg.
 */
function connectionParts(connectionString: string): pg.ClientConfig {
  let parts = parsed.get(connectionString);
  if (!parts) {
    const u = new URL(connectionString);
    parts = u.search
      ? { connectionString }
      : {
          host: u.hostname.replace(/^\[|\]$/g, ""),
          port: Number(u.port || 5432),
          user: decodeURIComponent(u.username),
          password: decodeURIComponent(u.password),
          database: decodeURIComponent(u.pathname.slice(1)),
        };
    if (parsed.size > 16) parsed.clear();
    parsed.set(connectionString, parts);
  }
  return parts;
}

export function createDatabase(hyperdrive: Hyperdrive, opts: DatabaseOptions): Database {
  let connecting: Promise<pg.Client> | undefined;
  let orm: Drizzle | undefined;
  const client = () => {
    connecting ??= (async () => {
      await opts.admit?.();
      const c = new pg.Client({
        ...connectionParts(hyperdrive.connectionString),
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
      orm ??= drizzle(c);
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
