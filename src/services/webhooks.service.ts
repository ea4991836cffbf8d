/**
 * Inbound payment webhooks: verify the signature on the raw body, then rate-limit (verified per
 * provider, unverified per client IP), store the event once per (provider, event id), queue it for
 * settlement. The provider gets 202 when stored and queued, 200 for a duplicate, 400 for a signed
 * body we could never store, and a retryable 503 when the queue refused (nothing is left behind).
 */
import type { PaymentEventMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { deleteWebhookEvent, insertWebhookEvent } from "../db/payments.repo.ts";
import { parseJsonChecked } from "../lib/input-rules.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { SignatureError, verifyStandardWebhook, verifyStripe } from "../payments/signatures.ts";

export type WebhookProvider = PaymentEventMessage["provider"];

export interface WebhookDelivery {
  provider: WebhookProvider;
  body: string;
  header: (name: string) => string | undefined;
}

/** Checks the signature (CPU only, no I/O): the event id it vouches for (if any), or why it does not verify. */
async function verify(
  cfg: Config,
  d: WebhookDelivery,
): Promise<{ verified: true; eventId: string | undefined } | { verified: false; error: SignatureError }> {
  try {
    if (d.provider === "stripe") {
      await verifyStripe(d.body, d.header("stripe-signature"), cfg.STRIPE_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
      return { verified: true, eventId: undefined };
    }
    const id = d.header("webhook-id");
    const headers = { id, timestamp: d.header("webhook-timestamp"), signature: d.header("webhook-signature") };
    await verifyStandardWebhook(d.body, headers, cfg.SANDBOX_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
    return { verified: true, eventId: id };
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    return { verified: false, error: err };
  }
}

/**
 * The signed body as an event: the same input rules as every JSON body (src/lib/input-rules.ts:
 * no NUL, no lone surrogate, depth ≤ 64) and a JSON object. A body we cannot store is a 400, so the
 * provider stops retrying it; it is never stored.
 */
function readEvent(body: string): { id?: unknown; type?: unknown } {
  const event = parseJsonChecked(body);
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw new ApiError("validation_error", "The event must be a JSON object.", {
      errors: [{ field: "(root)", in: "body", code: "invalid_type", message: "must be a JSON object" }],
    });
  }
  return event;
}

/**
 * `admit(verified)` charges the route's rate limits (429 past them): called once the signature
 * has been checked, so unsigned junk is counted in its own bucket and never uses up the provider's.
 */
export async function receiveWebhook(
  deps: {
    db: () => Promise<Drizzle>;
    cfg: Config;
    log: Logger;
    queue: Queue<PaymentEventMessage>;
    admit: (verified: boolean) => Promise<void>;
  },
  d: WebhookDelivery,
): Promise<{ duplicate: true } | { duplicate: false; id: string }> {
  const { log } = deps;
  const { provider } = d;
  const check = await verify(deps.cfg, d);
  if (!check.verified) {
    await deps.admit(false);
    log.warn("webhook rejected", { component: "webhooks", provider, reason: check.error.message });
    throw new ApiError(check.error.status === 400 ? "malformed_signature" : "invalid_signature", check.error.message);
  }
  await deps.admit(true);
  const event = readEvent(d.body);
  const eventId = check.eventId ?? (typeof event.id === "string" ? event.id : undefined);
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
