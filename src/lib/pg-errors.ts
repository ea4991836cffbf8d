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
