/**
 * The settings of outbound webhooks and customer notifications (issue 15), spread into the config
 * schema of src/config.ts (which documents and validates them with the rest). Kept here so the
 * one config file does not grow by a screenful for one feature.
 */
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === "" ? undefined : v), s.optional());
const flag = (def: "true" | "false") =>
  z
    .enum(["true", "false"])
    .default(def)
    .transform((v) => v === "true");

/** Cloudflare Queues delay a message by at most 12 h: no wait in the schedule may be longer. */
export const MAX_QUEUE_DELAY_SEC = 43_200;
/** Standard Webhooks / Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const SVIX_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000";

export const outboundSettings = {
  WEBHOOK_RETRY_SCHEDULE_SEC: z
    .string()
    .default(SVIX_SCHEDULE)
    .transform((text, ctx) => {
      const waits = text.split(",").map((p) => p.trim());
      const ok = waits.length >= 1 && waits.length <= 20 && waits.every((w) => /^\d{1,5}$/.test(w) && Number(w) <= MAX_QUEUE_DELAY_SEC);
      if (!ok) {
        ctx.addIssue({ code: "custom", message: `must be 1–20 comma-separated waits in seconds, each at most ${MAX_QUEUE_DELAY_SEC}` });
        return z.NEVER;
      }
      return waits.map(Number);
    })
    .describe(
      "Outbound webhooks: the wait before each attempt of a delivery, in seconds (the first is the first attempt's; each is jittered by ±10%). Its length is the number of attempts; after the last one fails the delivery is dead-lettered. At most 43200 (the Queues delay limit).",
    ),
  WEBHOOK_TIMEOUT_MS: int(1000, 30_000)
    .default(10_000)
    .describe("Outbound webhooks: how long one attempt waits for the receiver's answer."),
  WEBHOOK_SECRET_GRACE_SEC: int(0, 604_800)
    .default(86_400)
    .describe(
      "Outbound webhooks: after `rotate-secret`, how long the previous secret keeps signing next to the new one (two `v1,` signatures), so receivers can switch without losing a delivery.",
    ),
  WEBHOOK_DISABLE_AFTER_SEC: int(3600, 2_592_000)
    .default(432_000)
    .describe(
      "Outbound webhooks: an endpoint whose attempts have all failed for this long (5 days) is disabled, and a `webhook_endpoint.disabled` event and an error log line tell the admins.",
    ),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(1, 100)
    .default(10)
    .describe("Outbound webhooks: attempts in flight to one endpoint at once (shared by every isolate); the rest wait in the queue."),
  WEBHOOK_BREAKER_THRESHOLD: int(1, 1000)
    .default(5)
    .describe("Outbound webhooks: consecutive failed attempts (network, timeout, 429, 5xx) that open an endpoint's circuit breaker."),
  WEBHOOK_BREAKER_OPEN_SEC: int(1, 3600)
    .default(60)
    .describe("Outbound webhooks: how long an open breaker holds an endpoint's deliveries back before one probe is let through."),
  WEBHOOK_DOH_URL: z
    .string()
    .url()
    .default("https://cloudflare-dns.com/dns-query")
    .describe(
      "DNS-over-HTTPS resolver (JSON API) that checks a webhook URL's host at registration and before every attempt: any private, loopback, link-local, CGNAT, multicast or metadata address refuses it. Tests point it at a stub.",
    ),
  WEBHOOK_ALLOW_LOOPBACK: flag("false").describe(
    "Local development only: let webhook URLs point at loopback (127.0.0.0/8, ::1, localhost) over http, e.g. a receiver on this machine. Staging and production refuse `true`.",
  ),
  OUTBOUND_SWEEP_AFTER_SEC: int(60, 86_400)
    .default(300)
    .describe(
      "outbound-sweep job: a webhook delivery due this long ago, or a notification pending this long, whose queue message was lost is queued again.",
    ),
  OUTBOUND_LOG_RETENTION_SEC: int(172_800, 31_536_000)
    .default(2_592_000)
    .describe(
      "Retention of the webhook delivery log (messages, deliveries, attempts) and of sent or failed notifications. At least 48 h: longer than the retry schedule.",
    ),
  EMAIL_PROVIDER: z
    .enum(["sandbox", "resend"])
    .default("sandbox")
    .describe(
      "Customer emails: `sandbox` keeps the rendered message in the database (GET /api/v1/admin/notifications) and sends nothing; `resend` sends through Resend's HTTP API (needs RESEND_API_KEY). Set `resend` in production.",
    ),
  EMAIL_FROM: z
    .string()
    .min(3)
    .max(200)
    .default("Toko <orders@toko.example>")
    .describe("Sender of customer emails (a verified domain at the provider)."),
  EMAIL_TIMEOUT_MS: int(1000, 30_000).default(10_000).describe("How long a call to the email provider may take."),
  RESEND_API_BASE: z.string().url().default("https://api.resend.com").describe("Resend API base URL (tests point it at a stub)."),
  RESEND_API_KEY: optional(z.string().regex(/^re_[A-Za-z0-9_]+$/, "must be a Resend API key (re_…)")).describe(
    "Resend API key. Required with EMAIL_PROVIDER=resend.",
  ),
};

type Outbound = z.infer<z.ZodObject<typeof outboundSettings>>;

/** The rules across settings of this feature (called from the config schema's superRefine). */
export function refuseOutbound(c: Outbound & { ENVIRONMENT: string }, refuse: (path: string, message: string) => void): void {
  if (c.EMAIL_PROVIDER === "resend" && !c.RESEND_API_KEY) refuse("RESEND_API_KEY", "is required when EMAIL_PROVIDER is resend");
  if (c.WEBHOOK_ALLOW_LOOPBACK && (c.ENVIRONMENT === "production" || c.ENVIRONMENT === "staging")) {
    refuse("WEBHOOK_ALLOW_LOOPBACK", `lets webhooks reach loopback addresses: ${c.ENVIRONMENT} refuses it`);
  }
}
