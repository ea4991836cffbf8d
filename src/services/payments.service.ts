/** Starting a payment: one live payment per PENDING order, provider called through breaker/timeout/retries. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { findPaymentByRef, insertPayment, livePaymentFor, markPaymentFailed, setProviderRef } from "../db/payments.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { sleep } from "../lib/timeout.ts";
import type { Principal } from "../lib/tokens.ts";
import { callProvider, type PaymentProvider, type SandboxOutcome } from "../payments/provider.ts";
import { sandboxProvider, sandboxWebhook } from "../payments/sandbox.ts";
import { stripeProvider } from "../payments/stripe.ts";
import { readOrder } from "./orders.service.ts";

/**
 * The configured provider adapter. The sandbox delivers its signed webhooks to this same
 * worker (`selfFetch`) after SANDBOX_DELAY_MS, in the background (`waitUntil`).
 */
export function paymentProvider(
  cfg: Config,
  ctx: { origin: string; log: Logger; selfFetch: (req: Request) => Promise<Response>; waitUntil: (p: Promise<unknown>) => void },
): PaymentProvider {
  if (cfg.PAYMENT_PROVIDER === "stripe") return stripeProvider({ secretKey: cfg.STRIPE_SECRET_KEY ?? "", apiBase: cfg.STRIPE_API_BASE });
  const [secret] = cfg.SANDBOX_WEBHOOK_SECRETS ?? [];
  return sandboxProvider({
    origin: ctx.origin,
    delayMs: cfg.SANDBOX_DELAY_MS,
    deliver: (event, delayMs) => {
      if (!secret) return;
      ctx.waitUntil(
        (async () => {
          if (delayMs > 0) await sleep(delayMs);
          const res = await ctx.selfFetch(await sandboxWebhook(secret, ctx.origin, event));
          await res.body?.cancel();
        })().catch((err) => ctx.log.error("sandbox webhook delivery failed", { component: "payments", ...errorFields(err) })),
      );
    },
  });
}

/** The sandbox's hosted checkout page shows a payment by its provider reference. */
export async function sandboxPayment(db: Drizzle, ref: string) {
  const p = await findPaymentByRef(db, "sandbox", ref);
  if (!p) throw new ApiError("not_found", "No sandbox payment with that reference.");
  return p;
}

export async function startPayment(
  deps: { db: Drizzle; env: Env; cfg: Config; log: Logger; provider: PaymentProvider },
  principal: Principal,
  input: { orderId: string; idempotencyKey: string; testOutcome?: SandboxOutcome | undefined },
) {
  const { db, provider } = deps;
  if (input.testOutcome && provider.name !== "sandbox") {
    throw new ApiError("validation_error", "test_outcome is only for the sandbox provider.", {
      errors: [{ field: "test_outcome", in: "body", code: "not_allowed", message: "only with PAYMENT_PROVIDER=sandbox" }],
    });
  }
  const order = await readOrder(db, input.orderId, principal);
  if (order.status !== "PENDING") {
    throw new ApiError("order_not_payable", `Only PENDING orders can be paid; this one is ${order.status}.`, {
      extra: { current_status: order.status },
    });
  }
  const payment = await insertPayment(db, {
    orderId: order.id,
    userId: order.user_id,
    provider: provider.name,
    amountCents: order.total_cents,
    currency: order.currency,
  });
  if (!payment) {
    const live = await livePaymentFor(db, order.id);
    throw new ApiError("payment_exists", "This order already has a payment in progress or paid.", {
      extra: { payment_id: live?.id, payment_status: live?.status },
    });
  }
  let result: Awaited<ReturnType<typeof callProvider>>;
  try {
    result = await callProvider(deps.env, deps.cfg, deps.log, provider, {
      paymentId: payment.id,
      orderId: order.id,
      amountCents: order.total_cents,
      currency: order.currency,
      idempotencyKey: input.idempotencyKey,
      testOutcome: input.testOutcome,
    });
  } catch (err) {
    // Nothing was charged: close this attempt so a retry can open a new one.
    await markPaymentFailed(db, payment.id);
    throw err;
  }
  await setProviderRef(db, payment.id, result.providerRef);
  return {
    payment_id: payment.id,
    order_id: order.id,
    provider: provider.name,
    status: "INITIATED" as const,
    amount_cents: order.total_cents,
    currency: order.currency,
    ...(result.redirectUrl ? { redirect_url: result.redirectUrl } : {}),
    ...(result.clientSecret ? { client_secret: result.clientSecret } : {}),
  };
}
