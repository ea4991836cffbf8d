/**
 * First middleware of every request: request id, validated config, logger,
 * a lazily connected database, a handle to the app itself, and one JSON access-log line when it ends.
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../app-env.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { createDatabase, databaseOptions } from "../db/client.ts";
import { createLogger } from "../lib/logger.ts";
import { ApiError, problemResponse } from "../lib/problem.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Accepts a well-formed incoming X-Request-Id (so traces join up across hops), else makes one. */
export function requestIdFrom(header: string | undefined): string {
  return header && REQUEST_ID.test(header) ? header : crypto.randomUUID();
}

/** `fetch` is the app's own entry, exposed as `selfFetch` (cache revalidation, sandbox webhooks). */
export function requestContext(opts: {
  fetch: (req: Request, c: Context<AppEnv>) => Response | Promise<Response>;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(c.env);
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : ["unreadable configuration"];
      const settings = err instanceof ConfigError ? err.settings : [];
      createLogger("error").error("configuration invalid: refusing to serve", { request_id: requestId, component: "config", issues });
      const detail = `The service is misconfigured${settings.length ? ` (check ${settings.join(", ")})` : ""}.`;
      return problemResponse(new ApiError("service_unavailable", detail, { extra: { invalid_settings: settings } }), requestId, c.req.path);
    }
    const log = createLogger(config.LOG_LEVEL, { request_id: requestId });
    c.set("config", config);
    c.set("log", log);
    c.set("cacheTags", []);
    c.set("selfFetch", async (req) => opts.fetch(req, c));
    const dbFresh = createDatabase(c.env.HYPERDRIVE_FRESH, databaseOptions(config));
    c.set("dbFresh", dbFresh);
    try {
      await next();
    } finally {
      // Most requests never touch the database (cache hits, probes): nothing to close then.
      if (dbFresh.isOpen()) {
        const closing = dbFresh.close();
        try {
          c.executionCtx.waitUntil(closing);
        } catch {
          await closing; // no execution context (plain app.request in a unit test)
        }
      }
      c.res.headers.set("X-Request-Id", requestId);
      const status = c.res.status;
      // Sampling (config, default: every request) applies to successes only: a failure is always logged.
      const sampledOut = status < 400 && config.ACCESS_LOG_SAMPLE_RATE < 1 && Math.random() >= config.ACCESS_LOG_SAMPLE_RATE;
      if (!sampledOut)
        log[status >= 500 ? "error" : status >= 400 ? "warn" : "info"]("request", {
          component: "http",
          method: c.req.method,
          route: routePath(c, -1),
          path: c.req.path,
          status,
          duration_ms: Math.round((performance.now() - started) * 100) / 100,
          cache: c.res.headers.get("X-Cache") ?? undefined,
          cache_tier: c.get("cacheTier"),
        });
    }
  };
}
