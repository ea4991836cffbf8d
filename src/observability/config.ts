/**
 * The settings of metrics, `/metrics` and Sentry (issue 16), spread into the config schema of
 * src/config.ts (which documents and validates them with the rest, and lists the secrets).
 */
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === "" ? undefined : v), s.optional());

export const observabilitySettings = {
  RELEASE: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1–64 letters, digits, dots, dashes or underscores")
    .default("dev")
    .describe(
      "The git commit the worker was built from: Sentry's release, `toko_build_info` on /metrics, blob9 of every metric point. `npm run deploy` sets it (`--var RELEASE:$(git rev-parse HEAD)`); never set it in wrangler.toml.",
    ),
  METRICS_TOKEN: optional(z.string().min(32, "must be at least 32 characters")).describe(
    "Bearer token Prometheus sends to `GET /metrics` and `GET /metrics/edge` (≥ 32 characters). Without it both answer 401. Production requires it at deploy (`[env.production.secrets] required`); the API keeps serving if it goes missing later (the scrape alert fires).",
  ),
  METRICS_CACHE_SEC: int(0, 60)
    .default(5)
    .describe("How long an isolate reuses the figures of `GET /metrics` (Postgres and Durable Object reads) before reading them again."),
  METRICS_DATASET: optional(z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "must be a dataset name (letters, digits, underscores)")).describe(
    "Name of this environment's Analytics Engine dataset (`dataset` of the METRICS binding in wrangler.toml; `npm run deploy:check` compares them): `GET /metrics/edge` queries it through the SQL API.",
  ),
  ANALYTICS_ACCOUNT_ID: optional(z.string().regex(/^[0-9a-f]{32}$/, "must be a 32-hex-digit account id")).describe(
    "Cloudflare account that owns the METRICS dataset (the SQL API is per account). Needed by `GET /metrics/edge`.",
  ),
  ANALYTICS_API_TOKEN: optional(z.string().min(20, "must be at least 20 characters")).describe(
    "API token with `Account Analytics: Read`, used by `GET /metrics/edge` to query the METRICS dataset through the SQL API. Without it that endpoint reports `toko_edge_up 0`.",
  ),
  EDGE_METRICS_WINDOW_SEC: int(60, 3600)
    .default(300)
    .describe("`GET /metrics/edge`: the window (seconds up to now) its latency quantiles, error and cache ratios are computed over."),
  EDGE_METRICS_CACHE_SEC: int(0, 600)
    .default(30)
    .describe("`GET /metrics/edge`: how long an isolate reuses the SQL API's answers (the API is rate limited; the window is minutes)."),
  SENTRY_DSN: optional(
    z.string().regex(/^https:\/\/[A-Za-z0-9]+@[A-Za-z0-9.-]+(:\d+)?\/[0-9]+$/, "must be a Sentry DSN (https://<key>@<host>/<project>)"),
  ).describe(
    "Sentry project DSN. When set, 5xx answers and unhandled errors of requests, queue batches and Cron Triggers are reported (scrubbed: src/lib/sentry.ts); unset, nothing is sent.",
  ),
};

type Observability = z.infer<z.ZodObject<typeof observabilitySettings>>;

/** Secrets among these settings (joined to SECRET_NAMES in src/config.ts). */
export const OBSERVABILITY_SECRETS = ["METRICS_TOKEN", "ANALYTICS_API_TOKEN", "SENTRY_DSN"] as const;

/** The rules across settings of this feature (called from the config schema's superRefine). */
export function refuseObservability(c: Observability & { ENVIRONMENT: string }, refuse: (path: string, message: string) => void): void {
  // METRICS_TOKEN is required in production by wrangler.toml ([env.production.secrets] required: no deploy
  // without it) and by `npm run deploy:check`, not here: a monitoring token gone missing must page the
  // operator (scrapes fail: TokoScrapeFailing), not take the shop down with a 503 on every request.
  if (c.ANALYTICS_API_TOKEN && !c.ANALYTICS_ACCOUNT_ID) refuse("ANALYTICS_ACCOUNT_ID", "is required when ANALYTICS_API_TOKEN is set");
  if (c.ANALYTICS_API_TOKEN && !c.METRICS_DATASET) refuse("METRICS_DATASET", "is required when ANALYTICS_API_TOKEN is set");
}
