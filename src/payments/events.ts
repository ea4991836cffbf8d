/** Provider webhook payloads reduced to what settlement needs (pure: no I/O). */

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
