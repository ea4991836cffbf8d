/** Starting a payment: one live payment per PENDING order, provider called through breaker/timeout/retries. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { insertPayment, livePaymentFor, markPaymentFailed, setProviderRef } from "../db/payments.repo.ts";
import type { Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import type { Principal } from "../lib/tokens.ts";
import { callProvider, type PaymentProvider, type SandboxOutcome } from "../payments/provider.ts";
import { readOrder } from "./orders.service.ts";

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
