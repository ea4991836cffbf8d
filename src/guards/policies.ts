/**
 * Rate-limit policies: the one table. Each can be overridden with the
 * RATE_LIMIT_OVERRIDES var, e.g. "order-create=20/60,public-read=off".
 */
export type Subject = "ip" | "user" | "account" | "provider";

export interface RateLimitPolicy {
  name: string;
  limit: number;
  windowSec: number;
  /** What the counter is keyed by. */
  subject: Subject;
  /** When the limiter is down: true = refuse (503), false = let the request through. */
  failClosed: boolean;
}

export const POLICIES = {
  "public-read": { name: "public-read", limit: 600, windowSec: 60, subject: "ip", failClosed: false },
  signup: { name: "signup", limit: 10, windowSec: 3600, subject: "ip", failClosed: false },
  "login-ip": { name: "login-ip", limit: 30, windowSec: 60, subject: "ip", failClosed: true },
  "login-account": { name: "login-account", limit: 10, windowSec: 60, subject: "account", failClosed: true },
  "order-create": { name: "order-create", limit: 10, windowSec: 60, subject: "user", failClosed: false },
  "payment-create": { name: "payment-create", limit: 10, windowSec: 60, subject: "user", failClosed: false },
  "webhook-intake": { name: "webhook-intake", limit: 3000, windowSec: 60, subject: "provider", failClosed: false },
  "admin-write": { name: "admin-write", limit: 300, windowSec: 60, subject: "user", failClosed: false },
} as const satisfies Record<string, RateLimitPolicy>;

export type PolicyName = keyof typeof POLICIES;

const cache = new Map<string, Map<string, RateLimitPolicy | null>>();

/** The effective policy after overrides; null when switched off. */
export function resolvePolicy(name: PolicyName, overrides: string): RateLimitPolicy | null {
  let table = cache.get(overrides);
  if (!table) {
    table = new Map();
    for (const part of overrides
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      const m = /^([a-z-]+)=(?:(off)|(\d+)\/(\d+))$/.exec(part);
      if (!m?.[1] || !(m[1] in POLICIES)) throw new Error(`RATE_LIMIT_OVERRIDES: cannot read "${part}"`);
      const base: RateLimitPolicy = POLICIES[m[1] as PolicyName];
      table.set(m[1], m[2] ? null : { ...base, limit: Number(m[3]), windowSec: Number(m[4]) });
    }
    cache.set(overrides, table);
  }
  return table.has(name) ? (table.get(name) ?? null) : POLICIES[name];
}
