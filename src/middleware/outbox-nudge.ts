/**
 * The post-commit nudge of the outbox relay: after a successful write to orders or payments (the
 * routes whose services write outbox rows in their transaction), the relay runs in `waitUntil`, so
 * the events leave within milliseconds of the commit instead of at the next cron tick. The response
 * is not delayed; a failed kick is only logged (the outbox-relay job runs every minute).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { kickOutboxRelay } from "../services/outbox-relay.service.ts";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const WRITERS = /^\/api\/v1\/(orders|payments)(\/|$)/;

export function outboxNudge(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    // Only a write that reached the database and succeeded can have committed an outbox row.
    if (!WRITES.has(c.req.method) || c.res.status >= 400 || !WRITERS.test(c.req.path) || !c.get("dbFresh")?.isOpen()) return;
    const kick = kickOutboxRelay(c.env, c.get("config"), c.get("log"));
    try {
      c.executionCtx.waitUntil(kick);
    } catch {
      await kick; // no execution context (app.request in a unit test)
    }
  };
}
