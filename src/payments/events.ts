/**
 * Provider webhook payloads reduced to what settlement needs (pure: no I/O). Events carry the
 * provider object's state (amount captured, total refunded), not a delta, so settlement can apply
 * them in any order and any number of times.
 */

export interface NormalisedEvent {
  kind: "succeeded" | "failed" | "refunded" | "canceled" | "other";
  providerRef?: string | undefined;
  paymentId?: string | undefined;
  /** Captured amount, minor units (succeeded, refunded). */
  amountCents?: number | undefined;
  /** ISO 4217, upper case. */
  currency?: string | undefined;
  /** Total refunded so far on the provider's object (refunded). */
  amountRefundedCents?: number | undefined;
  /** Provider's failure code (failed). */
  failureCode?: string | undefined;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
const int = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const upper = (v: unknown) => str(v)?.toUpperCase();
const obj = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function stripe(type: string, data: Record<string, unknown>): NormalisedEvent {
  const o = obj(data.object);
  const paymentId = str(obj(o.metadata).payment_id);
  switch (type) {
    case "payment_intent.succeeded":
      return {
        kind: "succeeded",
        providerRef: str(o.id),
        paymentId,
        amountCents: int(o.amount_received) ?? int(o.amount),
        currency: upper(o.currency),
      };
    case "payment_intent.payment_failed":
      return { kind: "failed", providerRef: str(o.id), paymentId, failureCode: str(obj(o.last_payment_error).code) ?? "payment_failed" };
    case "payment_intent.canceled":
      return { kind: "canceled", providerRef: str(o.id), paymentId };
    case "charge.refunded":
      // A Charge: its payment_intent is our reference; amount_refunded is the running total.
      return {
        kind: "refunded",
        providerRef: str(o.payment_intent),
        paymentId,
        amountCents: int(o.amount_captured) ?? int(o.amount),
        currency: upper(o.currency),
        amountRefundedCents: int(o.amount_refunded),
      };
    default:
      return { kind: "other" };
  }
}

function sandbox(type: string, data: Record<string, unknown>): NormalisedEvent {
  const base = { providerRef: str(data.provider_ref), paymentId: str(data.payment_id) };
  const money = { amountCents: int(data.amount_cents), currency: upper(data.currency) };
  switch (type) {
    case "payment.succeeded":
      return { kind: "succeeded", ...base, ...money };
    case "payment.failed":
      return { kind: "failed", ...base, failureCode: str(data.failure_code) ?? "card_declined" };
    case "payment.canceled":
      return { kind: "canceled", ...base };
    case "payment.refunded":
      return { kind: "refunded", ...base, ...money, amountRefundedCents: int(data.amount_refunded_cents) };
    default:
      return { kind: "other" };
  }
}

export function normaliseEvent(provider: string, type: string, payload: Record<string, unknown>): NormalisedEvent {
  const data = obj(payload.data);
  return provider === "stripe" ? stripe(type, data) : sandbox(type, data);
}
