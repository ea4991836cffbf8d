/**
 * JSON log lines (one object per line, as Workers Logs and `wrangler tail` expect).
 * Callers pass fields; nothing here reads env, so secrets cannot leak by accident.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(level: LogLevel = "info", base: Record<string, unknown> = {}): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...base, ...fields });
    if (lvl === "error") console.error(line);
    else if (lvl === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (f) => createLogger(level, { ...base, ...f }),
  };
}

/**
 * Error details fit for a log line (never for a response): name, message and, on request,
 * the stack. Query-builder errors embed the SQL parameters (emails, hashes…) in their
 * message and stack, so the driver's cause is logged instead.
 */
export function errorFields(err: unknown, opts: { stack?: boolean } = {}): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: "non-error thrown" };
  const cause = (err as { cause?: unknown }).cause;
  const queryError = /^Failed query/.test(err.message) && cause instanceof Error;
  const source = queryError ? cause : err;
  return {
    error: err.name,
    error_message: source.message.slice(0, 300),
    ...(queryError ? { pg_code: (cause as { code?: string }).code } : {}),
    ...(opts.stack ? { stack: source.stack } : {}),
  };
}
