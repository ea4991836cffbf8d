/**
 * The settings of shipping (issue 19), spread into the config schema of src/config.ts (which documents
 * and validates them with the rest, and lists the secrets). docs/shipping.md explains them together.
 */
import { z } from "zod";
import { COUNTRIES } from "./countries.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === "" ? undefined : v), s.optional());

export interface FlatRate {
  zone: string;
  /** ISO 3166-1 codes, or "*" for every country no other zone names. */
  countries: ReadonlySet<string> | "*";
  currency: string;
  amountCents: number;
  days: number;
}

/** Default fallback table: domestic for the default origin (US), the rest of the world; USD and EUR (the demo catalogue's). */
export const DEFAULT_FLAT_RATES = "domestic:US:USD:799:5;domestic:US:EUR:749:5;world:*:USD:2499:12;world:*:EUR:2299:12";

/** `zone:COUNTRIES:CUR:amount:days` entries joined by `;` (COUNTRIES: codes joined by `,`, or `*`). Throws on any mistake. */
export function parseFlatRates(text: string): FlatRate[] {
  const zoneOf = new Map<string, string>();
  const seen = new Set<string>();
  return text
    .split(";")
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([a-z0-9-]{1,32}):(\*|[A-Z]{2}(?:,[A-Z]{2})*):([A-Z]{3}):(\d{1,8}):(\d{1,2})$/.exec(entry);
      if (!m) throw new Error(`cannot read "${entry}": use zone:COUNTRIES:CUR:amount:days, e.g. domestic:US:USD:799:5`);
      const [, zone, list, currency, amount, days] = m as unknown as [string, string, string, string, string, string];
      const countries = list === "*" ? "*" : new Set(list.split(","));
      for (const c of countries === "*" ? ["*"] : countries) {
        if (c !== "*" && !COUNTRIES.has(c)) throw new Error(`"${entry}": ${c} is not an ISO 3166-1 country code`);
        const other = zoneOf.get(c);
        if (other && other !== zone) throw new Error(`${c} is in two zones (${other} and ${zone})`);
        zoneOf.set(c, zone);
      }
      const key = `${list}:${currency}`;
      if (seen.has(key)) throw new Error(`"${entry}": ${zone} has two ${currency} rates`);
      seen.add(key);
      if (Number(days) < 1) throw new Error(`"${entry}": days must be at least 1`);
      return { zone, countries, currency, amountCents: Number(amount), days: Number(days) };
    });
}

/** The flat rate for a destination country in a currency: the zone naming the country, else the `*` zone. */
export function flatRateFor(rates: readonly FlatRate[], country: string, currency: string): FlatRate | null {
  const named = rates.find((r) => r.countries !== "*" && r.countries.has(country));
  const zone = named?.zone ?? rates.find((r) => r.countries === "*")?.zone;
  return rates.find((r) => r.zone === zone && r.currency === currency && (r.countries === "*" || r.countries.has(country))) ?? null;
}

const country = z.string().refine((c) => COUNTRIES.has(c), "must be an ISO 3166-1 alpha-2 country code");

export const shippingSettings = {
  SHIPPING_CARRIER: z
    .enum(["sandbox", "fedex"])
    .default("sandbox")
    .describe(
      "Carrier that quotes shipping. `sandbox`: the in-process simulator (OAuth tokens, rates, failures on demand; dev, tests, staging). `fedex`: FedEx's REST APIs (needs FEDEX_CLIENT_ID, FEDEX_CLIENT_SECRET, FEDEX_ACCOUNT_NUMBER, SHIPPING_ORIGIN_POSTAL_CODE). Production refuses `sandbox`.",
    ),
  SHIPPING_RATE_SECRET: z
    .string()
    .min(32, "must be at least 32 characters")
    .describe(
      "HMAC key that signs quoted rates (`rate_id`): checkout charges the signed amount, never the client's. Rotating it voids rates quoted before (clients quote again).",
    ),
  SHIPPING_RATE_TTL_SEC: int(60, 86_400)
    .default(900)
    .describe("How long a quoted rate can be used at checkout (`expires_at`); later it is refused with 409 `shipping_rate_expired`."),
  SHIPPING_QUOTE_CACHE_SEC: int(0, 600)
    .default(60)
    .describe(
      "Identical quote requests (same normalised destination and items) within this window are answered from the Cache API without calling the carrier (0 = off). At most half of SHIPPING_RATE_TTL_SEC. Fallback quotes are never cached.",
    ),
  SHIPPING_TIMEOUT_MS: int(100, 30_000)
    .default(5000)
    .describe("Timeout of one call to the carrier (the token endpoint or the rates endpoint)."),
  SHIPPING_MAX_ATTEMPTS: int(1, 4)
    .default(4)
    .describe(
      "Attempts per quote on a retryable failure (network, timeout, 429, 5xx), spaced 100 ms, 400 ms, 1,600 ms (× SHIPPING_RETRY_BASE_MS / 100), each with equal jitter. Never retried on another 4xx.",
    ),
  SHIPPING_RETRY_BASE_MS: int(0, 10_000)
    .default(100)
    .describe("First retry delay of carrier calls; each next one is 4× (src/lib/backoff.ts, the payment client's helper too)."),
  SHIPPING_TOKEN_WAIT_MS: int(100, 60_000)
    .default(6000)
    .describe(
      "How long a quote waits for the one token refresh in flight (another request's) before its attempt fails and is retried. At least SHIPPING_TIMEOUT_MS.",
    ),
  SHIPPING_BREAKER_THRESHOLD: int(1, 100)
    .default(5)
    .describe("Consecutive failed carrier calls that open the carrier's circuit breaker; quotes then fall back to SHIPPING_FLAT_RATES."),
  SHIPPING_BREAKER_OPEN_SEC: int(1, 3600).default(30).describe("How long an open carrier breaker serves flat rates before one probe."),
  SHIPPING_ORIGIN_COUNTRY: country
    .default("US")
    .describe("Country parcels ship from (ISO 3166-1 alpha-2): the carrier's origin, and `domestic` in the sandbox's prices."),
  SHIPPING_ORIGIN_POSTAL_CODE: optional(z.string().regex(/^[A-Za-z0-9 -]{2,16}$/, "must be a postal code")).describe(
    "Postal code parcels ship from. Required with SHIPPING_CARRIER=fedex.",
  ),
  SHIPPING_DEFAULT_WEIGHT_G: int(1, 1_000_000)
    .default(500)
    .describe("Weight assumed per unit of a physical product whose weight is not set (PUT /api/v1/admin/products/{id}/shipping)."),
  SHIPPING_FLAT_RATES: z
    .string()
    .default(DEFAULT_FLAT_RATES)
    .transform((text, ctx) => {
      try {
        return parseFlatRates(text);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "cannot be read" });
        return z.NEVER;
      }
    })
    .describe(
      "Fallback rates served (`estimated: true`) while the carrier is down or its breaker is open: `zone:COUNTRIES:CUR:amount:days` joined by `;`, COUNTRIES being codes joined by `,` or `*` for the rest of the world, amounts in minor units. A destination and currency without an entry get 503 `shipping_unavailable` then.",
    ),
  SHIPPING_SANDBOX_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1–64 letters, digits, dots, dashes or underscores")
    .default("toko-sandbox")
    .describe(
      "Sandbox carrier: the OAuth client id it is called with (it accepts any). One token cache per client id, as with real credentials.",
    ),
  SHIPPING_SANDBOX_TOKEN_TTL_SEC: int(1, 86_400)
    .default(120)
    .describe(
      "Sandbox carrier: `expires_in` of the tokens it issues (short, so refreshes happen in development); it answers 401 to an expired one.",
    ),
  SHIPPING_SANDBOX_MODE: z
    .enum(["ok", "fail", "timeout", "rate_limit"])
    .default("ok")
    .describe("Sandbox carrier: answer normally, or every call with a 503, no answer at all, or a 429 (to try the fallback locally)."),
  FEDEX_API_BASE: z
    .string()
    .url()
    .default("https://apis.fedex.com")
    .describe(
      "FedEx API base URL: https://apis.fedex.com, or https://apis-sandbox.fedex.com for FedEx's test environment (tests point it at a stub).",
    ),
  FEDEX_CLIENT_ID: optional(z.string().min(1).max(200)).describe(
    "FedEx project API key (OAuth client_id). Required with SHIPPING_CARRIER=fedex.",
  ),
  FEDEX_CLIENT_SECRET: optional(z.string().min(1).max(200)).describe(
    "FedEx project secret key (OAuth client_secret): sent only to FedEx's token endpoint, never logged. Required with SHIPPING_CARRIER=fedex.",
  ),
  FEDEX_ACCOUNT_NUMBER: optional(z.string().regex(/^[A-Za-z0-9]{1,64}$/, "must be a FedEx account number")).describe(
    "FedEx shipping account number, for account rates. Required with SHIPPING_CARRIER=fedex.",
  ),
};

type Shipping = z.infer<z.ZodObject<typeof shippingSettings>>;

/** Secrets among these settings (joined to SECRET_NAMES in src/config.ts). */
export const SHIPPING_SECRETS = ["SHIPPING_RATE_SECRET", "FEDEX_CLIENT_ID", "FEDEX_CLIENT_SECRET", "FEDEX_ACCOUNT_NUMBER"] as const;

/** The rules across settings of this feature (called from the config schema's superRefine). */
export function refuseShipping(c: Shipping & { ENVIRONMENT: string }, refuse: (path: string, message: string) => void): void {
  if (c.ENVIRONMENT === "production" && c.SHIPPING_CARRIER === "sandbox") {
    refuse("SHIPPING_CARRIER", "the sandbox carrier quotes made-up prices: production refuses it");
  }
  if (c.SHIPPING_CARRIER === "fedex") {
    for (const name of ["FEDEX_CLIENT_ID", "FEDEX_CLIENT_SECRET", "FEDEX_ACCOUNT_NUMBER", "SHIPPING_ORIGIN_POSTAL_CODE"] as const) {
      if (!c[name]) refuse(name, "is required when SHIPPING_CARRIER is fedex");
    }
  }
  if (c.SHIPPING_QUOTE_CACHE_SEC * 2 > c.SHIPPING_RATE_TTL_SEC) {
    refuse("SHIPPING_QUOTE_CACHE_SEC", "must be at most half of SHIPPING_RATE_TTL_SEC (a cached rate must stay usable)");
  }
  if (c.SHIPPING_TOKEN_WAIT_MS < c.SHIPPING_TIMEOUT_MS) refuse("SHIPPING_TOKEN_WAIT_MS", "must be at least SHIPPING_TIMEOUT_MS");
}
