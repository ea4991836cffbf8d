/**
 * createApp(): the one Hono application, used by the worker entry and the tests.
 * Middleware order matters: context (request id, config, db, access log) → security headers →
 * CORS → 405 → query-string rule → edge cache (public reads: a HIT is answered here) → auth and
 * roles → JSON body guard (and its input rules) → rate limits / idempotency (src/guards) → routes.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./app-env.ts";
import { ShedError } from "./lib/load-shed.ts";
import { errorFields } from "./lib/logger.ts";
import { countEvent } from "./lib/metrics.ts";
import { DatabaseUnavailableError, dbFailure } from "./lib/pg-errors.ts";
import { ApiError, type ProblemCode, problemResponse } from "./lib/problem.ts";
import { validationHook } from "./lib/validation.ts";
import { requireAuth, requireRole } from "./middleware/auth.ts";
import { edgeCache } from "./middleware/edge-cache.ts";
import { applyGuards, documentGuards } from "./middleware/guards.ts";
import { jsonBody } from "./middleware/json-body.ts";
import { outboxNudge } from "./middleware/outbox-nudge.ts";
import { queryRules } from "./middleware/query-rules.ts";
import { requestContext } from "./middleware/request-context.ts";
import { reportServerError } from "./observability/http.ts";
import { adminCatalogRouter } from "./routes/admin-catalog.routes.ts";
import { adminJobsRouter } from "./routes/admin-jobs.routes.ts";
import { adminNotificationsRouter } from "./routes/admin-notifications.routes.ts";
import { adminOrdersRouter } from "./routes/admin-orders.routes.ts";
import { adminPaymentsRouter } from "./routes/admin-payments.routes.ts";
import { adminQueueRouter } from "./routes/admin-queue.routes.ts";
import { adminReportsRouter } from "./routes/admin-reports.routes.ts";
import { adminUiRouter } from "./routes/admin-ui.routes.ts";
import { adminUsersRouter } from "./routes/admin-users.routes.ts";
import { adminWebhookEndpointsRouter } from "./routes/admin-webhook-endpoints.routes.ts";
import { authRouter } from "./routes/auth.routes.ts";
import { catalogRouter } from "./routes/catalog.routes.ts";
import { healthRouter } from "./routes/health.routes.ts";
import { metricsRouter } from "./routes/metrics.routes.ts";
import { ordersRouter } from "./routes/orders.routes.ts";
import { paymentsRouter, webhooksRouter } from "./routes/payments.routes.ts";
import { sandboxRouter } from "./routes/sandbox.routes.ts";
import { adminShippingRouter, shippingRouter } from "./routes/shipping.routes.ts";
import { usersRouter } from "./routes/users.routes.ts";
import { catalogReads, type ReadNormaliser } from "./schemas/catalog.ts";

export const API_VERSION = "1.0.0";

const HTTP_CODES: Record<number, ProblemCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

function renderError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? crypto.randomUUID();
  let apiError: ApiError;
  if (err instanceof ApiError) {
    apiError = err;
  } else if (err instanceof ShedError) {
    // Load shedding (src/lib/load-shed.ts): lower classes are refused first; a catalogue read may still be served stale.
    c.get("log")?.warn("load shed", { component: "shed", shed_class: err.shedClass });
    countEvent("shed", { detail: err.shedClass });
    apiError = new ApiError("overloaded", "Too much work in progress here; retry shortly.", {
      headers: { "Retry-After": String(err.retryAfterSec) },
    });
  } else if (err instanceof HTTPException && err.status < 500) {
    const code = /malformed json/i.test(err.message) ? "malformed_json" : (HTTP_CODES[err.status] ?? "bad_request");
    apiError = new ApiError(code);
  } else {
    apiError = databaseProblem(err, c) ?? unexpected(err, c);
  }
  // 5xx only, scrubbed, and only with SENTRY_DSN (src/lib/sentry.ts).
  reportServerError(c, err, apiError.status, apiError.code);
  return problemResponse(apiError, requestId, c.req.path);
}

/** Postgres down, busy or refusing a value: a retryable 503/409 or a 400, never a 500 (src/lib/pg-errors.ts). */
function databaseProblem(err: Error, c: Context<AppEnv>): ApiError | null {
  const failure = dbFailure(err);
  if (!failure) return null;
  const log = c.get("log");
  const cause = err instanceof DatabaseUnavailableError && err.cause instanceof Error ? err.cause.message.slice(0, 300) : undefined;
  const fields = { component: "db", ...errorFields(err), pg_code: failure.code, cause };
  const retry = { headers: { "Retry-After": String(failure.retryAfterSec) } };
  switch (failure.kind) {
    case "unavailable":
      log?.error("database unavailable", fields);
      return new ApiError("database_unavailable", "The database cannot serve this request right now; retry shortly.", retry);
    case "contention":
      log?.warn("database contention", fields);
      return new ApiError(
        "concurrency_conflict",
        "Another request was changing the same data and this one could not wait for it; it was not applied. Retry shortly.",
        retry,
      );
    case "input":
      // Validation should have refused the value before Postgres saw it: worth a look, not a 500.
      log?.warn("database refused a value from the request", fields);
      return new ApiError("bad_request", "A value in the request is out of range or cannot be stored.");
  }
}

function unexpected(err: Error, c: Context<AppEnv>): ApiError {
  // Log the internals; the client only learns that it failed and under which request id.
  c.get("log")?.error("unhandled error", { component: "http", ...errorFields(err, { stack: true }) });
  return new ApiError("internal_error", "Something went wrong on our side. Quote the request id if you contact support.");
}

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use(requestContext({ fetch: (req, c) => app.fetch(req, c.env, c.executionCtx) }));
  app.use(secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use(
    cors({
      origin: (origin, c: Context<AppEnv>) => {
        const allowed = c.get("config").CORS_ORIGINS;
        return allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : null;
      },
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", "If-None-Match"],
      exposeHeaders: ["X-Request-Id", "X-Cache", "ETag", "Location", "Retry-After", "RateLimit", "RateLimit-Policy", "Idempotent-Replayed"],
      maxAge: 600,
    }),
  );
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problemResponse(
          new ApiError("method_not_allowed", `${c.req.method} is not supported here; use ${methods.join(", ")}.`, {
            headers: { Allow: methods.join(", ") },
          }),
          c.get("requestId"),
          c.req.path,
        ),
    }),
  );
  // The text rule for every query string (no NUL, no lone surrogate), before the cache and the routes.
  app.use(queryRules());
  // Public reads cached at the edge, keyed by the route's normaliser: the validated, parsed query
  // (src/schemas/catalog.ts), which the handler reads too; invalid input is never keyed. A HIT is answered here,
  // before the per-IP rate limiter: that limit protects the origin (misses reach Postgres);
  // volumetric per-IP limits on hits are the WAF's job at the zone (cheaper than a DO call).
  const cached = (path: string, normalise: ReadNormaliser) => app.use(path, edgeCache({ path, normalise }));
  cached("/api/v1/categories", catalogReads.categories);
  cached("/api/v1/products", catalogReads.products);
  cached("/api/v1/products/:idOrSku", catalogReads.product);
  cached("/api/v1/search", catalogReads.search);
  // Who may call what: one place. Authentication runs before any body is read.
  app.use("/api/v1/users/*", requireAuth());
  app.use("/api/v1/orders", requireAuth());
  app.use("/api/v1/orders/*", requireAuth());
  app.use("/api/v1/orders/bulk", requireRole("ADMIN"));
  app.use("/api/v1/payments", requireAuth());
  app.use("/api/v1/payments/*", requireAuth());
  app.use("/api/v1/admin/*", requireAuth(), requireRole("ADMIN"));
  // After a committed order or payment write: publish its outbox events now (waitUntil), not at the next cron tick.
  app.use(outboxNudge());
  app.use(jsonBody({ "/api/v1/admin/products/import": (cfg) => cfg.MAX_IMPORT_BODY_BYTES }));
  // Rate limits and Idempotency-Key, per route (the table in src/guards/index.ts).
  applyGuards(app);

  app.route("/health", healthRouter);
  // Prometheus scrapes (bearer METRICS_TOKEN, checked by the route): docs/ops/metrics.md.
  app.route("/metrics", metricsRouter);
  app.route("/api/v1", catalogRouter);
  app.route("/api/v1/auth", authRouter);
  app.route("/api/v1/users", usersRouter);
  app.route("/api/v1/admin", adminCatalogRouter);
  app.route("/api/v1/orders", ordersRouter);
  app.route("/api/v1/shipping", shippingRouter);
  app.route("/api/v1/payments", paymentsRouter);
  app.route("/api/v1/webhooks", webhooksRouter);
  app.route("/api/v1/admin/queue", adminQueueRouter);
  app.route("/api/v1/admin", adminJobsRouter);
  app.route("/api/v1/admin", adminPaymentsRouter);
  app.route("/api/v1/admin", adminReportsRouter);
  app.route("/api/v1/admin", adminWebhookEndpointsRouter);
  app.route("/api/v1/admin", adminNotificationsRouter);
  app.route("/api/v1/admin", adminOrdersRouter);
  app.route("/api/v1/admin", adminShippingRouter);
  app.route("/api/v1/admin/users", adminUsersRouter);
  app.route("/sandbox", sandboxRouter);

  documentGuards(app);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "Access token from POST /api/v1/auth/login",
  });

  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Toko Edge API",
      version: API_VERSION,
      description: "Edge-first commerce API. Money is in integer minor units; errors are RFC 9457 problem+json.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: new URL(c.req.url).origin }],
    tags: [
      { name: "Catalogue", description: "Public, edge-cached reads" },
      { name: "Accounts", description: "Signup, login, your account" },
      { name: "Orders", description: "Checkout and order lifecycle" },
      { name: "Shipping", description: "Rates for an address and a cart (public); products' shipping profiles (ADMIN)" },
      { name: "Payments", description: "Payments and provider webhooks" },
      { name: "Admin", description: "Catalogue, accounts, dead letters, jobs and sales reports (role ADMIN)" },
      { name: "Health", description: "Probes" },
      { name: "Operations", description: "Prometheus metrics (bearer METRICS_TOKEN)" },
    ],
  }));
  // The console and the reference are static assets; these routes are the SPA fallback and /docs (src/routes/admin-ui.routes.ts).
  app.route("/", adminUiRouter);
  app.get("/", (c) => c.json({ name: "toko-edge", docs: "/docs", openapi: "/openapi.json", api: "/api/v1", admin: "/admin/" }));

  app.notFound((c) =>
    problemResponse(
      new ApiError("not_found", `Nothing is served at ${c.req.path}.`),
      c.get("requestId") ?? crypto.randomUUID(),
      c.req.path,
    ),
  );
  app.onError(renderError);
  return app;
}
