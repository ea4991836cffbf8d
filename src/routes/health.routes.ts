/** Liveness (no I/O) and readiness (a database ping with a short timeout). */
import { createRoute, z } from "@hono/zod-openapi";
import { errorFields } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { withTimeout } from "../lib/timeout.ts";
import { ProblemSchema } from "../schemas/common.ts";
import { createRouter } from "./router.ts";

const HealthSchema = z.object({ status: z.literal("ok"), checks: z.record(z.string(), z.string()).optional() }).openapi("Health");

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
        200: { description: "Dependencies answer", content: { "application/json": { schema: HealthSchema } } },
        405: { description: "Only GET and HEAD", content: { "application/problem+json": { schema: ProblemSchema } } },
        503: { description: "A dependency is down", content: { "application/problem+json": { schema: ProblemSchema } } },
      },
    }),
    async (c) => {
      const timeoutMs = c.get("config").HEALTH_DB_TIMEOUT_MS;
      const started = Date.now();
      try {
        const ping = (async () => (await c.get("dbFresh").client()).query("SELECT 1"))();
        await withTimeout(ping, timeoutMs, "database");
      } catch (err) {
        c.get("log").error("readiness: database unreachable", { component: "health", ...errorFields(err) });
        throw new ApiError("service_unavailable", "The database is unreachable.", {
          headers: { "Retry-After": "5" },
          extra: { checks: { database: "down" } },
        });
      }
      return c.json({ status: "ok" as const, checks: { database: `ok (${Date.now() - started} ms)` } }, 200, {
        "Cache-Control": "no-store",
      });
    },
  );
