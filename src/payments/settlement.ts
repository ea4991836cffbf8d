/**
 * Applies a stored payment webhook, exactly once, in one transaction: payment status,
 * order PENDING → PAID (with history and outbox), or refunds. Replays and out-of-order
 * events are no-ops (a FAILED after SUCCEEDED is ignored and logged).
 */

import { sql } from "drizzle-orm";
import type { Drizzle } from "../db/client.ts";
import { insertHistory, insertOutbox, updateOrderStatus } from "../db/orders.repo.ts";
import { findPaymentForUpdate, finishWebhookEvent, lockWebhookEvent, setPaymentStatus } from "../db/payments.repo.ts";
import type { Logger } from "../lib/logger.ts";

export interface NormalisedEvent {
  kind: "succeeded" | "failed" | "refunded" | "other";
  providerRef?: string | undefined;
  paymentId?: string | undefined;
}

export function normaliseEvent(provider: string, type: string, payload: Record<string, unknown>): NormalisedEvent {
  const data = (payload.data ?? {}) as Record<string, unknown>;
  if (provider === "stripe") {
    const obj = (data.object ?? {}) as Record<string, unknown>;
    const meta = (obj.metadata ?? {}) as Record<string, unknown>;
    const paymentId = typeof meta.payment_id === "string" ? meta.payment_id : undefined;
    if (type === "payment_intent.succeeded") return { kind: "succeeded", providerRef: obj.id as string, paymentId };
    if (type === "payment_intent.payment_failed") return { kind: "failed", providerRef: obj.id as string, paymentId };
    if (type === "charge.refunded") return { kind: "refunded", providerRef: obj.payment_intent as string, paymentId };
    return { kind: "other" };
  }
  const ref = typeof data.provider_ref === "string" ? data.provider_ref : undefined;
  const paymentId = typeof data.payment_id === "string" ? data.payment_id : undefined;
  if (type === "payment.succeeded") return { kind: "succeeded", providerRef: ref, paymentId };
  if (type === "payment.failed") return { kind: "failed", providerRef: ref, paymentId };
  if (type === "payment.refunded") return { kind: "refunded", providerRef: ref, paymentId };
  return { kind: "other" };
}

/** Thrown when the event cannot be applied yet (retry) or ever (it ends in the DLQ). */
export class SettlementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettlementError";
  }
}

async function moveOrder(tx: Drizzle, orderId: string, from: string, to: string, reason: string, paymentId: string): Promise<boolean> {
  const res = await tx.execute<{ status: string; user_id: string }>(
    sql`SELECT status::text AS status, user_id FROM orders WHERE id = ${orderId} FOR UPDATE`,
  );
  const order = res.rows[0];
  if (!order || order.status !== from) return false;
  const version = await updateOrderStatus(tx, orderId, to);
  await insertHistory(tx, { orderId, from, to, actorId: null, actorRole: "SYSTEM", reason });
  await insertOutbox(tx, {
    aggregateType: "order",
    aggregateId: orderId,
    eventType: "order.status_changed",
    payload: { order_id: orderId, user_id: order.user_id, from, to, version, reason, payment_id: paymentId },
  });
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
