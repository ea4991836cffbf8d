/**
 * Payments: one provider intent per order, reused across attempts (a failed attempt leaves it
 * open, as at Stripe), every provider call through breaker/timeout/retries with the provider's own
 * idempotency keys; cancelling an open intent before its order; refunding surplus captures.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { insertOutbox } from "../db/orders.repo.ts";
import {
  endAttempt,
  findPaymentByRef,
  getPayment,
  insertPayment,
  listAnomalies,
  lockAnomaly,
  openPayment,
  type PaymentRow,
  pendingRefundIds,
  resolveAnomaly,
  takeLease,
  updatePaymentState,
} from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { b64url } from "../lib/encoding.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { sleep } from "../lib/timeout.ts";
import type { Principal } from "../lib/tokens.ts";
import { callProvider, type PaymentProvider, type SandboxOutcome } from "../payments/provider.ts";
import { sandboxProvider, sandboxWebhook } from "../payments/sandbox.ts";
import { stripeProvider } from "../payments/stripe.ts";
import { type IntentCloser, lockOrder } from "./orders.service.ts";

/**
 * The configured provider adapter. The sandbox delivers its signed webhooks to this same
 * worker (`selfFetch`) after SANDBOX_DELAY_MS, in the background (`waitUntil`).
 */
export function paymentProvider(
  cfg: Config,
  ctx: { origin: string; log: Logger; selfFetch?: (req: Request) => Promise<Response>; waitUntil?: (p: Promise<unknown>) => void },
  name: string = cfg.PAYMENT_PROVIDER,
): PaymentProvider {
  if (name === "stripe") return stripeProvider({ secretKey: cfg.STRIPE_SECRET_KEY ?? "", apiBase: cfg.STRIPE_API_BASE });
  const [secret] = cfg.SANDBOX_WEBHOOK_SECRETS ?? [];
  return sandboxProvider({
    origin: ctx.origin,
    delayMs: cfg.SANDBOX_DELAY_MS,
    deliver: (event, delayMs) => {
      const { selfFetch, waitUntil } = ctx;
      if (!secret || !selfFetch || !waitUntil) return;
      waitUntil(
        (async () => {
          if (delayMs > 0) await sleep(delayMs);
          const res = await selfFetch(await sandboxWebhook(secret, ctx.origin, event));
          await res.body?.cancel();
        })().catch((err) => ctx.log.error("sandbox webhook delivery failed", { component: "payments", ...errorFields(err) })),
      );
    },
  });
}

/** The API shape of a stored payment. */
export function toPaymentDto(p: PaymentRow) {
  return {
    payment_id: p.id,
    order_id: p.order_id,
    provider: p.provider as PaymentProvider["name"],
    status: p.status,
    amount_cents: p.amount_cents,
    currency: p.currency,
    amount_refunded_cents: p.amount_refunded_cents,
    failed_attempts: p.failed_attempts,
    last_failure: p.last_failure,
  };
}

/** Owner or ADMIN; anyone else (and a missing id) gets the same 404. */
export async function readPayment(db: Drizzle, id: string, principal: Principal) {
  const p = await getPayment(db, id);
  if (!p || (principal.role !== "ADMIN" && p.user_id !== principal.userId)) throw new ApiError("not_found", "No payment with that id.");
  return toPaymentDto(p);
}

/** The sandbox's hosted checkout page shows a payment by its provider reference. */
export async function sandboxPayment(db: Drizzle, ref: string) {
  const p = await findPaymentByRef(db, "sandbox", ref);
  if (!p) throw new ApiError("not_found", "No sandbox payment with that reference.");
  return p;
}

/** The adapter of the provider that holds a payment (which may not be today's configured one). */
function adapterFor(deps: Omit<PaymentDeps, "db">, name: string): PaymentProvider {
  return deps.provider.name === name ? deps.provider : paymentProvider(deps.cfg, { origin: "", log: deps.log }, name);
}

export interface PaymentDeps {
  db: Drizzle;
  env: Env;
  cfg: Config;
  log: Logger;
  provider: PaymentProvider;
}

/** Who holds an attempt's lease: the request's Idempotency-Key (per principal), so its retry takes over at once. */
async function leaseOwner(userId: string, idempotencyKey: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${userId}\n${idempotencyKey}`));
  return b64url(new Uint8Array(digest).slice(0, 18));
}

const inProgress = (retryAfterSec: number) =>
  new ApiError("payment_in_progress", "Another attempt to pay this order is in progress; retry shortly.", {
    headers: { "Retry-After": String(retryAfterSec) },
  });

/**
 * Starts an attempt to pay a PENDING order: the order's one open intent (created on the first
 * attempt, reused after a failed one) is leased to this request, the provider is called outside
 * any transaction, then the reference is stored and the lease released. A 5xx means nothing was
 * charged; retrying with the same Idempotency-Key takes the lease over and reaches the same
 * intent (the provider call is idempotent per payment id).
 */
export async function startPayment(
  deps: PaymentDeps,
  principal: Principal,
  input: { orderId: string; idempotencyKey: string; testOutcome?: SandboxOutcome | undefined },
) {
  const { db, provider, cfg } = deps;
  if (input.testOutcome && provider.name !== "sandbox") {
    throw new ApiError("validation_error", "test_outcome is only for the sandbox provider.", {
      errors: [{ field: "test_outcome", in: "body", code: "not_allowed", message: "only with PAYMENT_PROVIDER=sandbox" }],
    });
  }
  const owner = await leaseOwner(principal.userId, input.idempotencyKey);
  const { payment, created } = await db.transaction(async (tx) => {
    const order = await lockOrder(tx, input.orderId);
    if (!order || (principal.role !== "ADMIN" && order.user_id !== principal.userId))
      throw new ApiError("not_found", "No order with that id.");
    if (order.status !== "PENDING") {
      throw new ApiError("order_not_payable", `Only PENDING orders can be paid; this one is ${order.status}.`, {
        extra: { current_status: order.status },
      });
    }
    const open = await openPayment(tx, order.id, { forUpdate: true });
    if (open) {
      if (open.leased && open.lease_owner !== owner) throw inProgress(5);
      if (open.provider !== provider.name) {
        throw new ApiError("payment_exists", `This order's payment is open with the ${open.provider} provider.`, {
          extra: { payment_id: open.id, payment_status: open.status },
        });
      }
      await takeLease(tx, open.id, cfg.PAYMENT_LEASE_SEC, owner);
      return { payment: open, created: false };
    }
    const inserted = await insertPayment(tx, {
      orderId: order.id,
      userId: order.user_id,
      provider: provider.name,
      amountCents: order.total_cents,
      currency: order.currency,
      leaseSec: cfg.PAYMENT_LEASE_SEC,
      leaseOwner: owner,
    });
    if (!inserted) throw inProgress(1);
    return { payment: inserted, created: true };
  });
  const call = {
    paymentId: payment.id,
    orderId: payment.order_id,
    amountCents: payment.amount_cents,
    currency: payment.currency,
    idempotencyKey: input.idempotencyKey,
    testOutcome: input.testOutcome,
  };
  const ref = payment.provider_ref;
  let result: Awaited<ReturnType<PaymentProvider["createPayment"]>>;
  try {
    result = await callProvider(deps.env, cfg, deps.log, provider, ref ? "resume" : "create", () =>
      ref ? provider.resumePayment(ref, call) : provider.createPayment(call),
    );
  } catch (err) {
    // Nothing was charged: release the lease so the next attempt goes on at once (the intent stays open).
    await endAttempt(db, payment.id, null).catch(() => {});
    throw err;
  }
  const stored = await endAttempt(db, payment.id, result.providerRef);
  if (stored !== result.providerRef) {
    deps.log.error("provider answered with another reference than the one stored", {
      component: "payments",
      payment_id: payment.id,
      stored_ref: stored,
      answered_ref: result.providerRef,
    });
  }
  return {
    created,
    payment: {
      payment_id: payment.id,
      order_id: payment.order_id,
      provider: provider.name,
      status: "INITIATED" as const,
      amount_cents: payment.amount_cents,
      currency: payment.currency,
      attempt: payment.failed_attempts + 1,
      ...(result.redirectUrl ? { redirect_url: result.redirectUrl } : {}),
      ...(result.clientSecret ? { client_secret: result.clientSecret } : {}),
    },
  };
}

/**
 * Closes an order's open intent at the provider before the order is cancelled (orders.service then
 * closes the payment row in its cancelling transaction). "blocked": an attempt is running, or the
 * provider says the money is captured or being captured: the order must not be cancelled now.
 */
export function intentCloser(deps: Omit<PaymentDeps, "db">): IntentCloser {
  return async (p) => {
    if (p.leased) return "blocked";
    if (!p.provider_ref) return "canceled";
    const ref = p.provider_ref;
    const provider = adapterFor(deps, p.provider);
    const outcome = await callProvider(deps.env, deps.cfg, deps.log, provider, "cancel", () => provider.cancelPayment(ref, p.id));
    return outcome === "captured" ? "blocked" : "canceled";
  };
}

/**
 * Refunds a surplus capture (recorded by settlement) through the provider, idempotently: the
 * provider's idempotency key is derived from the payment and the amount, so a retry after a crash
 * cannot refund twice. Left pending on failure; the sweeper job retries.
 */
export async function refundSurplus(deps: PaymentDeps, anomalyId: string): Promise<"refunded" | "skipped"> {
  const { db, log } = deps;
  const claim = await db.transaction(async (tx) => {
    const a = await lockAnomaly(tx, anomalyId);
    if (a?.refund_status !== "pending" || !a.payment_id) return null;
    const p = await getPayment(tx, a.payment_id, { forUpdate: true });
    if (!p) return null;
    const owed = p.amount_cents - p.amount_refunded_cents;
    if (owed <= 0) {
      await resolveAnomaly(tx, a.id, "refunded", { note: "already refunded at the provider" });
      return null;
    }
    return { a, p, owed };
  });
  if (!claim) return "skipped";
  const { a, p, owed } = claim;
  if (!p.provider_ref) throw new Error(`payment ${p.id} has no provider reference to refund`);
  const providerRef = p.provider_ref;
  const provider = adapterFor(deps, p.provider);
  const { refundRef } = await callProvider(deps.env, deps.cfg, log, provider, "refund", () =>
    provider.refund({ providerRef, paymentId: p.id, amountCents: owed, idempotencyKey: `toko-refund-${p.id}-${owed}` }),
  );
  await db.transaction(async (tx) => {
    const current = await getPayment(tx, p.id, { forUpdate: true });
    if (!current) return;
    await updatePaymentState(tx, p.id, {
      status: "REFUNDED",
      amountRefundedCents: current.amount_cents,
      failedAttempts: current.failed_attempts,
      lastFailure: current.last_failure,
      providerRef: null,
    });
    await resolveAnomaly(tx, a.id, "refunded", { refund_ref: refundRef, refunded_cents: owed });
    await insertOutbox(tx, {
      aggregateType: "order",
      aggregateId: p.order_id,
      eventType: "payment.refunded",
      payload: {
        payment_id: p.id,
        order_id: p.order_id,
        amount_cents: owed,
        currency: p.currency,
        reason: "surplus_capture",
        refund_ref: refundRef,
      },
    });
  });
  log.warn("surplus capture refunded", {
    component: "payments",
    payment_id: p.id,
    order_id: p.order_id,
    amount_cents: owed,
    refund_ref: refundRef,
  });
  return "refunded";
}

/** The sweeper's part: refunds still pending (the provider was down when settlement asked). */
export async function retryPendingRefunds(deps: PaymentDeps, opts: { batchSize: number; deadline: number }) {
  const out = { refunded: 0, failed: 0 };
  for (const id of await pendingRefundIds(deps.db, opts.batchSize)) {
    if (Date.now() >= opts.deadline) break;
    try {
      if ((await refundSurplus(deps, id)) === "refunded") out.refunded++;
    } catch (err) {
      out.failed++;
      deps.log.error("surplus refund failed; will retry", { component: "payments", anomaly_id: id, ...errorFields(err) });
    }
  }
  return out;
}

export async function anomalyPage(
  db: Drizzle,
  secret: string,
  q: { kind?: string | undefined; open?: boolean | undefined; limit?: number | undefined; cursor?: string | undefined },
) {
  const scope = JSON.stringify(["anomalies", q.kind ?? "", q.open ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listAnomalies(db, { kind: q.kind, open: q.open }, pos && { created: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.created_key }, ({ created_key: _k, ...r }) => r);
}
