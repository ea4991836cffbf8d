/**
 * Prometheus scrape targets, behind a bearer token (METRICS_TOKEN): `GET /metrics` (exact, global state
 * from Postgres and the Durable Objects) and `GET /metrics/edge` (requests and events from Analytics
 * Engine, over a window). Metrics, alerts and panels: docs/ops/metrics.md.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { timingSafeEqual } from "../lib/crypto.ts";
import { ApiError } from "../lib/problem.ts";
import { EXPOSITION_CONTENT_TYPE } from "../lib/prometheus.ts";
import { problem } from "../schemas/common.ts";
import { edgeMetrics } from "../services/edge-metrics.service.ts";
import { stateMetrics } from "../services/ops-metrics.service.ts";
import { createRouter } from "./router.ts";

const enc = new TextEncoder();
const security = [{ metricsToken: [] }];
const responses = (description: string, example: string) => ({
  200: { description, content: { [EXPOSITION_CONTENT_TYPE]: { schema: z.string().openapi({ example }) } } },
  401: problem("Missing or wrong bearer token (or METRICS_TOKEN is not set)"),
  405: problem("Only GET and HEAD"),
  500: problem("Unexpected error (no internals are disclosed)"),
  503: problem("Misconfigured: refusing to serve"),
});

/** Constant-time check of `Authorization: Bearer <METRICS_TOKEN>`; without a configured token nobody gets in. */
function authorize(c: Context<AppEnv>): void {
  const token = c.get("config").METRICS_TOKEN;
  const sent = /^Bearer ([^\s]+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (token && sent && timingSafeEqual(enc.encode(sent), enc.encode(token))) return;
  throw new ApiError("unauthorized", "A valid metrics bearer token is required.", {
    headers: { "WWW-Authenticate": `Bearer realm="toko-metrics"${sent ? ', error="invalid_token"' : ""}` },
  });
}

const text = (c: Context<AppEnv>, body: string) =>
  c.body(body, 200, { "Content-Type": EXPOSITION_CONTENT_TYPE, "Cache-Control": "no-store" }) as never;

export const metricsRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "metrics",
      tags: ["Operations"],
      summary: "Exact global state for Prometheus: orders by status, webhook backlog, DLQ, outbox lag, breakers, reports, build",
      description: "Prometheus text format 0.0.4. Read from Postgres and the circuit breakers, cached per isolate for METRICS_CACHE_SEC.",
      security,
      responses: responses("The metrics", 'toko_orders{status="PENDING"} 3'),
    }),
    async (c) => {
      authorize(c);
      const cfg = c.get("config");
      const body = await stateMetrics(c.env, {
        db: () => c.get("dbFresh").orm(),
        cfg,
        log: c.get("log"),
        breakers: c.env.CIRCUIT_BREAKER,
      });
      return text(c, body);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/edge",
      operationId: "metricsEdge",
      tags: ["Operations"],
      summary: "Requests and events from Analytics Engine over a window, for Prometheus: latency quantiles, errors, cache hits",
      description:
        "Prometheus text format 0.0.4. Sampled (Analytics Engine) figures over EDGE_METRICS_WINDOW_SEC, read through the SQL API (ANALYTICS_API_TOKEN), cached per isolate for EDGE_METRICS_CACHE_SEC; `toko_edge_up 0` when the API is not configured or failed.",
      security,
      responses: responses("The metrics", 'toko_edge_read_duration_seconds{percentile="95"} 0.042'),
    }),
    async (c) => {
      authorize(c);
      return text(c, await edgeMetrics(c.env, c.get("config"), c.get("log")));
    },
  );

metricsRouter.openAPIRegistry.registerComponent("securitySchemes", "metricsToken", {
  type: "http",
  scheme: "bearer",
  description: "METRICS_TOKEN (a secret): what Prometheus sends on its scrapes",
});
