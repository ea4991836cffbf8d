/**
 * Vars and secrets validated once per isolate. Production (and staging)
 * refuse to serve when a secret is missing or weak: every request then gets a
 * 503 and the log says which setting is wrong (never its value).
 */
import { z } from "zod";

const seconds = z.coerce.number().int().min(0).max(31_536_000);
const millis = z.coerce.number().int().min(1).max(120_000);

const schema = z
  .object({
    ENVIRONMENT: z.enum(["development", "test", "staging", "production"]),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    CORS_ORIGINS: z
      .string()
      .default("*")
      .transform((s) =>
        s
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      ),
    CATALOG_CACHE_TTL_SEC: seconds.default(60),
    CATALOG_CACHE_SWR_SEC: seconds.default(300),
    CATALOG_BROWSER_TTL_SEC: seconds.default(30),
    DB_QUERY_TIMEOUT_MS: millis.default(5000),
    HEALTH_DB_TIMEOUT_MS: millis.default(1500),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
    MAX_IMPORT_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(1_048_576),
    CURSOR_SECRET: z.string().min(32, "must be at least 32 characters"),
    JWT_SECRET: z.string().min(32, "must be at least 32 characters"),
    JWT_ISSUER: z.string().min(1).default("toko-edge"),
    JWT_AUDIENCE: z.string().min(1).default("toko-edge-api"),
    JWT_TTL_SEC: z.coerce.number().int().min(60).max(86_400).default(3600),
    LOGIN_MAX_FAILURES: z.coerce.number().int().min(2).max(100).default(5),
    LOGIN_DELAY_AFTER: z.coerce.number().int().min(1).max(100).default(3),
    LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(2).max(10_000).default(20),
    LOGIN_LOCKOUT_SEC: z.coerce.number().int().min(1).max(86_400).default(900),
    /** Zone purge by Cache-Tag: both set, or neither. */
    CLOUDFLARE_ZONE_ID: z
      .string()
      .regex(/^[0-9a-f]{32}$/, "must be a 32-hex-digit zone id")
      .optional()
      .or(z.literal("").transform(() => undefined)),
    CLOUDFLARE_API_TOKEN: z
      .string()
      .min(20)
      .optional()
      .or(z.literal("").transform(() => undefined)),
    CLOUDFLARE_API_BASE: z.string().url().default("https://api.cloudflare.com/client/v4"),
    /** e.g. "order-create=20/60,public-read=off" (see src/guards/policies.ts). */
    RATE_LIMIT_OVERRIDES: z
      .string()
      .default("")
      .refine(
        (v) => v === "" || /^([a-z-]+=(off|\d+\/\d+))(,\s*[a-z-]+=(off|\d+\/\d+))*$/.test(v),
        "must look like name=limit/seconds,name=off",
      ),
    GUARD_TIMEOUT_MS: millis.default(250),
    ORDER_CACHE_TTL_SEC: seconds.default(30),
    PAYMENT_PROVIDER: z.enum(["sandbox", "stripe"]).default("sandbox"),
    PROVIDER_TIMEOUT_MS: millis.default(8000),
    PROVIDER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(5).default(3),
    PROVIDER_RETRY_BASE_MS: z.coerce.number().int().min(0).max(10_000).default(200),
    BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(100).default(5),
    BREAKER_OPEN_SEC: z.coerce.number().int().min(1).max(3600).default(30),
    SANDBOX_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    WEBHOOK_TOLERANCE_SEC: z.coerce.number().int().min(1).max(3600).default(300),
    QUEUE_RETRY_BASE_SEC: z.coerce.number().int().min(0).max(3600).default(5),
    STRIPE_API_BASE: z.string().url().default("https://api.stripe.com"),
    STRIPE_SECRET_KEY: z.string().optional(),
    /** Comma-separated: several are active during a rotation. */
    STRIPE_WEBHOOK_SECRETS: z.string().optional(),
    SANDBOX_WEBHOOK_SECRETS: z.string().optional(),
    IDEMPOTENCY_LEASE_SEC: z.coerce.number().int().min(5).max(3600).default(60),
    IDEMPOTENCY_RETENTION_SEC: z.coerce
      .number()
      .int()
      .min(259_200, "must be at least 72 h (Stripe retries webhooks for 3 days)")
      .max(2_592_000)
      .default(259_200),
  })
  .refine((c) => !c.CLOUDFLARE_ZONE_ID || c.CLOUDFLARE_API_TOKEN, {
    path: ["CLOUDFLARE_API_TOKEN"],
    message: "is required when CLOUDFLARE_ZONE_ID is set",
  })
  .refine((c) => c.LOGIN_DELAY_AFTER < c.LOGIN_MAX_FAILURES, {
    path: ["LOGIN_DELAY_AFTER"],
    message: "must be below LOGIN_MAX_FAILURES",
  });

export type Config = z.infer<typeof schema>;

/** A comma-separated secret list as an array (rotation: old and new both verify). */
export function secretList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid configuration: ${issues.join("; ")}`);
    this.issues = issues;
    this.name = "ConfigError";
  }
}

const cache = new WeakMap<object, Config>();

/** Parses the worker env into a typed config; cached per env object. Throws ConfigError. */
export function loadConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const res = schema.safeParse(env);
  if (!res.success) {
    // Names and reasons only: values (secrets) must never reach a log line.
    throw new ConfigError(res.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  if (!env.HYPERDRIVE?.connectionString || !env.HYPERDRIVE_FRESH?.connectionString) {
    throw new ConfigError(["HYPERDRIVE / HYPERDRIVE_FRESH: binding missing"]);
  }
  cache.set(env, res.data);
  return res.data;
}
