/** Sentry for HTTP: the error handler (src/app.ts) reports every 5xx it renders, with the request's context. */
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../app-env.ts";
import { reportError } from "../lib/sentry.ts";

/** Reports a 5xx answer's error (no-op without SENTRY_DSN). 4xx answers are the client's business, never reported. */
export function reportServerError(c: Context<AppEnv>, err: unknown, status: number, code: string): void {
  const cfg = c.get("config");
  if (!cfg?.SENTRY_DSN || status < 500) return;
  reportError(err, {
    dsn: cfg.SENTRY_DSN,
    release: cfg.RELEASE,
    environment: cfg.ENVIRONMENT,
    waitUntil: (p) => {
      try {
        c.executionCtx.waitUntil(p);
      } catch {
        // No execution context (app.request in a unit test): the send runs unattended.
      }
    },
    request: c.req.raw,
    source: "http",
    requestId: c.get("requestId"),
    route: routePath(c, -1),
    userId: c.get("principal")?.userId,
    status,
    tags: { code, method: c.req.method },
  });
}
