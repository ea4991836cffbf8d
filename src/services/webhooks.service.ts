/**
 * Inbound payment webhooks: verify the signature on the raw body, then rate-limit (verified per
 * provider, unverified per client IP), store the event once per (provider, event id), queue it for
 * settlement. The provider gets 202 when stored and queued (a redelivery of an event not applied
 * yet is queued again: 202 too), 200 for a duplicate of an applied one, 400 for a signed body we
 * could never store, and a retryable 503 when the queue refused (the stored row stays RECEIVED:
 * the provider's retry, or the sweeper, queues it).
 */
import type { PaymentEventMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { insertWebhookEvent } from "../db/payments.repo.ts";
import { claimOverdueEvents, reopenForRedelivery } from "../db/webhook-events.repo.ts";
import { parseJsonChecked } from "../lib/input-rules.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
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
): Promise<{ duplicate: true } | { duplicate: false; id: string; requeued: boolean }> {
  const { log } = deps;
  const { provider } = d;
  const check = await verify(deps.cfg, d);
  if (!check.verified) {
    countEvent("webhook_rejected", { detail: provider, detail2: check.error.status === 400 ? "malformed_signature" : "invalid_signature" });
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
  let id = stored;
  if (!id) {
    // Seen before. Applied (or deliberately ignored): a no-op. Not applied yet (RECEIVED: its message may be
    // lost; FAILED: dead-lettered, now reopened): the provider is telling us it still matters, so queue it again.
    const prior = await reopenForRedelivery(db, provider, eventId);
    if (!prior || prior.status === "PROCESSED" || prior.status === "IGNORED") {
      countEvent("webhook_duplicate", { detail: provider, detail2: "applied" });
      return { duplicate: true };
    }
    id = prior.id;
    log.info("webhook redelivered before it was applied: queued again", {
      component: "webhooks",
      provider,
      event_id: eventId,
      status: prior.status,
    });
  }
  const message: PaymentEventMessage = { kind: "payment-event", webhook_event_id: id, provider, event_id: eventId };
  try {
    await deps.queue.send(message, { contentType: "json" });
  } catch (err) {
    // The row stays RECEIVED: the provider's retry (503 below) queues it again, and the sweeper would anyway.
    log.error("webhook enqueue failed", { component: "webhooks", provider, event_id: eventId, ...errorFields(err) });
    throw new ApiError("service_unavailable", "Could not queue the event; retry.", { headers: { "Retry-After": "5" } });
  }
  countEvent(stored ? "webhook_received" : "webhook_duplicate", { detail: provider, detail2: stored ? undefined : "requeued" });
  return { duplicate: false, id, requeued: !stored };
}

/** Queues accept at most 100 messages per sendBatch. */
const SEND_BATCH_MAX = 100;

/**
 * The sweeper: queues again the RECEIVED events that are overdue (claimOverdueEvents: older than
 * `afterSec`, repeats spaced by `afterSec`), in batches of `batchSize` until none is left or the
 * deadline passes. Claim and send share a transaction: if the queue refuses, nothing is marked and
 * the next run retries. Re-queueing an event twice is harmless (settlement is idempotent per event).
 */
export async function sweepWebhookEvents(
  db: Drizzle,
  queue: Queue<PaymentEventMessage>,
  log: Logger,
  opts: { afterSec: number; batchSize: number; deadline: number },
): Promise<{ requeued: number; batches: number }> {
  const out = { requeued: 0, batches: 0 };
  while (Date.now() < opts.deadline) {
    const n = await db.transaction(async (tx) => {
      const due = await claimOverdueEvents(tx, opts.afterSec, opts.batchSize);
      for (let i = 0; i < due.length; i += SEND_BATCH_MAX) {
        const messages = due.slice(i, i + SEND_BATCH_MAX).map((e) => ({
          body: { kind: "payment-event", webhook_event_id: e.id, provider: e.provider, event_id: e.event_id } satisfies PaymentEventMessage,
          contentType: "json" as const,
        }));
        try {
          await queue.sendBatch(messages);
        } catch (err) {
          log.error("webhook sweep: the queue refused the batch", { component: "jobs", events: messages.length, ...errorFields(err) });
          throw new ApiError(
            "service_unavailable",
            "The payment-events queue refused the sweep; nothing was marked, the next run retries.",
            {
              headers: { "Retry-After": "60" },
            },
          );
        }
      }
      return due.length;
    });
    if (n) out.batches++;
    out.requeued += n;
    if (n < opts.batchSize) break;
  }
  return out;
}
