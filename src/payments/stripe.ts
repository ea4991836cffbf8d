/** Stripe adapter: PaymentIntents over fetch (no SDK in the bundle). */
import { type CreatePaymentInput, type CreatePaymentResult, type PaymentProvider, ProviderError } from "./provider.ts";

export function stripeProvider(opts: { secretKey: string; apiBase: string }): PaymentProvider {
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
      let res: Response;
      try {
        res = await fetch(`${opts.apiBase}/v1/payment_intents`, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${opts.secretKey}`,
            "Content-Type": "application/x-www-form-urlencoded",
            // Stripe de-duplicates our own retries of this call.
            "Idempotency-Key": `toko-${input.paymentId}`,
            "Stripe-Version": "2024-06-20",
          },
          body: form,
        });
      } catch (err) {
        throw new ProviderError(`stripe: network error (${err instanceof Error ? err.name : "error"})`, true);
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ProviderError(`stripe: HTTP ${res.status}`, res.status === 429 || res.status >= 500);
      }
      const pi = (await res.json()) as { id?: unknown; client_secret?: unknown };
      if (typeof pi.id !== "string" || typeof pi.client_secret !== "string") throw new ProviderError("stripe: unexpected response", false);
      return { providerRef: pi.id, clientSecret: pi.client_secret };
    },
  };
}
