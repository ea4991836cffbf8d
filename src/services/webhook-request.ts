/**
 * One outbound webhook request: the SSRF check of the URL (resolved now), the Standard Webhooks
 * signature with every active secret, the POST without following redirects, bounded by the timeout,
 * and the first 1 KiB of the answer. Also the schedule arithmetic (Svix's waits, jitter, Retry-After).
 */
import type { Config } from "../config.ts";
import type { ClaimedDelivery } from "../db/webhook-deliveries.repo.ts";
import { assertPublicUrl, DnsUnavailableError, UrlRefusedError } from "../lib/ssrf.ts";
import { withTimeout } from "../lib/timeout.ts";
import { MAX_QUEUE_DELAY_SEC } from "../outbound-config.ts";
import { signStandardWebhook } from "../payments/signatures.ts";

export type DeliveryConfig = Pick<
  Config,
  | "ENVIRONMENT"
  | "WEBHOOK_RETRY_SCHEDULE_SEC"
  | "WEBHOOK_TIMEOUT_MS"
  | "WEBHOOK_DISABLE_AFTER_SEC"
  | "WEBHOOK_ENDPOINT_CONCURRENCY"
  | "WEBHOOK_BREAKER_THRESHOLD"
  | "WEBHOOK_BREAKER_OPEN_SEC"
  | "WEBHOOK_DOH_URL"
  | "WEBHOOK_ALLOW_LOOPBACK"
>;

/** Standard Webhooks `webhook-id`: the delivery's id, so it is the same on every attempt to one endpoint. */
export const webhookId = (deliveryId: string) => `msg_${deliveryId.replaceAll("-", "")}`;

/** The URL rules of this deployment: https only outside development/test; loopback only behind the flag. */
export function urlPolicy(cfg: Pick<Config, "ENVIRONMENT" | "WEBHOOK_ALLOW_LOOPBACK">) {
  return { allowHttp: cfg.ENVIRONMENT === "development" || cfg.ENVIRONMENT === "test", allowLoopback: cfg.WEBHOOK_ALLOW_LOOPBACK };
}

/** The wait before attempt `next` (1-based) with ±10 % jitter, in whole seconds; null when the schedule is used up. */
export function scheduledWait(schedule: number[], next: number, random = Math.random): number | null {
  const base = schedule[next - 1];
  if (base === undefined) return null;
  return Math.min(MAX_QUEUE_DELAY_SEC, Math.ceil(base * (0.9 + 0.2 * random())));
}

/** Retry-After as seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterSec(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d{1,10}$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The headers and body of one attempt: every active secret signs (two `v1,` during a rotation). */
export async function signedRequest(
  d: Pick<ClaimedDelivery, "id" | "secret" | "previous_secret" | "event_type" | "payload" | "occurred_at">,
  nowSec: number,
) {
  const id = webhookId(d.id);
  const body = JSON.stringify({ type: d.event_type, timestamp: d.occurred_at, data: d.payload });
  const secrets = [d.secret, ...(d.previous_secret ? [d.previous_secret] : [])];
  const signatures = await Promise.all(secrets.map((s) => signStandardWebhook(s, id, nowSec, body)));
  return {
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "Toko-Webhooks/1.0",
      "webhook-id": id,
      "webhook-timestamp": String(nowSec),
      "webhook-signature": signatures.join(" "),
    },
  };
}

/** At most the first 1 KiB of a response body, without reading the rest. */
async function firstKiB(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < 1024) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(Math.min(size, 1024));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - at);
    all.set(part, at);
    at += part.length;
    if (at >= all.length) break;
  }
  return new TextDecoder().decode(all).replaceAll("\u0000", "");
}

export interface Exchange {
  status: number | null;
  body: string | null;
  error: string | null;
  retryAfter: number | null;
  /** For the breaker: true reachable, false failing (network, timeout, 429, 5xx), null says nothing (refused by us, 410). */
  healthy: boolean | null;
}

/** One HTTP exchange: SSRF check (resolved now), signed POST, no redirects followed, bounded by the timeout. */
export async function exchange(cfg: DeliveryConfig, d: ClaimedDelivery): Promise<Exchange> {
  try {
    await assertPublicUrl(d.url, urlPolicy(cfg), {
      dohUrl: cfg.WEBHOOK_DOH_URL,
      timeoutMs: Math.min(3000, cfg.WEBHOOK_TIMEOUT_MS),
      cache: true,
    });
  } catch (err) {
    if (err instanceof UrlRefusedError)
      return { status: null, body: null, error: `refused: ${err.reason}`, retryAfter: null, healthy: null };
    if (err instanceof DnsUnavailableError)
      return { status: null, body: null, error: `dns: ${err.message}`, retryAfter: null, healthy: null };
    throw err;
  }
  const req = await signedRequest(d, Math.floor(Date.now() / 1000));
  const controller = new AbortController();
  try {
    return await withTimeout(
      (async (): Promise<Exchange> => {
        const res = await fetch(d.url, {
          method: "POST",
          headers: req.headers,
          body: req.body,
          redirect: "manual",
          signal: controller.signal,
        });
        const body = await firstKiB(res);
        const s = res.status;
        const retryAfter = s === 429 || s === 503 ? retryAfterSec(res.headers.get("retry-after")) : null;
        const error = s >= 200 && s < 300 ? null : s >= 300 && s < 400 ? `redirect (${s}) not followed` : `HTTP ${s}`;
        return { status: s, body, error, retryAfter, healthy: s === 410 ? null : s !== 429 && s < 500 };
      })(),
      cfg.WEBHOOK_TIMEOUT_MS,
      "webhook receiver",
    );
  } catch (err) {
    controller.abort();
    const timeout = err instanceof Error && /did not answer within/.test(err.message);
    return {
      status: null,
      body: null,
      error: timeout
        ? `timeout after ${cfg.WEBHOOK_TIMEOUT_MS} ms`
        : `network: ${err instanceof Error ? err.message.slice(0, 200) : "error"}`,
      retryAfter: null,
      healthy: false,
    };
  }
}
