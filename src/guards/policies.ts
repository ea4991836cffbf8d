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
  /** Signature verified: per provider (only the provider can sign). */
  "webhook-intake": { name: "webhook-intake", limit: 3000, windowSec: 60, subject: "provider", failClosed: false },
  /** Signature missing or wrong: per client IP, its own bucket, so junk never uses up the provider's. */
  "webhook-unverified": { name: "webhook-unverified", limit: 60, windowSec: 60, subject: "ip", failClosed: false },
  "admin-write": { name: "admin-write", limit: 300, windowSec: 60, subject: "user", failClosed: false },
  /** Shipping quotes call the carrier on a cache miss: per client IP (storefronts quote before sign-in). */
  "shipping-quote": { name: "shipping-quote", limit: 120, windowSec: 60, subject: "ip", failClosed: false },
} as const satisfies Record<string, RateLimitPolicy>;

export type PolicyName = keyof typeof POLICIES;

export type RateLimitTable = Record<PolicyName, RateLimitPolicy | null>;

/**
 * The effective policies after overrides ("order-create=20/60,public-read=off"); null = switched off.
 * Throws on an unknown policy or a malformed part: config loading turns that into a 503 naming the setting.
 */
export function parseRateLimitOverrides(overrides: string): RateLimitTable {
  const table: RateLimitTable = { ...POLICIES };
  for (const part of overrides
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z-]+)=(?:(off)|(\d{1,9})\/(\d{1,7}))$/.exec(part);
    if (!m?.[1]) throw new Error(`cannot read "${part}": use policy=limit/seconds or policy=off`);
    if (!Object.hasOwn(POLICIES, m[1]))
      throw new Error(`no rate-limit policy is called "${m[1]}" (known: ${Object.keys(POLICIES).join(", ")})`);
    const name = m[1] as PolicyName;
    const limit = Number(m[3]);
    const windowSec = Number(m[4]);
    if (!m[2] && (limit < 1 || windowSec < 1)) throw new Error(`"${part}": limit and seconds must be at least 1`);
    table[name] = m[2] ? null : { ...POLICIES[name], limit, windowSec };
  }
  return table;
}
