/**
 * Applies a stored payment webhook, exactly once, in one transaction (order row, then payment row:
 * the same lock order as starting a payment). Events are applied by what they say about the
 * provider's object (captured, total refunded, attempt failed, cancelled), never by arrival
 * order: success, failure and refund arriving in any order end in the same state. An event whose
 * reference, amount or currency does not match the payment and the order is never applied: it is
 * recorded as an anomaly (admin-visible, logged) and not retried. A capture for an order that is
 * no longer waiting for it (already paid by another payment, or cancelled) is recorded, then
 * refunded (`refundSurplus` after the commit).
 */
import type { Drizzle } from "../db/client.ts";
import { insertHistory, insertOutbox } from "../db/orders.repo.ts";
import {
  type AnomalyKind,
  findEventPayment,
  finishWebhookEvent,
  getPayment,
  hasSurplusAnomaly,
  insertAnomaly,
  lockWebhookEvent,
  otherCapturedPayment,
  type PaymentRow,
  type PaymentStatus,
  recordWebhookFailure,
  updatePaymentState,
} from "../db/payments.repo.ts";
import type { Logger } from "../lib/logger.ts";
import { countEvent, type EventFields, type MetricEvent } from "../lib/metrics.ts";
import { type NormalisedEvent, normaliseEvent } from "../payments/events.ts";
import { lockOrder, transitionOrder } from "./orders.service.ts";

/** Thrown when the event cannot be applied yet (retry) or ever (it ends in the DLQ). */
export class SettlementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettlementError";
  }
}

export interface SettleResult {
  outcome: "processed" | "ignored" | "noop" | "anomaly";
  /** Surplus captures to refund once this transaction has committed (anomaly ids). */
  refunds: string[];
  /** Orders whose state changed. */
  orderIds: string[];
}

const none = (outcome: SettleResult["outcome"]): SettleResult => ({ outcome, refunds: [], orderIds: [] });

/** What the event's amounts must match; null when they do. */
function mismatch(n: NormalisedEvent, p: PaymentRow, order: { total_cents: number; currency: string }) {
  if (n.kind !== "succeeded" && n.kind !== "refunded") return null;
  const facts = { event_amount_cents: n.amountCents ?? null, event_currency: n.currency ?? null, payment_amount_cents: p.amount_cents };
  if (n.currency === undefined || n.currency !== p.currency || n.currency !== order.currency) {
    return { kind: "currency_mismatch" as const, detail: { ...facts, expected_currency: p.currency } };
  }
  if (n.amountCents === undefined || n.amountCents !== p.amount_cents || n.amountCents !== order.total_cents) {
    return { kind: "amount_mismatch" as const, detail: { ...facts, order_total_cents: order.total_cents } };
  }
  if (n.kind === "refunded" && (n.amountRefundedCents === undefined || n.amountRefundedCents > p.amount_cents)) {
    return { kind: "amount_mismatch" as const, detail: { ...facts, event_amount_refunded_cents: n.amountRefundedCents ?? null } };
  }
  return null;
}

/** The payment's state after the event: a pure function of (state before, provider object state). */
function nextState(p: PaymentRow, n: NormalisedEvent) {
  const wasCaptured = p.status === "SUCCEEDED" || p.status === "REFUNDED";
  let captured = wasCaptured;
  let closed = p.status === "FAILED";
  let refunded = p.amount_refunded_cents;
  let failedAttempts = p.failed_attempts;
  let lastFailure = p.last_failure;
  if (n.kind === "succeeded") captured = true;
  if (n.kind === "refunded") {
    // A refund implies a capture: a refund that arrives first still counts when the success comes.
    captured = true;
    refunded = Math.max(refunded, n.amountRefundedCents ?? 0);
  }
  // A failed attempt is not final (the customer may retry the same intent): the intent stays open.
  if (n.kind === "failed" && !captured && !closed) {
    failedAttempts += 1;
    lastFailure = n.failureCode ?? "payment_failed";
  }
  if (n.kind === "canceled" && !captured) closed = true;
  const status: PaymentStatus = captured ? (refunded >= p.amount_cents ? "REFUNDED" : "SUCCEEDED") : closed ? "FAILED" : "INITIATED";
  const changed = status !== p.status || refunded !== p.amount_refunded_cents || failedAttempts !== p.failed_attempts;
  return { status, refunded, failedAttempts, lastFailure, newlyCaptured: captured && !wasCaptured, changed };
}

export async function settle(db: Drizzle, log: Logger, webhookEventId: string): Promise<SettleResult> {
  // Metrics are counted once the transaction has committed: a rolled-back settlement counts nothing.
  const events: [MetricEvent, EventFields][] = [];
  const settled = await db.transaction(async (tx) => {
    const ev = await lockWebhookEvent(tx, webhookEventId);
    if (!ev) throw new SettlementError(`webhook event ${webhookEventId} not found`);
    if (ev.status === "PROCESSED" || ev.status === "IGNORED") return none("noop");
    const n = normaliseEvent(ev.provider, ev.type, ev.payload);
    if (n.kind === "other") {
      await finishWebhookEvent(tx, ev.id, "IGNORED", `unhandled event type ${ev.type}`);
      return none("ignored");
    }
    // Lock order first, then payment: the order in which starting a payment takes them.
    const found = await findEventPayment(tx, ev.provider, { providerRef: n.providerRef, paymentId: n.paymentId });
    if (!found) throw new SettlementError(`no payment matches ${ev.provider} ref ${n.providerRef ?? n.paymentId ?? "?"}`);
    const order = await lockOrder(tx, found.order_id);
    const payment = await getPayment(tx, found.id, { forUpdate: true });
    if (!order || !payment) throw new SettlementError(`payment ${found.id} lost its order`);
    const fields = { component: "payments", event_id: ev.event_id, provider: ev.provider, payment_id: payment.id, order_id: order.id };

    const anomaly = async (kind: AnomalyKind, detail: Record<string, unknown>) => {
      await insertAnomaly(tx, {
        kind,
        paymentId: payment.id,
        orderId: order.id,
        webhookEventId: ev.id,
        provider: ev.provider,
        providerRef: n.providerRef ?? null,
        amountCents: n.amountCents ?? null,
        currency: n.currency ?? null,
        detail: { event_type: ev.type, ...detail },
      });
      await finishWebhookEvent(tx, ev.id, "IGNORED", `anomaly: ${kind}`);
      log.error("payment event not applied: anomaly", { ...fields, kind, ...detail });
      events.push(["payment_anomaly", { detail: kind, detail2: ev.provider }]);
      return none("anomaly");
    };
    // The event must be about the intent we stored, for the amount and currency of the payment and the order.
    if (n.providerRef && payment.provider_ref && n.providerRef !== payment.provider_ref) {
      return anomaly("reference_mismatch", { event_ref: n.providerRef, stored_ref: payment.provider_ref });
    }
    const wrong = mismatch(n, payment, order);
    if (wrong) return anomaly(wrong.kind, wrong.detail);

    const next = nextState(payment, n);
    if (!next.changed) {
      await finishWebhookEvent(tx, ev.id, "IGNORED", `no change: ${n.kind} while ${payment.status}`);
      log.info("payment event changes nothing", { ...fields, kind: n.kind, payment_status: payment.status });
      return none("ignored");
    }
    await updatePaymentState(tx, payment.id, {
      status: next.status,
      amountRefundedCents: next.refunded,
      failedAttempts: next.failedAttempts,
      lastFailure: next.lastFailure,
      providerRef: n.providerRef ?? null,
    });
    if (next.newlyCaptured) events.push(["payment_settled", { detail: ev.provider }]);
    if (next.failedAttempts > payment.failed_attempts)
      events.push(["payment_failed", { detail: ev.provider, detail2: next.lastFailure ?? undefined }]);
    const result: SettleResult = { outcome: "processed", refunds: [], orderIds: [] };
    const payload = { payment_id: payment.id };

    let surplus = await hasSurplusAnomaly(tx, payment.id);
    if (next.newlyCaptured) {
      if (order.status === "PENDING" && !(await otherCapturedPayment(tx, order.id, payment.id))) {
        await transitionOrder(tx, order, "PAID", { actor: null, reason: `payment ${payment.id} captured`, payload });
        result.orderIds.push(order.id);
      } else {
        // Money taken for an order that no longer waits for it: record it, then give it back.
        surplus = true;
        const owed = payment.amount_cents - next.refunded;
        const id = await insertAnomaly(tx, {
          kind: "surplus_capture",
          paymentId: payment.id,
          orderId: order.id,
          webhookEventId: ev.id,
          provider: ev.provider,
          providerRef: n.providerRef ?? payment.provider_ref,
          amountCents: payment.amount_cents,
          currency: payment.currency,
          detail: { order_status: order.status, refund_cents: owed },
          refundStatus: owed > 0 ? "pending" : null,
        });
        events.push(["payment_anomaly", { detail: "surplus_capture", detail2: ev.provider }]);
        await insertOutbox(tx, {
          aggregateType: "order",
          aggregateId: order.id,
          eventType: "payment.surplus_captured",
          payload: {
            ...payload,
            order_id: order.id,
            amount_cents: payment.amount_cents,
            currency: payment.currency,
            order_status: order.status,
          },
        });
        log.error("capture for an order that no longer waits for it: refunding", { ...fields, order_status: order.status });
        if (owed > 0) result.refunds.push(id);
      }
    }

    // Refunds of the payment that paid the order act on the order; a surplus's refund does not.
    if (next.refunded > payment.amount_refunded_cents && !surplus) {
      const current = await lockOrder(tx, order.id);
      if (!current) throw new SettlementError(`order ${order.id} vanished`);
      const refund = { ...payload, amount_refunded_cents: next.refunded, amount_cents: payment.amount_cents, currency: payment.currency };
      if (next.status === "REFUNDED" && current.status === "PAID") {
        await transitionOrder(tx, current, "REFUNDED", { actor: null, reason: `payment ${payment.id} refunded in full`, payload: refund });
      } else {
        // Partial (or after fulfilment): the order keeps its status; the refund is history and an event.
        const reason = `refunded ${next.refunded - payment.amount_refunded_cents} ${payment.currency} (total ${next.refunded} of ${payment.amount_cents})`;
        await insertHistory(tx, {
          orderId: order.id,
          from: current.status,
          to: current.status,
          actorId: null,
          actorRole: "SYSTEM",
          reason,
        });
        await insertOutbox(tx, { aggregateType: "order", aggregateId: order.id, eventType: "order.refunded_partially", payload: refund });
      }
      result.orderIds.push(order.id);
    }
    await finishWebhookEvent(tx, ev.id, "PROCESSED", null);
    return result;
  });
  for (const [event, fields] of events) countEvent(event, fields);
  return settled;
}

/** Remembers why an attempt failed (shown in the DLQ once retries run out). Best effort. */
export async function recordSettlementFailure(db: Drizzle, webhookEventId: string, error: string): Promise<void> {
  await recordWebhookFailure(db, webhookEventId, error).catch(() => {});
}
