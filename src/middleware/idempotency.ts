/**
 * Idempotency-Key guard (Stripe semantics, IETF draft-ietf-httpapi-idempotency-key-header).
 * - Key: 1–255 printable ASCII characters, scoped to the caller (user id, else client IP).
 * - First request takes a lease in the IdempotencyStore DO (one per principal) and runs; its response is stored.
 * - Same key + same fingerprint (method, path, SHA-256 of the body) → stored response, with
 *   `Idempotent-Replayed: true`; still running → 409 + Retry-After; other fingerprint → 422.
 * - Not stored: requests refused before execution (validation, auth, rate limit, 413/415),
 *   retryable 409 concurrency_conflict and 5xx (transactions roll back, so a retry is safe and should run again).
 */
import type { MiddlewareHandler } from "hono";
import type { BeginResult, StoredResponse } from "../../durable-objects/idempotency-store.ts";
import type { AppEnv } from "../app-env.ts";
import { clientIpKey } from "../lib/client-ip.ts";
import { b64url } from "../lib/encoding.ts";
import { errorFields } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
import { dbFailure } from "../lib/pg-errors.ts";
import { ApiError, type ProblemCode } from "../lib/problem.ts";
import { withTimeout } from "../lib/timeout.ts";

const KEY = /^[\x20-\x7e]{1,255}$/;
const NOT_STORED = new Set<ProblemCode>([
  "validation_error",
  "malformed_json",
  "unsupported_media_type",
  "payload_too_large",
  "unauthorized",
  "forbidden",
  "rate_limited",
  "invalid_cursor",
  // Retryable or refused by Postgres: the transaction rolled back, so the same key must run again.
  "concurrency_conflict",
]);
const KEPT_HEADERS = ["content-type", "location", "cache-control"];

async function fingerprint(method: string, path: string, body: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${method}\n${path}\n${body}`));
  return b64url(new Uint8Array(digest));
}

export function idempotency(opts: { required: boolean; fallback?: "database" }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined) {
      if (!opts.required) return next();
      throw new ApiError("validation_error", "This operation requires an Idempotency-Key header.", {
        errors: [{ field: "Idempotency-Key", in: "header", code: "required", message: "is required" }],
      });
    }
    if (!KEY.test(key)) {
      throw new ApiError("validation_error", "The Idempotency-Key header is invalid.", {
        errors: [{ field: "Idempotency-Key", in: "header", code: "invalid", message: "must be 1–255 printable ASCII characters" }],
      });
    }
    // Every route behind this guard uses Postgres: open the connection now (a no-op when an earlier
    // middleware did, e.g. requireAuth's fresh read) so that it overlaps the claim below. Only the
    // connection: no statement runs until the claim is ours (docs/performance.md, "Checkout round trips").
    c.get("dbFresh")
      .client()
      .catch(() => {}); // a failure surfaces where the route connects (the same 503 as before)
    const cfg = c.get("config");
    const principal = c.get("principal")?.userId ?? `ip:${clientIpKey(c.req.header("cf-connecting-ip"))}`;
    // One object per principal holds its keys (durable-objects/idempotency-store.ts).
    const stub = c.env.IDEMPOTENCY_STORE.get(c.env.IDEMPOTENCY_STORE.idFromName(principal));
    const fp = await fingerprint(c.req.method, c.req.path, await c.req.text());
    let begun: BeginResult;
    try {
      const call = stub.begin(key, fp, cfg.IDEMPOTENCY_LEASE_SEC * 1000, cfg.IDEMPOTENCY_RETENTION_SEC * 1000) as Promise<BeginResult>;
      begun = await withTimeout(call, cfg.GUARD_TIMEOUT_MS * 4, "idempotency store");
    } catch (err) {
      const fields = { component: "guard", guard: "idempotency", ...errorFields(err) };
      if (opts.fallback === "database") {
        // The route's own database constraints dedupe a repeat of this key (src/guards/index.ts): run it.
        c.get("log").warn("idempotency store unavailable: relying on the database's dedupe", { ...fields, fallback: "database" });
        countEvent("guard_unavailable", { detail: "idempotency", detail2: "database" });
        return next();
      }
      // Without the store we cannot promise exactly-once: refuse rather than risk a double effect.
      c.get("log").error("idempotency store unavailable", fields);
      countEvent("guard_unavailable", { detail: "idempotency", detail2: "fail_closed" });
      throw new ApiError("service_unavailable", "Please retry with the same Idempotency-Key shortly.", { headers: { "Retry-After": "1" } });
    }
    if (begun.state === "replay") {
      const headers = new Headers(begun.response.headers);
      headers.set("Idempotent-Replayed", "true");
      return new Response(begun.response.body, { status: begun.response.status, headers });
    }
    if (begun.state === "in_flight") {
      throw new ApiError("idempotency_in_flight", "A request with this Idempotency-Key is still being processed.", {
        headers: { "Retry-After": String(begun.retryAfterSec) },
      });
    }
    if (begun.state === "mismatch") {
      throw new ApiError("idempotency_key_reused", "This Idempotency-Key was already used with a different request.");
    }
    const { leaseId } = begun;
    await next();
    // Database failures reach renderError as driver errors (→ 409 concurrency_conflict, 400, 503): never stored either.
    const refused = (c.error instanceof ApiError && NOT_STORED.has(c.error.code)) || dbFailure(c.error) !== null;
    try {
      if (refused || c.res.status >= 500) {
        await stub.release(key, leaseId);
        return;
      }
      const body = await c.res.clone().text();
      const stored: StoredResponse = {
        status: c.res.status,
        headers: KEPT_HEADERS.flatMap((h) => {
          const v = c.res.headers.get(h);
          return v ? [[h, v] as [string, string]] : [];
        }),
        body,
      };
      if (!(await stub.complete(key, leaseId, stored))) {
        c.get("log").warn("idempotency lease lost before completion", { component: "guard", guard: "idempotency" });
      }
    } catch (err) {
      // The effect happened; the key will be retried after the lease expires. Say so loudly.
      c.get("log").error("idempotency store: could not record the outcome", {
        component: "guard",
        guard: "idempotency",
        ...errorFields(err),
      });
    }
  };
}
