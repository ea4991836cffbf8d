/**
 * First middleware of every request: request id, validated config, logger,
 * a lazily connected database, a handle to the app itself, and one JSON access-log line when it ends.
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../app-env.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { createDatabase, databaseOptions } from "../db/client.ts";
import { admit, checkSlow, classify, SIGNAL_OBJECT, SLOW_SIGNAL_MS, syncSharedSignal } from "../lib/load-shed.ts";
import { createLogger, type Logger } from "../lib/logger.ts";
import { coloOf, withMetrics, writeRequestPoint } from "../lib/metrics.ts";
import { ApiError, problemResponse } from "../lib/problem.ts";
import { hotLaneHit, rememberDecoration } from "./edge-cache.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Accepts a well-formed incoming X-Request-Id (so traces join up across hops), else makes one. */
export function requestIdFrom(header: string | undefined): string {
  return header && REQUEST_ID.test(header) ? header : crypto.randomUUID();
}

export interface AccessEntry {
  method: string;
  route: string;
  path: string;
  status: number;
  started: number;
  cache: string | undefined;
  cacheTier: string | undefined;
  /** "hot" when the hot lane answered (no middleware chain); absent otherwise. */
  lane?: "hot";
  /** The Cloudflare location (`request.cf.colo`), for the metrics point. */
  colo: string;
}

/**
 * The one access-log line and the one metrics point (Analytics Engine, src/lib/metrics.ts) per request,
 * both lanes. Sampling (config, default: every request) applies to the log lines of successes only:
 * every request is counted.
 */
export function writeAccessLog(log: Logger, config: Config, e: AccessEntry, metrics: AnalyticsEngineDataset | undefined): void {
  const status = e.status;
  const durationMs = Math.round((performance.now() - e.started) * 100) / 100;
  writeRequestPoint(
    { dataset: metrics, release: config.RELEASE, colo: e.colo },
    { method: e.method, route: e.route, status, durationMs, cache: e.cache, cacheTier: e.cacheTier, lane: e.lane ?? "app" },
  );
  if (status < 400 && config.ACCESS_LOG_SAMPLE_RATE < 1 && Math.random() >= config.ACCESS_LOG_SAMPLE_RATE) return;
  log[status >= 500 ? "error" : status >= 400 ? "warn" : "info"]("request", {
    component: "http",
    method: e.method,
    route: e.route,
    path: e.path,
    status,
    duration_ms: durationMs,
    cache: e.cache,
    cache_tier: e.cacheTier,
    lane: e.lane,
  });
}

/**
 * The worker's entry for HTTP: a public read this isolate holds in L1 (and has served through the full
 * path before) is answered here, without the middleware chain (src/middleware/edge-cache.ts, "hot lane");
 * everything else goes to the app. Same request id rule, same headers, same access-log line.
 */
export function withHotLane(
  appFetch: (req: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>,
): (req: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response> {
  return (req, env, ctx) => {
    const started = performance.now();
    let config: Config;
    try {
      config = loadConfig(env);
    } catch {
      return appFetch(req, env, ctx); // the app answers 503 and says why
    }
    let requestId = "";
    const hit = hotLaneHit(req, config, (header) => {
      requestId = requestIdFrom(header ?? undefined);
      return requestId;
    });
    if (!hit) return appFetch(req, env, ctx);
    const res = hit.response;
    writeAccessLog(
      createLogger(config.LOG_LEVEL, { request_id: requestId }),
      config,
      {
        method: req.method,
        route: hit.route,
        path: hit.path,
        status: res.status,
        started,
        cache: "HIT",
        cacheTier: "l1",
        lane: "hot",
        colo: coloOf(req),
      },
      env.METRICS,
    );
    return res;
  };
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
    // Load shedding: the first database use of a request takes a slot of its class (src/lib/load-shed.ts).
    let release: (() => number) | undefined;
    const path = c.req.path;
    const gated = config.SHED_MAX_INFLIGHT > 0 && !path.startsWith("/health/");
    // The shared slow-database signal, synced in the background (never awaited by the request).
    const syncSignal = () => {
      const syncing = syncSharedSignal(
        () => c.env.CIRCUIT_BREAKER.get(c.env.CIRCUIT_BREAKER.idFromName(SIGNAL_OBJECT)),
        config.SHED_SIGNAL_SYNC_MS,
      );
      if (!syncing) return;
      try {
        c.executionCtx.waitUntil(syncing);
      } catch {
        // no execution context (plain app.request in a unit test): let it run on its own
      }
    };
    const gate = async () => {
      syncSignal();
      release = await admit(classify(c.req.method, path, c.req.header("authorization")), {
        max: config.SHED_MAX_INFLIGHT,
        anonPct: config.SHED_ANON_PCT,
        authPct: config.SHED_AUTH_PCT,
        slowPct: config.SHED_SLOW_PCT,
        waitMs: config.SHED_CRITICAL_WAIT_MS,
      });
    };
    const dbFresh = createDatabase(c.env.HYPERDRIVE_FRESH, { ...databaseOptions(config), ...(gated ? { admit: gate } : {}) });
    c.set("dbFresh", dbFresh);
    const colo = coloOf(c.req.raw);
    try {
      // Business events counted anywhere below (services too) land in this request's dataset.
      await withMetrics({ dataset: c.env.METRICS, release: config.RELEASE, colo, source: "http" }, next);
    } finally {
      if (release) {
        release();
        if (checkSlow(config.SHED_SLOW_P95_MS, SLOW_SIGNAL_MS)) syncSignal();
      }
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
      const cacheTier = c.get("cacheTier");
      // An L1 hit served here teaches the hot lane what the outer middleware adds for this Origin.
      if (cacheTier === "l1") rememberDecoration(config, c.req.header("origin"), c.res);
      writeAccessLog(
        log,
        config,
        {
          method: c.req.method,
          route: routePath(c, -1),
          path: c.req.path,
          status: c.res.status,
          started,
          cache: c.res.headers.get("X-Cache") ?? undefined,
          cacheTier,
          colo,
        },
        c.env.METRICS,
      );
    }
  };
}
