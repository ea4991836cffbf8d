/**
 * Which guard protects which route: the single place (data only; src/middleware/guards.ts
 * applies it). Routes not listed here run no guard code at all. Order per route: rate limits
 * first (cheap refusal), then idempotency; signed routes verify first (see `unverifiedRateLimits`).
 * test/contract.test.ts checks every path exists.
 */
import type { PolicyName } from "./policies.ts";

export interface GuardSpec {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  rateLimits?: PolicyName[];
  /**
   * Signed requests (provider webhooks): no guard runs before the route. The route checks the
   * signature first (no I/O), then charges `rateLimits` when it verifies and these when it does not
   * (src/middleware/guards.ts `signedRequestGuard`). Unknown path values never reach a limiter.
   */
  unverifiedRateLimits?: PolicyName[];
  idempotency?: "required" | "optional";
  /**
   * When the IdempotencyStore cannot be reached: without this the request is refused (503 + Retry-After:
   * no exactly-once promise without the store). `"database"`: the route runs anyway, because its own
   * constraints make a repeat harmless (orders: the key becomes the order's unique client_token; payments:
   * one open intent per order, leased by the key, and the provider's key per payment). Checkout stays up.
   */
  idempotencyFallback?: "database";
}

export const GUARDS: GuardSpec[] = [
  { method: "GET", path: "/api/v1/categories", rateLimits: ["public-read"] },
  { method: "GET", path: "/api/v1/products", rateLimits: ["public-read"] },
  { method: "GET", path: "/api/v1/products/:idOrSku", rateLimits: ["public-read"] },
  { method: "GET", path: "/api/v1/search", rateLimits: ["public-read"] },
  { method: "POST", path: "/api/v1/auth/signup", rateLimits: ["signup"], idempotency: "optional" },
  { method: "POST", path: "/api/v1/auth/login", rateLimits: ["login-ip", "login-account"] },
  // A password change checks the current password: the same per-client budget as a login.
  { method: "POST", path: "/api/v1/users/me/password", rateLimits: ["login-ip"] },
  { method: "POST", path: "/api/v1/orders", rateLimits: ["order-create"], idempotency: "required", idempotencyFallback: "database" },
  { method: "POST", path: "/api/v1/payments", rateLimits: ["payment-create"], idempotency: "required", idempotencyFallback: "database" },
  // A quote changes nothing (no Idempotency-Key); identical ones are answered from a cache.
  { method: "POST", path: "/api/v1/shipping/rates", rateLimits: ["shipping-quote"] },
  {
    method: "POST",
    path: "/api/v1/webhooks/payments/:provider",
    rateLimits: ["webhook-intake"],
    unverifiedRateLimits: ["webhook-unverified"],
  },
  { method: "POST", path: "/api/v1/orders/bulk", rateLimits: ["admin-write"], idempotency: "optional" },
  { method: "PATCH", path: "/api/v1/orders/:id/status", rateLimits: ["admin-write"], idempotency: "optional" },
  { method: "POST", path: "/api/v1/admin/*", rateLimits: ["admin-write"], idempotency: "optional" },
  { method: "PATCH", path: "/api/v1/admin/*", rateLimits: ["admin-write"], idempotency: "optional" },
  // Deleting is idempotent by itself (a repeat is a 404): the admin write budget only.
  { method: "DELETE", path: "/api/v1/admin/*", rateLimits: ["admin-write"] },
];
