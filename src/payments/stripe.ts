/** Stripe adapter: PaymentIntents and Refunds over fetch (no SDK in the bundle). */
import { type CancelOutcome, type CreatePaymentInput, type CreatePaymentResult, type PaymentProvider, ProviderError } from "./provider.ts";

const STRIPE_VERSION = "2024-06-20";

export function stripeProvider(opts: { secretKey: string; apiBase: string }): PaymentProvider {
  async function call(method: "GET" | "POST", path: string, form?: URLSearchParams, idempotencyKey?: string) {
    let res: Response;
    try {
      res = await fetch(`${opts.apiBase}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${opts.secretKey}`,
          "Stripe-Version": STRIPE_VERSION,
          ...(form ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
          // Stripe de-duplicates our own retries of a call that changes state.
          ...(idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {}),
        },
        ...(form ? { body: form } : {}),
      });
    } catch (err) {
      throw new ProviderError(`stripe: network error (${err instanceof Error ? err.name : "error"})`, true);
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { res, body };
  }
  const fail = (res: Response) => new ProviderError(`stripe: HTTP ${res.status}`, res.status === 429 || res.status >= 500);

  function intentResult(body: Record<string, unknown>): CreatePaymentResult {
    if (typeof body.id !== "string" || typeof body.client_secret !== "string")
      throw new ProviderError("stripe: unexpected response", false);
    return { providerRef: body.id, clientSecret: body.client_secret };
  }

  return {
    name: "stripe",
    async createPayment(input: CreatePaymentInput): Promise<CreatePaymentResult> {
      const form = new URLSearchParams({
        amount: String(input.amountCents),
        currency: input.currency.toLowerCase(),
        "automatic_payment_methods[enabled]": "true",
        "metadata[payment_id]": input.paymentId,
        "metadata[order_id]": input.orderId,
      });
      // Derived from our payment id: a retried request, or a takeover after a crash, gets the same intent.
      const { res, body } = await call("POST", "/v1/payment_intents", form, `toko-${input.paymentId}`);
      if (!res.ok) throw fail(res);
      return intentResult(body);
    },
    async resumePayment(providerRef: string): Promise<CreatePaymentResult> {
      // A new attempt confirms the same intent on the client: it needs the intent's client secret.
      const { res, body } = await call("GET", `/v1/payment_intents/${encodeURIComponent(providerRef)}`);
      if (!res.ok) throw fail(res);
      return intentResult(body);
    },
    async cancelPayment(providerRef: string, paymentId: string): Promise<CancelOutcome> {
      const path = `/v1/payment_intents/${encodeURIComponent(providerRef)}/cancel`;
      const { res, body } = await call("POST", path, new URLSearchParams(), `toko-cancel-${paymentId}`);
      if (res.ok) return "canceled";
      // 400 payment_intent_unexpected_state: already succeeded or processing, or already canceled.
      const error = (body.error ?? {}) as { code?: unknown; payment_intent?: { status?: unknown } };
      if (res.status === 400 && error.code === "payment_intent_unexpected_state") {
        return error.payment_intent?.status === "canceled" ? "canceled" : "captured";
      }
      throw fail(res);
    },
    async refund({ providerRef, amountCents, idempotencyKey }) {
      const form = new URLSearchParams({ payment_intent: providerRef, amount: String(amountCents), reason: "duplicate" });
      const { res, body } = await call("POST", "/v1/refunds", form, idempotencyKey);
      if (!res.ok) throw fail(res);
      if (typeof body.id !== "string") throw new ProviderError("stripe: unexpected response", false);
      return { refundRef: body.id };
    },
  };
}
