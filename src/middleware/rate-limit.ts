/**
 * Rate-limit guard backed by the RateLimiter Durable Object (sharded per policy and
 * subject, so every location agrees). Adds IETF RateLimit-Policy / RateLimit headers;
 * refuses with 429 + Retry-After. If the limiter errors or is slow, fail open (logged)
 * unless the policy is fail-closed.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { RateLimitDecision } from "../../durable-objects/rate-limiter.ts";
import type { AppEnv } from "../app-env.ts";
import { POLICIES, type PolicyName } from "../guards/policies.ts";
import { clientIpKey } from "../lib/client-ip.ts";
import { errorFields } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
import { normaliseEmail } from "../lib/password-policy.ts";
import { ApiError } from "../lib/problem.ts";
import { withTimeout } from "../lib/timeout.ts";

async function subjectOf(c: Context<AppEnv>, subject: string): Promise<string> {
  switch (subject) {
    case "user":
      return c.get("principal")?.userId ?? `ip:${clientIpKey(c.req.header("cf-connecting-ip"))}`;
    case "account": {
      // Runs before validation: the body may be any JSON (null, an array, a string…).
      const body: unknown = await c.req.json().catch(() => null);
      const email = body !== null && typeof body === "object" ? (body as { email?: unknown }).email : undefined;
      return typeof email === "string" ? normaliseEmail(email) : "unknown";
    }
    case "provider":
      return c.req.param("provider") ?? "unknown";
    default:
      // `ip`: IPv4 by address, IPv6 by /64 (src/lib/client-ip.ts), so rotating addresses share one bucket.
      return clientIpKey(c.req.header("cf-connecting-ip"));
  }
}

/**
 * Counts one hit of policy `name` for this request and returns the RateLimit headers to send
 * (null when the policy is off, or the limiter failed open). Throws 429 past the limit, 503 when a
 * fail-closed policy's limiter is down.
 */
async function charge(c: Context<AppEnv>, name: PolicyName): Promise<Record<string, string> | null> {
  const cfg = c.get("config");
  const policy = cfg.RATE_LIMIT_OVERRIDES[name];
  if (!policy) return null;
  const key = `${policy.name}:${await subjectOf(c, policy.subject)}`;
  if (name === "public-read" && cfg.PUBLIC_READ_LIMITER === "binding") return chargeBinding(c, key);
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
    countEvent("guard_unavailable", { detail: "rate-limit", detail2: policy.failClosed ? "fail_closed" : "fail_open" });
    if (policy.failClosed) throw new ApiError("service_unavailable", "Please retry shortly.", { headers: { "Retry-After": "1" } });
    return null;
  }
  const headers = {
    "RateLimit-Policy": `"${policy.name}";q=${policy.limit};w=${policy.windowSec}`,
    RateLimit: `"${policy.name}";r=${decision.remaining};t=${decision.resetSec}`,
  };
  if (!decision.allowed) {
    countEvent("rate_limited", { detail: policy.name, detail2: "durable-object" });
    throw new ApiError(
      "rate_limited",
      `Rate limit '${policy.name}' exceeded: at most ${policy.limit} requests per ${policy.windowSec} s.`,
      {
        headers: { ...headers, "Retry-After": String(decision.retryAfterSec) },
      },
    );
  }
  return headers;
}

/**
 * `public-read` on the Workers Rate Limiting binding (PUBLIC_READ_LIMITER = "binding"): a per-location
 * counter with its limit in wrangler.toml (`PUBLIC_READ_RL`, mirroring POLICIES["public-read"]). It answers
 * only allowed or not, so the response carries the policy but no remaining count; a refusal says
 * Retry-After = the whole period (the binding does not say when its window ends). Fails open, like the policy.
 */
async function chargeBinding(c: Context<AppEnv>, key: string): Promise<Record<string, string> | null> {
  const { limit, windowSec, name } = POLICIES["public-read"];
  let success: boolean;
  try {
    ({ success } = await withTimeout(c.env.PUBLIC_READ_RL.limit({ key }), c.get("config").GUARD_TIMEOUT_MS, "rate limit binding"));
  } catch (err) {
    c.get("log").warn("rate limiter unavailable: failing open", {
      component: "guard",
      guard: "rate-limit",
      policy: name,
      fail_open: true,
      backend: "binding",
      ...errorFields(err),
    });
    countEvent("guard_unavailable", { detail: "rate-limit", detail2: "fail_open" });
    return null;
  }
  const headers = { "RateLimit-Policy": `"${name}";q=${limit};w=${windowSec}` };
  if (!success) {
    countEvent("rate_limited", { detail: name, detail2: "binding" });
    throw new ApiError("rate_limited", `Rate limit '${name}' exceeded: at most ${limit} requests per ${windowSec} s from one client.`, {
      headers: { ...headers, "Retry-After": String(windowSec) },
    });
  }
  return headers;
}

export function rateLimit(name: PolicyName): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // The limiter's round trip overlaps the connection setup (≈ 1.2 ms of a miss here), never the query:
    // a refused read must not reach Postgres (this limit is what protects it). The connection goes to
    // Hyperdrive's pool, which absorbs it; a refused request's connection is closed with the request.
    // A failed connect is forgotten by the client (src/db/client.ts) and retried by the handler.
    // Only public-read overlaps: its reads need a connection on every miss.
    if (name === "public-read")
      c.get("dbFresh")
        .client()
        .catch(() => {});
    const headers = await charge(c, name);
    await next();
    // Several policies on one route: each adds its item to the structured-field lists.
    for (const [k, v] of Object.entries(headers ?? {})) c.res.headers.append(k, v);
  };
}

/**
 * The same limits charged from inside a handler (signed routes charge after their signature
 * check); the headers go on the response the handler builds.
 */
export async function chargeRateLimits(c: Context<AppEnv>, names: readonly PolicyName[]): Promise<void> {
  for (const name of names) {
    const headers = await charge(c, name);
    for (const [k, v] of Object.entries(headers ?? {})) c.header(k, v, { append: true });
  }
}
