/**
 * Inbound payment webhooks: verify the signature on the raw body, store the event once per
 * (provider, event id), queue it for settlement. The provider gets 202 when stored and queued,
 * 200 for a duplicate, and a retryable 503 when the queue refused (nothing is left behind).
 */
import type { PaymentEventMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { deleteWebhookEvent, insertWebhookEvent } from "../db/payments.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { SignatureError, verifyStandardWebhook, verifyStripe } from "../payments/signatures.ts";

export type WebhookProvider = PaymentEventMessage["provider"];

export interface WebhookDelivery {
  provider: WebhookProvider;
  body: string;
  header: (name: string) => string | undefined;
}

/** Throws 400/401 problems for bad signatures; returns the event id the signature vouches for (if any). */
async function verify(cfg: Config, log: Logger, d: WebhookDelivery): Promise<string | undefined> {
  try {
    if (d.provider === "stripe") {
      await verifyStripe(d.body, d.header("stripe-signature"), cfg.STRIPE_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
      return undefined;
    }
    const id = d.header("webhook-id");
    const headers = { id, timestamp: d.header("webhook-timestamp"), signature: d.header("webhook-signature") };
    await verifyStandardWebhook(d.body, headers, cfg.SANDBOX_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
    return id;
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    log.warn("webhook rejected", { component: "webhooks", provider: d.provider, reason: err.message });
    throw new ApiError(err.status === 400 ? "malformed_signature" : "invalid_signature", err.message);
  }
}

export async function receiveWebhook(
  deps: { db: () => Promise<Drizzle>; cfg: Config; log: Logger; queue: Queue<PaymentEventMessage> },
  d: WebhookDelivery,
): Promise<{ duplicate: true } | { duplicate: false; id: string }> {
  const { log } = deps;
  const { provider } = d;
  let eventId = await verify(deps.cfg, log, d);
  const event = JSON.parse(d.body) as { id?: unknown; type?: unknown };
  eventId ??= typeof event.id === "string" ? event.id : undefined;
  if (!eventId || eventId.length > 255 || typeof event.type !== "string") {
    throw new ApiError("validation_error", "The event has no id or type.", {
      errors: [{ field: "id", in: "body", code: "required", message: "event id and type are required" }],
    });
  }
  const db = await deps.db();
  const stored = await insertWebhookEvent(db, { provider, eventId, type: event.type, payload: event });
  if (!stored) return { duplicate: true };
  const message: PaymentEventMessage = { kind: "payment-event", webhook_event_id: stored, provider, event_id: eventId };
  try {
    await deps.queue.send(message, { contentType: "json" });
  } catch (err) {
    // Not queued: forget it and make the provider retry (a stored-but-unqueued event would be a 200 no-op forever).
    await deleteWebhookEvent(db, stored);
    log.error("webhook enqueue failed", { component: "webhooks", provider, event_id: eventId, ...errorFields(err) });
    throw new ApiError("service_unavailable", "Could not queue the event; retry.", { headers: { "Retry-After": "5" } });
  }
  return { duplicate: false, id: stored };
}
