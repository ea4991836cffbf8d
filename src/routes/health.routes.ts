/**
 * Liveness (no I/O) and readiness (a database ping with a short timeout). With the database down,
 * readiness is `degraded` (200) when this location can still serve the catalogue from cache
 * (stale-if-error on, a catalogue generation cached here), `down` (503) otherwise: a load balancer
 * keeps a location that still serves the shop's catalogue.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { errorFields } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { withTimeout } from "../lib/timeout.ts";
import { ProblemSchema } from "../schemas/common.ts";
import { catalogCachedHere } from "../services/cache-invalidation.ts";
import { createRouter } from "./router.ts";

const HealthSchema = z
  .object({ status: z.enum(["ok", "degraded"]), checks: z.record(z.string(), z.string()).optional() })
  .openapi("Health");

export const healthRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/live",
      operationId: "healthLive",
      tags: ["Health"],
      summary: "Liveness",
      responses: {
        200: { description: "The isolate serves requests", content: { "application/json": { schema: HealthSchema } } },
        405: { description: "Only GET and HEAD", content: { "application/problem+json": { schema: ProblemSchema } } },
        503: { description: "Misconfigured: refusing to serve", content: { "application/problem+json": { schema: ProblemSchema } } },
      },
    }),
    (c) => c.json({ status: "ok" as const }, 200, { "Cache-Control": "no-store" }),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/ready",
      operationId: "healthReady",
      tags: ["Health"],
      summary: "Readiness (database reachable)",
      responses: {
        200: {
          description:
            "`ok`: dependencies answer. `degraded`: the database is down but this location serves the catalogue from cache (stale-if-error)",
          content: { "application/json": { schema: HealthSchema } },
        },
        405: { description: "Only GET and HEAD", content: { "application/problem+json": { schema: ProblemSchema } } },
        503: {
          description: "Down: the database is unreachable and no catalogue is cached here",
          content: { "application/problem+json": { schema: ProblemSchema } },
        },
      },
    }),
    async (c) => {
      const cfg = c.get("config");
      const timeoutMs = cfg.HEALTH_DB_TIMEOUT_MS;
      const started = Date.now();
      try {
        const ping = (async () => (await c.get("dbFresh").client()).query("SELECT 1"))();
        await withTimeout(ping, timeoutMs, "database");
      } catch (err) {
        const canServeStale =
          cfg.CATALOG_STALE_IF_ERROR_SEC > 0 && cfg.CATALOG_CACHE_TTL_SEC > 0 && (await catalogCachedHere(new URL(c.req.url).origin));
        c.get("log").error("readiness: database unreachable", {
          component: "health",
          readiness: canServeStale ? "degraded" : "down",
          ...errorFields(err),
        });
        if (canServeStale) {
          return c.json({ status: "degraded" as const, checks: { database: "down", catalog: "stale-if-error" } }, 200, {
            "Cache-Control": "no-store",
            "Retry-After": "5",
          });
        }
        throw new ApiError("service_unavailable", "The database is unreachable.", {
          headers: { "Retry-After": "5" },
          extra: { readiness: "down", checks: { database: "down" } },
        });
      }
      return c.json({ status: "ok" as const, checks: { database: `ok (${Date.now() - started} ms)` } }, 200, {
        "Cache-Control": "no-store",
      });
    },
  );
