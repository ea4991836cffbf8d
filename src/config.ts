/**
 * Vars and secrets, validated once per env object. A bad setting (missing, malformed, weak,
 * or inconsistent with another) makes every request answer 503 naming the setting, never
 * its value. Every field's `.describe()` text is the documentation: `npm run docs:config`
 * writes docs/configuration.md from this file, and CI fails when that file is stale.
 */
import { z } from "zod";
import { parseRateLimitOverrides } from "./guards/policies.ts";
import { OBSERVABILITY_SECRETS, observabilitySettings, refuseObservability } from "./observability/config.ts";
import { outboundSettings, refuseOutbound } from "./outbound-config.ts";
import { webhookKeyBytes } from "./payments/signatures.ts";
import { refuseShipping, SHIPPING_SECRETS, shippingSettings } from "./shipping/config.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const seconds = int(0, 31_536_000);
const millis = int(1, 120_000);
/** An unset optional var arrives as "" from wrangler.toml: treat it as absent. */
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === "" ? undefined : v), s.optional());
const bytes = (s: string) => new TextEncoder().encode(s).length;
/** Five cron fields (minute hour day month weekday) as Cron Triggers take them. */
const CRON = /^[0-9*,/-]+( [0-9A-Za-z*,/-]+){4}$/;
/** Default of MV_REFRESH_SCHEDULE; scripts/check-crons.ts reads it for environments that do not set it. */
export const DEFAULT_MV_REFRESH_SCHEDULE = "*/10 * * * *";

/** A comma-separated secret list (several are active during a rotation), parsed once. */
const secretList = optional(
  z.string().transform((s) =>
    s
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean),
  ),
);

/** Names of the settings that are secrets (`wrangler secret put`; `.dev.vars` locally). */
export const SECRET_NAMES = new Set([
  "CURSOR_SECRET",
  "JWT_SECRET",
  "CLOUDFLARE_API_TOKEN",
  "STRIPE_SECRET_KEY",
  "STRIPE_WEBHOOK_SECRETS",
  "SANDBOX_WEBHOOK_SECRETS",
  "RESEND_API_KEY",
  ...OBSERVABILITY_SECRETS,
  ...SHIPPING_SECRETS,
]);

/** Environments that hold real money and data: stricter rules apply (see `refuse` below). */
const STRICT = new Set(["staging", "production"]);
const MIN_SECRET_BYTES = 32;
const MIN_WEBHOOK_KEY_BYTES = 24;

export const configSchema = z
  .object({
    ENVIRONMENT: z
      .enum(["development", "test", "staging", "production"])
      .describe("Where this deployment runs. `staging` and `production` refuse weak secrets; `production` refuses the sandbox provider."),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Lowest level written to the JSON logs."),
    ACCESS_LOG_SAMPLE_RATE: z.coerce
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        "Share of successful (< 400) requests whose access-log line is written (1 = every one). Errors and refusals are always logged.",
      ),
    CORS_ORIGINS: z
      .string()
      .default("*")
      .transform((s) =>
        s
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .describe('Comma-separated origins allowed by CORS, or "*".'),
    CATALOG_CACHE_TTL_SEC: seconds.default(60).describe("Edge cache freshness of public catalogue reads (`s-maxage`)."),
    CATALOG_CACHE_SWR_SEC: seconds
      .default(300)
      .describe("Stale-while-revalidate window after the TTL: served stale, refreshed in the background."),
    CATALOG_STALE_IF_ERROR_SEC: seconds
      .default(86_400)
      .describe(
        "Stale-if-error: when the origin fails (database unreachable or timing out, any 5xx), a public catalogue read is answered from the last good copy in either cache tier if it is at most this old (`X-Cache: STALE-IF-ERROR`, `Warning`, `Age`). Entries are kept in the Cache API for TTL + max(SWR, this). 0 = off: an origin error is answered as an error.",
      ),
    CATALOG_BROWSER_TTL_SEC: seconds.default(30).describe("Browser cache lifetime of public catalogue reads (`max-age`)."),
    CATALOG_L1_MAX_BYTES: int(0, 67_108_864)
      .default(16_777_216)
      .describe(
        "Memory each isolate may hold in its own tier (L1) of cached catalogue reads, in front of the Cache API; least recently used entries are evicted first (0 = no L1). An isolate has 128 MB in all.",
      ),
    CATALOG_L1_TTL_SEC: int(1, 10)
      .default(2)
      .describe(
        "How long an isolate serves a catalogue read from its own memory (L1) before asking the Cache API again; never longer than CATALOG_CACHE_TTL_SEC.",
      ),
    PUBLIC_READ_LIMITER: z
      .enum(["binding", "durable-object"])
      .default("binding")
      .describe(
        "What counts the per-IP `public-read` limit on catalogue cache misses. `binding`: the Workers Rate Limiting API (`PUBLIC_READ_RL` in wrangler.toml: per location, its limit set there; no Durable Object round trip, so no `RateLimit` remaining count, only `RateLimit-Policy`). `durable-object`: the exact global counter every other policy uses (RATE_LIMIT_OVERRIDES applies).",
      ),
    CATALOG_HOT_LANE: z
      .enum(["true", "false"])
      .default("true")
      .transform((v) => v === "true")
      .describe(
        "Answer an L1 hit before the middleware chain (the hot lane), once the full path has served that URL and that Origin from L1 in this isolate: same headers, same access-log line, a fraction of the CPU. `false` sends every read through the full path.",
      ),
    CATALOG_GENERATION_MEMO_MS: int(0, 1000)
      .default(1000)
      .describe(
        "How long an isolate reuses the catalogue generation it read from the Cache API (0 = read it on every request). A write through another isolate of the same location reaches this one's reads within this window; the writing isolate sees it at once.",
      ),
    SHED_MAX_INFLIGHT: int(0, 100_000)
      .default(256)
      .describe(
        "Load shedding: requests doing origin (database) work at once in one isolate (0 = no gate). Cache hits and `/health/*` are not counted. Payments, checkout and payment webhooks may use all of it and wait for a slot when it is full; other authenticated requests only SHED_AUTH_PCT, anonymous ones SHED_ANON_PCT: beyond that they get 503 `overloaded` with Retry-After (a catalogue read with a cached copy is served stale instead).",
      ),
    SHED_ANON_PCT: int(1, 100).default(50).describe("Share of SHED_MAX_INFLIGHT (%) anonymous origin requests may use."),
    SHED_AUTH_PCT: int(1, 100).default(80).describe("Share of SHED_MAX_INFLIGHT (%) authenticated (non-payment) requests may use."),
    SHED_CRITICAL_WAIT_MS: int(0, 30_000)
      .default(2000)
      .describe("Longest wait of a payment, checkout or webhook request for a slot when the gate is full (then 503 `overloaded`)."),
    SHED_SLOW_P95_MS: int(0, 120_000)
      .default(2000)
      .describe(
        "Slow-database signal: when the p95 time of origin work in an isolate (last 200 requests) exceeds this, the gate of every isolate, in every location, shrinks to SHED_SLOW_PCT % for 10 s (shared through a CircuitBreaker Durable Object). 0 = never.",
      ),
    SHED_SIGNAL_SYNC_MS: int(100, 600_000)
      .default(1000)
      .describe(
        "How often an isolate syncs the shared slow-database signal with its Durable Object (at most; at once after raising it). Off the request path. Raise it when very many isolates would load the one object.",
      ),
    SHED_SLOW_PCT: int(1, 100).default(25).describe("Share of SHED_MAX_INFLIGHT (%) kept open while the database is slow."),
    DB_QUERY_TIMEOUT_MS: millis.default(5000).describe("Statement timeout of every Postgres query."),
    DB_LOCK_TIMEOUT_MS: millis
      .default(2000)
      .describe(
        "Longest wait for a row lock (Postgres `lock_timeout`), below DB_QUERY_TIMEOUT_MS. A contended write that waits longer answers `409 concurrency_conflict` with Retry-After.",
      ),
    HEALTH_DB_TIMEOUT_MS: millis.default(1500).describe("How long `/health/ready` waits for Postgres."),
    MAX_BODY_BYTES: int(1024, 10_485_760).default(65_536).describe("Largest accepted JSON request body (413 above)."),
    MAX_IMPORT_BODY_BYTES: int(1024, 10_485_760).default(1_048_576).describe("Largest body of `POST /api/v1/admin/products/import`."),
    CURSOR_SECRET: z
      .string()
      .min(MIN_SECRET_BYTES, `must be at least ${MIN_SECRET_BYTES} characters`)
      .describe("HMAC key that signs pagination cursors (≥ 32 bytes)."),
    JWT_SECRET: z
      .string()
      .min(MIN_SECRET_BYTES, `must be at least ${MIN_SECRET_BYTES} characters`)
      .describe("HS256 key of the access tokens (≥ 32 bytes)."),
    JWT_ISSUER: z.string().min(1).default("toko-edge").describe("`iss` claim issued and required."),
    JWT_AUDIENCE: z.string().min(1).default("toko-edge-api").describe("`aud` claim issued and required."),
    JWT_TTL_SEC: int(60, 86_400).default(3600).describe("Access token lifetime."),
    AUTH_CACHE_SEC: int(0, 60)
      .default(5)
      .describe(
        "How long an isolate caches an account's role and token version for authenticated reads (0 = read the users row on every request). A demotion, revocation or deletion made through another isolate reaches reads within this window; writes (POST, PATCH, PUT, DELETE) always read the row.",
      ),
    LOGIN_MAX_FAILURES: int(2, 100).default(5).describe("Failed logins per account before it is locked for LOGIN_LOCKOUT_SEC."),
    LOGIN_DELAY_AFTER: int(1, 100)
      .default(3)
      .describe("Failed logins per account after which each attempt is slowed down (below LOGIN_MAX_FAILURES)."),
    LOGIN_IP_MAX_FAILURES: int(2, 10_000)
      .default(20)
      .describe("Failed logins per client (IPv4 address, IPv6 /64) before that client is locked."),
    LOGIN_LOCKOUT_SEC: int(1, 86_400).default(900).describe("How long a login lockout lasts."),
    CLOUDFLARE_ZONE_ID: optional(z.string().regex(/^[0-9a-f]{32}$/, "must be a 32-hex-digit zone id")).describe(
      "Zone whose cache is purged by Cache-Tag after catalogue writes. Needs CLOUDFLARE_API_TOKEN.",
    ),
    CLOUDFLARE_API_TOKEN: optional(z.string().min(20, "must be at least 20 characters")).describe(
      "API token with Cache Purge permission on CLOUDFLARE_ZONE_ID.",
    ),
    CLOUDFLARE_API_BASE: z
      .string()
      .url()
      .default("https://api.cloudflare.com/client/v4")
      .describe("Cloudflare API base URL (tests point it at a stub)."),
    RATE_LIMIT_OVERRIDES: z
      .string()
      .default("")
      .transform((text, ctx) => {
        try {
          return parseRateLimitOverrides(text);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "cannot be read" });
          return z.NEVER;
        }
      })
      .describe(
        'Rate-limit policy overrides, `policy=limit/seconds` or `policy=off`, comma-separated (e.g. "order-create=20/60,public-read=off"). Checked against the policy table in src/guards/policies.ts at load.',
      ),
    GUARD_TIMEOUT_MS: millis
      .default(250)
      .describe("Longest wait for a guard Durable Object (rate limiter; the idempotency store gets 4×)."),
    ORDER_CACHE_TTL_SEC: seconds.default(30).describe("Private per-user cache lifetime of order reads."),
    PAYMENT_PROVIDER: z
      .enum(["sandbox", "stripe"])
      .default("sandbox")
      .describe("Payment provider adapter. `stripe` needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS; production refuses `sandbox`."),
    PROVIDER_TIMEOUT_MS: millis.default(8000).describe("Timeout of one call to the payment provider."),
    PROVIDER_MAX_ATTEMPTS: int(1, 5).default(3).describe("Attempts per provider call (jittered exponential backoff between them)."),
    PROVIDER_RETRY_BASE_MS: int(0, 10_000)
      .default(100)
      .describe(
        "First retry delay of provider calls; each next one is 4× (100 ms, 400 ms, …, equal jitter): the outbound schedule of src/lib/backoff.ts, shared with the shipping carriers.",
      ),
    BREAKER_FAILURE_THRESHOLD: int(1, 100).default(5).describe("Consecutive provider failures that open the circuit breaker."),
    BREAKER_OPEN_SEC: int(1, 3600).default(30).describe("How long an open breaker refuses calls before a half-open probe."),
    SANDBOX_DELAY_MS: int(0, 60_000).default(2000).describe("Sandbox provider: delay before it sends its webhook."),
    WEBHOOK_TOLERANCE_SEC: int(1, 3600).default(300).describe("Largest accepted age (or clock skew) of a signed webhook timestamp."),
    QUEUE_RETRY_BASE_SEC: int(0, 3600).default(5).describe("Base delay of the queue consumer's retry backoff (0 = retry at once; tests)."),
    WEBHOOK_SWEEP_AFTER_SEC: int(60, 86_400)
      .default(300)
      .describe(
        "Webhook sweeper: a stored event still RECEIVED this long after it arrived is queued again (its message was lost: Postgres away, DLQ out of retries), then at most once per this interval. Longer than the payment-events queue's own retries.",
      ),
    STRIPE_API_BASE: z.string().url().default("https://api.stripe.com").describe("Stripe API base URL (tests point it at a stub)."),
    STRIPE_SECRET_KEY: optional(
      z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/, "must be a Stripe secret or restricted key"),
    ).describe("Stripe secret key (`sk_live_…`/`sk_test_…`). Required with PAYMENT_PROVIDER=stripe."),
    STRIPE_WEBHOOK_SECRETS: secretList.describe(
      "Comma-separated Stripe endpoint signing secrets (`whsec_…`); several during a rotation. Required with PAYMENT_PROVIDER=stripe.",
    ),
    SANDBOX_WEBHOOK_SECRETS: secretList.describe(
      "Comma-separated Standard Webhooks secrets (`whsec_` + base64 of 24–64 key bytes) of the sandbox provider; the first signs.",
    ),
    ORDER_PAYMENT_WINDOW_SEC: int(1, 604_800)
      .default(1800)
      .describe("How long an unpaid PENDING order holds its stock; then the order-expiry job cancels it and restocks (`expires_at`)."),
    PAYMENT_IN_FLIGHT_MAX_SEC: int(60, 86_400)
      .default(3600)
      .describe(
        "An expired order whose payment was started (INITIATED) less than this ago is left alone (3-D Secure, slow banks); after it, the order expires anyway.",
      ),
    PAYMENT_LEASE_SEC: int(30, 86_400)
      .default(900)
      .describe(
        "How long an attempt to pay holds its order's payment. A request that died mid-attempt stops blocking the order after this; a retry with the same Idempotency-Key takes over at once.",
      ),
    MAX_OPEN_ORDERS_PER_USER: int(1, 1000)
      .default(5)
      .describe("Unpaid PENDING orders one customer may hold at once; one more is refused with 429 `open_orders_limit`."),
    MAX_RESERVED_UNITS_PER_SKU: int(1, 1_000_000)
      .default(20)
      .describe("Units of one SKU one customer may hold across their PENDING orders; more is refused with 409 `reservation_limit`."),
    JOB_BATCH_SIZE: int(1, 10_000).default(500).describe("Rows a scheduled job handles per batch (orders expired, rows deleted)."),
    JOB_TIME_BUDGET_MS: int(100, 600_000)
      .default(20_000)
      .describe("A scheduled job stops starting new batches after this long; the next run continues."),
    MV_REFRESH_SCHEDULE: z
      .string()
      .regex(CRON, "must be a five-field cron expression")
      .default(DEFAULT_MV_REFRESH_SCHEDULE)
      .describe(
        "Cron expression (UTC) of the reports-refresh job, which refreshes the sales materialized views. It must also be listed in the environment's `[triggers] crons` in wrangler.toml (`npm run lint` checks).",
      ),
    MV_REFRESH_TIMEOUT_MS: int(1000, 600_000)
      .default(30_000)
      .describe(
        "Statement timeout of a sales-view refresh (its own connection; other queries keep DB_QUERY_TIMEOUT_MS). A refresh that runs longer is rolled back; the views keep their previous contents.",
      ),
    ANALYTICS_CACHE_TTL_SEC: int(0, 3600)
      .default(60)
      .describe(
        "How stale a report read may be: set it to the `max_age` of the HYPERDRIVE_CACHED config (Hyperdrive's query cache) and it is sent as `Cache-Control: private, max-age`. The summary's clock moves in steps of it so its queries can be cached.",
      ),
    LOGIN_THROTTLE_RETENTION_SEC: int(3600, 31_536_000)
      .default(86_400)
      .describe("Retention job: failed-login counters idle this long (and not locked) are deleted."),
    WEBHOOK_EVENT_RETENTION_SEC: int(259_200, 31_536_000)
      .default(2_592_000)
      .describe("Retention job: PROCESSED/IGNORED webhook events older than this are deleted (≥ 72 h: providers retry for 3 days)."),
    OUTBOX_RETENTION_SEC: int(3600, 31_536_000)
      .default(604_800)
      .describe("Retention job: outbox rows published longer ago than this are deleted."),
    IDEMPOTENCY_LEASE_SEC: int(5, 3600)
      .default(60)
      .describe("How long a request holding an Idempotency-Key may run before another may take over."),
    IDEMPOTENCY_RETENTION_SEC: z.coerce
      .number()
      .int()
      .min(259_200, "must be at least 72 h (Stripe retries webhooks for 3 days)")
      .max(2_592_000)
      .default(259_200)
      .describe("How long a stored Idempotency-Key outcome is replayed (≥ 72 h)."),
    ...outboundSettings,
    ...observabilitySettings,
    ...shippingSettings,
  })
  .superRefine((c, ctx) => {
    const refuse = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.CLOUDFLARE_ZONE_ID && !c.CLOUDFLARE_API_TOKEN) refuse("CLOUDFLARE_API_TOKEN", "is required when CLOUDFLARE_ZONE_ID is set");
    if (c.LOGIN_DELAY_AFTER >= c.LOGIN_MAX_FAILURES) refuse("LOGIN_DELAY_AFTER", "must be below LOGIN_MAX_FAILURES");
    if (c.DB_LOCK_TIMEOUT_MS >= c.DB_QUERY_TIMEOUT_MS) refuse("DB_LOCK_TIMEOUT_MS", "must be below DB_QUERY_TIMEOUT_MS");
    if (c.PAYMENT_PROVIDER === "stripe") {
      if (!c.STRIPE_SECRET_KEY) refuse("STRIPE_SECRET_KEY", "is required when PAYMENT_PROVIDER is stripe");
      if (!c.STRIPE_WEBHOOK_SECRETS?.length) refuse("STRIPE_WEBHOOK_SECRETS", "is required when PAYMENT_PROVIDER is stripe");
    }
    for (const s of c.SANDBOX_WEBHOOK_SECRETS ?? []) {
      if (!webhookKeyBytes(s)) refuse("SANDBOX_WEBHOOK_SECRETS", "each secret must be whsec_ followed by base64");
    }
    if (c.ENVIRONMENT === "production" && c.PAYMENT_PROVIDER === "sandbox") {
      refuse("PAYMENT_PROVIDER", "the sandbox provider takes no real money: production refuses it");
    }
    refuseOutbound(c, refuse);
    refuseObservability(c, refuse);
    refuseShipping(c, refuse);
    if (!STRICT.has(c.ENVIRONMENT)) return;
    for (const name of ["CURSOR_SECRET", "JWT_SECRET", "STRIPE_SECRET_KEY", "CLOUDFLARE_API_TOKEN", "SHIPPING_RATE_SECRET"] as const) {
      const v = c[name];
      if (v !== undefined && bytes(v) < MIN_SECRET_BYTES) refuse(name, `must be at least ${MIN_SECRET_BYTES} bytes in ${c.ENVIRONMENT}`);
    }
    if ((c.STRIPE_WEBHOOK_SECRETS ?? []).some((s) => bytes(s) < MIN_WEBHOOK_KEY_BYTES)) {
      refuse("STRIPE_WEBHOOK_SECRETS", `each secret must be at least ${MIN_WEBHOOK_KEY_BYTES} bytes in ${c.ENVIRONMENT}`);
    }
    if ((c.SANDBOX_WEBHOOK_SECRETS ?? []).some((s) => (webhookKeyBytes(s)?.length ?? 0) < MIN_WEBHOOK_KEY_BYTES)) {
      refuse("SANDBOX_WEBHOOK_SECRETS", `each key must be at least ${MIN_WEBHOOK_KEY_BYTES} bytes in ${c.ENVIRONMENT}`);
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  /** `NAME: reason` lines; never a value. */
  readonly issues: string[];
  /** The names of the settings at fault. */
  readonly settings: string[];
  constructor(issues: { setting: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => i.setting).join(", ")}`);
    this.issues = issues.map((i) => `${i.setting}: ${i.message}`);
    this.settings = [...new Set(issues.map((i) => i.setting))];
    this.name = "ConfigError";
  }
}

const cache = new WeakMap<object, Config | ConfigError>();

/** Parses the worker env into a typed config; cached per env object (a failure too). Throws ConfigError. */
export function loadConfig(env: Env): Config {
  let res = cache.get(env);
  if (!res) {
    const parsed = configSchema.safeParse(env);
    if (!parsed.success) {
      // Names and reasons only: values (secrets) must never reach a log line or a response.
      res = new ConfigError(parsed.error.issues.map((i) => ({ setting: String(i.path[0] ?? "config"), message: i.message })));
    } else if (!env.HYPERDRIVE_FRESH?.connectionString) {
      res = new ConfigError([{ setting: "HYPERDRIVE_FRESH", message: "binding missing" }]);
    } else if (!env.HYPERDRIVE_CACHED?.connectionString) {
      res = new ConfigError([{ setting: "HYPERDRIVE_CACHED", message: "binding missing" }]);
    } else {
      res = parsed.data;
    }
    cache.set(env, res);
  }
  if (res instanceof ConfigError) throw res;
  return res;
}
