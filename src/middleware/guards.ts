/** Applies the route → guard table (src/guards/index.ts): rate limits first, then Idempotency-Key. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { GUARDS, type GuardSpec } from "../guards/index.ts";
import { idempotency } from "./idempotency.ts";
import { rateLimit } from "./rate-limit.ts";

export function guardsFor(spec: GuardSpec): MiddlewareHandler<AppEnv>[] {
  return [
    ...(spec.rateLimits ?? []).map((p) => rateLimit(p)),
    ...(spec.idempotency ? [idempotency({ required: spec.idempotency === "required" })] : []),
  ];
}

export function applyGuards(app: OpenAPIHono<AppEnv>, specs: GuardSpec[] = GUARDS): void {
  for (const spec of specs) {
    const [first, ...rest] = guardsFor(spec);
    if (first) app.on(spec.method, [spec.path], first, ...rest);
  }
}
