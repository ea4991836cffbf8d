/**
 * Applies a stored payment webhook, exactly once, in one transaction: payment status,
 * order PENDING → PAID (through the order state machine, with history and outbox), or refunds.
 * Replays and out-of-order events are no-ops (a FAILED after SUCCEEDED is ignored and logged).
 */
import type { Drizzle } from "../db/client.ts";
import { findPaymentForUpdate, finishWebhookEvent, lockWebhookEvent, recordWebhookFailure, setPaymentStatus } from "../db/payments.repo.ts";
import type { Logger } from "../lib/logger.ts";
import { normaliseEvent } from "../payments/events.ts";
import type { OrderStatus } from "../schemas/orders.ts";
import { lockOrder, transitionOrder } from "./orders.service.ts";

/** Thrown when the event cannot be applied yet (retry) or ever (it ends in the DLQ). */
export class SettlementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettlementError";
  }
}

/** Moves the order `from` → `to` as SYSTEM; false (and no change) when the order is no longer in `from`. */
async function moveOrder(tx: Drizzle, orderId: string, from: OrderStatus, to: OrderStatus, reason: string, paymentId: string) {
  const order = await lockOrder(tx, orderId);
  if (order?.status !== from) return false;
  await transitionOrder(tx, order, to, { actor: null, reason, payload: { payment_id: paymentId } });
  return true;
}

export async function settle(db: Drizzle, log: Logger, webhookEventId: string): Promise<"processed" | "ignored" | "noop"> {
  return db.transaction(async (tx) => {
    const ev = await lockWebhookEvent(tx, webhookEventId);
    if (!ev) throw new SettlementError(`webhook event ${webhookEventId} not found`);
    if (ev.status === "PROCESSED" || ev.status === "IGNORED") return "noop";
    const n = normaliseEvent(ev.provider, ev.type, ev.payload);
    if (n.kind === "other") {
      await finishWebhookEvent(tx, ev.id, "IGNORED", `unhandled event type ${ev.type}`);
      return "ignored";
    }
    const payment = await findPaymentForUpdate(tx, ev.provider, { providerRef: n.providerRef, paymentId: n.paymentId });
    if (!payment) throw new SettlementError(`no payment matches ${ev.provider} ref ${n.providerRef ?? n.paymentId ?? "?"}`);
    const ignore = async (why: string) => {
      log.warn("payment event ignored", {
        component: "payments",
        event_id: ev.event_id,
        provider: ev.provider,
        payment_id: payment.id,
        reason: why,
      });
      await finishWebhookEvent(tx, ev.id, "IGNORED", why);
      return "ignored" as const;
    };
    if (n.kind === "succeeded") {
      if (payment.status === "SUCCEEDED" || payment.status === "REFUNDED") return ignore(`already ${payment.status}`);
      await setPaymentStatus(tx, payment.id, "SUCCEEDED");
      const moved = await moveOrder(tx, payment.order_id, "PENDING", "PAID", `payment ${payment.id} succeeded`, payment.id);
      if (!moved)
        log.error("payment succeeded for an order that is no longer PENDING: refund needed", {
          component: "payments",
          payment_id: payment.id,
          order_id: payment.order_id,
        });
    } else if (n.kind === "failed") {
      if (payment.status !== "INITIATED") return ignore(`FAILED after ${payment.status}`);
      await setPaymentStatus(tx, payment.id, "FAILED");
    } else {
      if (payment.status !== "SUCCEEDED") return ignore(`REFUNDED while ${payment.status}`);
      await setPaymentStatus(tx, payment.id, "REFUNDED");
      await moveOrder(tx, payment.order_id, "PAID", "REFUNDED", `payment ${payment.id} refunded`, payment.id);
    }
    await finishWebhookEvent(tx, ev.id, "PROCESSED", null);
    return "processed";
  });
}

/** Remembers why an attempt failed (shown in the DLQ once retries run out). Best effort. */
export async function recordSettlementFailure(db: Drizzle, webhookEventId: string, error: string): Promise<void> {
  await recordWebhookFailure(db, webhookEventId, error).catch(() => {});
}
