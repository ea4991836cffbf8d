/**
 * Applies the route → guard table (src/guards/index.ts): rate limits first, then Idempotency-Key;
 * signed routes (webhooks) charge their limits after the signature check instead.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { GUARDS, type GuardSpec } from "../guards/index.ts";
import { OptionalIdempotencyKeyHeaders } from "../schemas/common.ts";
import { idempotency } from "./idempotency.ts";
import { chargeRateLimits, rateLimit } from "./rate-limit.ts";

export function guardsFor(spec: GuardSpec): MiddlewareHandler<AppEnv>[] {
  // Signed routes charge their limits themselves, after the signature check (signedRequestGuard).
  const before = spec.unverifiedRateLimits ? [] : (spec.rateLimits ?? []);
  return [
    ...before.map((p) => rateLimit(p)),
    ...(spec.idempotency
      ? [
          idempotency({
            required: spec.idempotency === "required",
            ...(spec.idempotencyFallback ? { fallback: spec.idempotencyFallback } : {}),
          }),
        ]
      : []),
  ];
}

/**
 * The limits of a signed route (a GUARDS entry with `unverifiedRateLimits`), for its handler to
 * charge once the signature has been checked: `rateLimits` when it verified, `unverifiedRateLimits`
 * when not. Throws at startup when the table has no such entry.
 */
export function signedRequestGuard(
  method: GuardSpec["method"],
  path: string,
  specs: GuardSpec[] = GUARDS,
): (c: Context<AppEnv>, verified: boolean) => Promise<void> {
  const spec = specs.find((s) => s.method === method && s.path === path && s.unverifiedRateLimits);
  if (!spec?.unverifiedRateLimits) throw new Error(`no signed-route guard for ${method} ${path} in src/guards/index.ts`);
  const { rateLimits = [], unverifiedRateLimits } = spec;
  return (c, verified) => chargeRateLimits(c, verified ? rateLimits : unverifiedRateLimits);
}

export function applyGuards(app: OpenAPIHono<AppEnv>, specs: GuardSpec[] = GUARDS): void {
  for (const spec of specs) {
    const [first, ...rest] = guardsFor(spec);
    if (first) app.on(spec.method, [spec.path], first, ...rest);
  }
}

/** Whether a guard path (Hono: `:param`, trailing `*`) covers an OpenAPI path (`{param}`). */
export function guardCovers(guardPath: string, openapiPath: string): boolean {
  const g = guardPath.split("/");
  const o = openapiPath.split("/");
  for (let i = 0; i < g.length; i++) {
    const seg = g[i] as string;
    if (seg === "*") return o.length > i;
    const other = o[i];
    if (other === undefined) return false;
    if (seg.startsWith(":") ? !/^\{[^/]+\}$/.test(other) : seg !== other) return false;
  }
  return g.length === o.length;
}

/**
 * Documents the optional Idempotency-Key of every operation the guard table gives one, so
 * /openapi.json cannot drift from the guards (required keys are declared, and validated, by the routes).
 */
export function documentGuards(app: OpenAPIHono<AppEnv>, specs: GuardSpec[] = GUARDS): void {
  // `definitions` is a fresh array; its route objects are this app's own copies (made by app.route()).
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const { route } = def;
    const spec = specs.find(
      (s) => s.idempotency === "optional" && s.method.toLowerCase() === route.method && guardCovers(s.path, route.path),
    );
    if (!spec || route.request?.headers) continue;
    route.request = { ...route.request, headers: OptionalIdempotencyKeyHeaders };
  }
}
