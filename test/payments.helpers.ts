import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { api, jsonInit, sql, type TestUser } from "./helpers.ts";
import { makeProduct, placeOrder } from "./orders.helpers.ts";

export const SANDBOX_SECRETS = env.SANDBOX_WEBHOOK_SECRETS?.split(",") ?? [];
export const STRIPE_SECRETS = env.STRIPE_WEBHOOK_SECRETS?.split(",") ?? [];

export async function pendingOrder(user: TestUser, price = 2500): Promise<{ id: string; total: number }> {
  const p = await makeProduct({ stock: 100, price });
  const o = (await (await placeOrder(user, { items: [{ sku: p.sku, qty: 1 }] })).json()) as { id: string; total_cents: number };
  return { id: o.id, total: o.total_cents };
}

export function pay(user: TestUser, body: Record<string, unknown>, key = `pay-${crypto.randomUUID()}`, bindings?: Env) {
  const init = jsonInit("POST", body, { ...user.auth, "Idempotency-Key": key });
  return bindings ? import("./helpers.ts").then((h) => h.apiSettled("/api/v1/payments", init, bindings)) : api("/api/v1/payments", init);
}

/** Polls until `check` returns a truthy value (queues and background deliveries are asynchronous). */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function orderStatus(id: string): Promise<string> {
  return (await sql<{ status: string }>("SELECT status::text AS status FROM orders WHERE id = $1", [id]))[0]?.status as string;
}

export function postWebhook(provider: string, body: string, headers: Record<string, string>): Promise<Response> {
  return api(`/api/v1/webhooks/payments/${provider}`, {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** A Standard-Webhooks-signed POST of `event` (its `id` is the webhook-id), timestamped now. */
export function signedWebhook(event: Record<string, unknown>, secret = SANDBOX_SECRETS[0] as string): RequestInit {
  const id = event.id as string;
  const payload = JSON.stringify(event);
  const at = new Date();
  return {
    method: "POST",
    body: payload,
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, at, payload),
    },
  };
}
