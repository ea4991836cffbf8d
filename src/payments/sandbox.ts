/**
 * The sandbox provider: a payment simulator for `npm run dev` and tests. It can be told
 * (per payment, `test_outcome`) to succeed, fail, succeed after a delay, error or hang,
 * and it reports back exactly like a real provider: a Standard-Webhooks-signed POST to
 * /api/v1/webhooks/payments/sandbox, through the whole HTTP stack.
 */
import { type CreatePaymentInput, type CreatePaymentResult, type PaymentProvider, ProviderError } from "./provider.ts";
import { signStandardWebhook } from "./signatures.ts";

export interface SandboxEvent {
  type: "payment.succeeded" | "payment.failed" | "payment.refunded" | "payment.canceled";
  data: Record<string, unknown>;
}

export interface SandboxOptions {
  delayMs: number;
  /** Sends the signed webhook for `event` to this worker after `delayMs`, in the background (absent: no webhooks, e.g. in a queue consumer). */
  deliver?: (event: SandboxEvent, delayMs: number) => void;
  origin: string;
}

export async function sandboxWebhook(secret: string, origin: string, event: SandboxEvent): Promise<Request> {
  const id = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  const ts = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ id, type: event.type, created: ts, data: event.data });
  return new Request(`${origin}/api/v1/webhooks/payments/sandbox`, {
    method: "POST",
    body,
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(ts),
      "webhook-signature": await signStandardWebhook(secret, id, ts, body),
    },
  });
}

export function sandboxProvider(opts: SandboxOptions): PaymentProvider {
  /** One attempt on intent `providerRef`: the simulated customer does what `test_outcome` says. */
  function attempt(providerRef: string, input: CreatePaymentInput): Promise<CreatePaymentResult> {
    const outcome = input.testOutcome ?? "succeeded";
    if (outcome === "provider_error") return Promise.reject(new ProviderError("sandbox: simulated 503 from the provider", true));
    if (outcome === "provider_timeout") return new Promise<never>(() => {});
    const data = {
      payment_id: input.paymentId,
      provider_ref: providerRef,
      order_id: input.orderId,
      amount_cents: input.amountCents,
      currency: input.currency,
      ...(outcome === "failed" ? { failure_code: "card_declined" } : {}),
    };
    opts.deliver?.(
      { type: outcome === "failed" ? "payment.failed" : "payment.succeeded", data },
      outcome === "delayed_success" ? opts.delayMs : 0,
    );
    return Promise.resolve({ providerRef, redirectUrl: `${opts.origin}/sandbox/checkout/${providerRef}` });
  }
  return {
    name: "sandbox",
    // The reference is derived from our payment id: creating twice gives the same intent, as at Stripe.
    createPayment: (input) => attempt(`sbx_pi_${input.paymentId.replaceAll("-", "")}`, input),
    resumePayment: (providerRef, input) => attempt(providerRef, input),
    // The simulator keeps no state of its own: a cancel always finds the intent open, and a refund always goes through.
    cancelPayment: async () => "canceled",
    refund: async ({ paymentId }) => ({ refundRef: `sbx_re_${paymentId.replaceAll("-", "")}` }),
  };
}
