/** Postgres error codes we turn into client errors (drizzle wraps driver errors in `cause`). */
export interface PgError {
  code: string;
  constraint?: string;
  detail?: string;
}

export function pgError(err: unknown): PgError | null {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return e as PgError;
  }
  return null;
}

export const UNIQUE_VIOLATION = "23505";
export const FOREIGN_KEY_VIOLATION = "23503";

/** Thrown by src/db/client.ts when no connection could be opened (refused, timed out, auth, shutdown). */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super("could not connect to the database", { cause });
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * How a database failure should be answered:
 * - `unavailable`: Postgres cannot serve now (no connection, shutdown, too many clients, timeouts) → 503 + Retry-After;
 * - `contention`: another transaction holds the data (lock_timeout, deadlock, serialization) → 409 + Retry-After;
 *   the statement failed, so its transaction rolled back;
 * - `input`: a data exception (class 22) caused by a value in the request → 400. Validation should stop these first.
 */
export interface DbFailure {
  kind: "unavailable" | "contention" | "input";
  /** SQLSTATE or driver error code, when there is one. */
  code: string | undefined;
  retryAfterSec: number;
}

const CONTENTION = new Set(["55P03", "40P01", "40001"]);
/** Server busy rather than gone: a shorter Retry-After. */
const SATURATED = new Set(["53300", "53400", "57014"]);
/** Connection exceptions, insufficient resources, operator intervention (shutdown, cannot connect now), system errors. */
const UNAVAILABLE = /^(08|53|57P|58)/;
/** Errors without a SQLSTATE: the driver's or the runtime's socket errors and timeouts. */
const CONNECTION_LOST =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|Connection terminated|connection timeout|timeout expired|Query read timeout|Network connection lost|cannot connect to the specified address|socket hang up|Client has encountered a connection error|Client was closed/i;
const TIMEOUT = /timeout/i;

export function dbFailure(err: unknown): DbFailure | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return { kind: "unavailable", code: undefined, retryAfterSec: 5 };
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && /\d/.test(code)) {
      if (CONTENTION.has(code)) return { kind: "contention", code, retryAfterSec: 1 };
      if (SATURATED.has(code)) return { kind: "unavailable", code, retryAfterSec: 2 };
      if (UNAVAILABLE.test(code)) return { kind: "unavailable", code, retryAfterSec: 5 };
      if (code.startsWith("22")) return { kind: "input", code, retryAfterSec: 0 };
      return null;
    }
    const text = `${typeof code === "string" ? code : ""} ${e instanceof Error ? e.message : ""}`;
    if (CONNECTION_LOST.test(text)) {
      return { kind: "unavailable", code: typeof code === "string" ? code : undefined, retryAfterSec: TIMEOUT.test(text) ? 2 : 5 };
    }
  }
  return null;
}
