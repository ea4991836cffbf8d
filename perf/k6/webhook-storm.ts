/**
 * Payment-provider webhook storm: a burst of signed deliveries, with provider-style
 * redeliveries (same webhook-id) and some forged signatures that must be rejected.
 *
 * Written before `POST /api/v1/webhooks/payments/sandbox` was served (new event → 202, duplicate
 * webhook-id → 200 no-op, bad signature → 401). Signing follows Standard Webhooks (https://www.standardwebhooks.com):
 * headers webhook-id / webhook-timestamp / webhook-signature = "v1,<base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}`>" with the key = base64-decoded part of the `whsec_` secret.
 *
 *   k6 run -e BASE_URL=https://staging.example.com -e ALLOW_WRITES=1 \
 *     -e WEBHOOK_SECRET=whsec_… -e PEAK_RATE=200 perf/k6/webhook-storm.ts
 *
 * WEBHOOK_SECRET is one of the environment's SANDBOX_WEBHOOK_SECRETS. ORDER_IDS (comma-separated)
 * makes events refer to real orders; otherwise ids are random and the endpoint is expected to
 * accept-and-ignore unknown orders (2xx), as providers retry anything else.
 */
import { check } from "k6";
import crypto from "k6/crypto";
import encoding from "k6/encoding";
import http from "k6/http";
import type { Options } from "k6/options";
import { BASE_URL, num, required, tagged, uuid, WRITE_SLO } from "./common.ts";

const PEAK = num("PEAK_RATE", 200);

export const options: Options = {
  scenarios: {
    storm: {
      executor: "ramping-arrival-rate",
      startRate: Math.max(1, Math.round(PEAK / 20)),
      timeUnit: "1s",
      preAllocatedVUs: num("PRE_VUS", Math.max(20, PEAK / 2)),
      maxVUs: num("MAX_VUS", PEAK * 3),
      stages: [
        { target: PEAK, duration: __ENV.RAMP || "15s" },
        { target: PEAK, duration: __ENV.HOLD || "1m" },
        { target: 0, duration: "10s" },
      ],
    },
  },
  thresholds: {
    // Forged deliveries are sent with responseCallback = expected 400/401, so they do not count here.
    http_req_failed: WRITE_SLO.failed,
    "http_req_duration{name:webhook delivery}": WRITE_SLO.duration,
    "checks{check:forged signature rejected}": ["rate==1"],
    "checks{check:delivery accepted}": ["rate>0.999"],
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const ENDPOINT = `${BASE_URL}/api/v1/webhooks/payments/sandbox`;
const EVENTS = ["payment.succeeded", "payment.succeeded", "payment.succeeded", "payment.failed", "payment.refunded"];
const rejected = http.expectedStatuses(400, 401);

export function setup(): { key: string; orderIds: string[] } {
  if (__ENV.ALLOW_WRITES !== "1") throw new Error("webhook-storm changes payment state: run against staging with -e ALLOW_WRITES=1");
  const secret = required("WEBHOOK_SECRET");
  // Pass the key to VUs as base64 (setup data must be JSON); each VU decodes it once.
  return { key: secret.replace(/^whsec_/, ""), orderIds: (__ENV.ORDER_IDS || "").split(",").filter(Boolean) };
}

let key: ArrayBuffer | undefined;
/** Deliveries this VU already sent, for redelivery with the same webhook-id. */
const sent: { id: string; body: string }[] = [];

function sign(k: ArrayBuffer, id: string, ts: number, body: string): string {
  return `v1,${crypto.hmac("sha256", k, `${id}.${ts}.${body}`, "base64")}`;
}

function deliver(k: ArrayBuffer, id: string, body: string, forged: boolean) {
  const ts = Math.floor(Date.now() / 1000);
  const signature = forged ? `v1,${encoding.b64encode(crypto.randomBytes(32))}` : sign(k, id, ts, body);
  return http.post(
    ENDPOINT,
    body,
    tagged("write", forged ? "forged delivery" : "webhook delivery", {
      headers: { "Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signature },
      ...(forged ? { responseCallback: rejected } : {}),
    }),
  );
}

export default function storm(data: { key: string; orderIds: string[] }): void {
  key ??= encoding.b64decode(data.key, "std");
  const r = Math.random();
  if (r < num("FORGED_RATIO", 0.02)) {
    const forgedId = `evt_${uuid().replace(/-/g, "")}`;
    const res = deliver(key, forgedId, JSON.stringify({ id: forgedId, type: "payment.succeeded", data: {} }), true);
    check(res, { "forged signature rejected": (x) => x.status === 400 || x.status === 401 });
    return;
  }
  // Providers redeliver on timeouts: the same webhook-id must be accepted again and processed once.
  const previous = sent.length ? sent[Math.floor(Math.random() * sent.length)] : undefined;
  if (previous && r < num("REDELIVERY_RATIO", 0.1)) {
    check(deliver(key, previous.id, previous.body, false), { "delivery accepted": (x) => x.status >= 200 && x.status < 300 });
    return;
  }
  const id = `evt_${uuid().replace(/-/g, "")}`;
  const orderId = data.orderIds.length ? data.orderIds[Math.floor(Math.random() * data.orderIds.length)] : uuid();
  const body = JSON.stringify({
    id,
    type: EVENTS[Math.floor(Math.random() * EVENTS.length)],
    created: Math.floor(Date.now() / 1000),
    data: {
      payment_id: uuid(),
      provider_ref: `k6_${uuid()}`,
      order_id: orderId,
      amount_cents: 1000 + Math.floor(Math.random() * 20000),
      currency: "USD",
    },
  });
  if (sent.length < 500) sent.push({ id, body });
  check(deliver(key, id, body, false), { "delivery accepted": (x) => x.status >= 200 && x.status < 300 });
}
