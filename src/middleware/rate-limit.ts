/**
 * Rate-limit guard backed by the RateLimiter Durable Object (sharded per policy and
 * subject, so every location agrees). Adds IETF RateLimit-Policy / RateLimit headers;
 * refuses with 429 + Retry-After. If the limiter errors or is slow, fail open (logged)
 * unless the policy is fail-closed.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { RateLimitDecision } from "../../durable-objects/rate-limiter.ts";
import type { AppEnv } from "../app-env.ts";
import type { PolicyName } from "../guards/policies.ts";
import { errorFields } from "../lib/logger.ts";
import { normaliseEmail } from "../lib/password-policy.ts";
import { ApiError } from "../lib/problem.ts";
import { withTimeout } from "../lib/timeout.ts";

async function subjectOf(c: Context<AppEnv>, subject: string): Promise<string> {
  switch (subject) {
    case "user":
      return c.get("principal")?.userId ?? `ip:${c.req.header("cf-connecting-ip") ?? "unknown"}`;
    case "account": {
      const body = (await c.req.json().catch(() => ({}))) as { email?: unknown };
      return typeof body.email === "string" ? normaliseEmail(body.email) : "unknown";
    }
    case "provider":
      return c.req.param("provider") ?? "unknown";
    default:
      return c.req.header("cf-connecting-ip") ?? "unknown";
  }
}

export function rateLimit(name: PolicyName): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const cfg = c.get("config");
    const policy = cfg.RATE_LIMIT_OVERRIDES[name];
    if (!policy) return next();
    const key = `${policy.name}:${await subjectOf(c, policy.subject)}`;
    let decision: RateLimitDecision;
    try {
      const stub = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(key));
      decision = await withTimeout(stub.hit(policy.limit, policy.windowSec), cfg.GUARD_TIMEOUT_MS, "rate limiter");
    } catch (err) {
      c.get("log").warn(policy.failClosed ? "rate limiter unavailable: failing closed" : "rate limiter unavailable: failing open", {
        component: "guard",
        guard: "rate-limit",
        policy: policy.name,
        fail_open: !policy.failClosed,
        ...errorFields(err),
      });
      if (policy.failClosed) throw new ApiError("service_unavailable", "Please retry shortly.", { headers: { "Retry-After": "1" } });
      return next();
    }
    const headers = {
      "RateLimit-Policy": `"${policy.name}";q=${policy.limit};w=${policy.windowSec}`,
      RateLimit: `"${policy.name}";r=${decision.remaining};t=${decision.resetSec}`,
    };
    if (!decision.allowed) {
      throw new ApiError(
        "rate_limited",
        `Rate limit '${policy.name}' exceeded: at most ${policy.limit} requests per ${policy.windowSec} s.`,
        {
          headers: { ...headers, "Retry-After": String(decision.retryAfterSec) },
        },
      );
    }
    await next();
    // Several policies on one route: each adds its item to the structured-field lists.
    for (const [k, v] of Object.entries(headers)) c.res.headers.append(k, v);
  };
}
