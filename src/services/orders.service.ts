/** Checkout and order lifecycle. Every state change is one transaction with its history and outbox rows. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import {
  type CheckoutRefusal,
  CheckoutRefused,
  checkout,
  existingUserIds,
  expiredOrderIds,
  getOrder,
  getOrderByClientToken,
  insertHistory,
  insertOutbox,
  isExpirable,
  listOrders,
  type OrderRecord,
  restockOrder,
  updateOrderStatus,
} from "../db/orders.repo.ts";
import { closePayment, openPayment, type PaymentRow } from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
import { ApiError, type FieldError } from "../lib/problem.ts";
import type { Principal } from "../lib/tokens.ts";
import type { OrderCreate, OrderListQuery, OrderStatus } from "../schemas/orders.ts";
import { canTransition, restocks, TRANSITIONS } from "./order-state.ts";
import { shippingForCheckout } from "./shipping.service.ts";

export type OrderDto = Omit<OrderRecord, "created_at_key" | "status"> & { status: OrderStatus };

export function toOrderDto(o: OrderRecord): OrderDto {
  const { created_at_key: _key, ...dto } = o;
  return { ...dto, status: o.status as OrderStatus };
}

/** A concurrent request with the same client_token committed first; `orderId` is its order. */
class ClientTokenTaken extends Error {
  readonly orderId: string | null;
  constructor(orderId: string | null) {
    super("client_token taken by a concurrent request");
    this.orderId = orderId;
  }
}

const actorRole = (p: Principal | null) => p?.role ?? "SYSTEM";

/** The checkout rules that come from configuration. */
export interface CheckoutPolicy {
  paymentWindowSec: number;
  /** Per-customer caps on what unpaid orders may hold; absent for ADMIN bulk orders placed for customers. */
  caps?: { maxOpenOrders: number; maxUnitsPerSku: number };
  /** Verifies the `shipping_rate_id` of a checkout (SHIPPING_RATE_SECRET); needed only by orders that ship. */
  shippingRateSecret?: string;
}

export function checkoutPolicy(cfg: Config): Required<CheckoutPolicy> {
  return {
    paymentWindowSec: cfg.ORDER_PAYMENT_WINDOW_SEC,
    caps: { maxOpenOrders: cfg.MAX_OPEN_ORDERS_PER_USER, maxUnitsPerSku: cfg.MAX_RESERVED_UNITS_PER_SKU },
    shippingRateSecret: cfg.SHIPPING_RATE_SECRET,
  };
}

/**
 * The error a refusal of `place_order` answers with. The rules themselves run in the database
 * (migrations/0009_shipping.sql, 0007 with shipping), in this order: the customer's row locked (a deleted
 * account cannot order), a used client_token replayed, the hoarding caps (unpaid orders hold stock
 * until they expire, so one customer may hold only so many orders and so many units of one SKU),
 * then the products locked and every line checked. Field paths are prefixed (bulk: `orders.3.`).
 */
function refusalError(r: CheckoutRefusal, policy: CheckoutPolicy, prefix: string): Error {
  const caps = () => {
    if (!policy.caps) throw new Error(`place_order refused with ${r.code} without caps`);
    return policy.caps;
  };
  switch (r.code) {
    case "unauthorized":
      return new ApiError("unauthorized", "This account no longer exists.", {
        headers: { "WWW-Authenticate": 'Bearer realm="toko-edge", error="invalid_token"' },
      });
    case "client_token_taken":
      return new ClientTokenTaken(r.order_id);
    case "open_orders_limit": {
      const { maxOpenOrders } = caps();
      const retryAfter = Math.max(1, r.next_expiry_sec ?? 60);
      return new ApiError(
        "open_orders_limit",
        `You have ${r.open_orders} unpaid orders; pay or cancel one first (at most ${maxOpenOrders}).`,
        { headers: { "Retry-After": String(retryAfter) }, extra: { cap: "MAX_OPEN_ORDERS_PER_USER", limit: maxOpenOrders } },
      );
    }
    case "reservation_limit": {
      const { maxUnitsPerSku } = caps();
      return new ApiError(
        "reservation_limit",
        `At most ${maxUnitsPerSku} units of one product may be held by your unpaid orders; nothing was ordered.`,
        {
          errors: r.over.map((o) => ({
            field: `${prefix}items.${o.i}.qty`,
            in: "body" as const,
            code: "reservation_limit",
            message: `your unpaid orders already hold ${o.already} of ${o.sku}`,
          })),
          extra: { cap: "MAX_RESERVED_UNITS_PER_SKU", limit: maxUnitsPerSku, skus: r.over.map((o) => o.sku) },
        },
      );
    }
    case "unknown_sku": {
      const errors: FieldError[] = r.lines.map((l) => ({
        field: `${prefix}items.${l.i}.sku`,
        in: "body",
        code: "unknown_sku",
        message: `no active product has SKU ${l.sku}`,
      }));
      return new ApiError("validation_error", "Some SKUs are not for sale; nothing was ordered.", { errors });
    }
    case "mixed_currency":
      return new ApiError(
        "validation_error",
        `An order has one currency; these items are priced in ${[...r.currencies].sort().join(" and ")}.`,
        {
          errors: [{ field: `${prefix}items`, in: "body", code: "mixed_currency", message: "all items must share one currency" }],
        },
      );
    case "insufficient_stock":
      return new ApiError("insufficient_stock", `Not enough stock for ${r.short.map((s) => s.sku).join(", ")}; nothing was ordered.`, {
        errors: r.short.map((s) => ({
          field: `${prefix}items.${s.i}.qty`,
          in: "body" as const,
          code: "insufficient_stock",
          message: `only ${s.available} left`,
        })),
        extra: {
          skus: r.short.map((s) => s.sku),
          lines: r.short.map(({ sku, requested, available }) => ({ sku, requested, available })),
        },
      });
    case "shipping_required":
      return new ApiError("validation_error", "These items are shipped: send shipping_address and a shipping_rate_id from a quote.", {
        errors: ["shipping_address", "shipping_rate_id"].map((f) => ({
          field: `${prefix}${f}`,
          in: "body" as const,
          code: "required",
          message: "is required: a product in this order is shipped (POST /api/v1/shipping/rates)",
        })),
      });
    case "shipping_not_required":
      return new ApiError("validation_error", "Nothing in this order is shipped: send no shipping_address or shipping_rate_id.", {
        errors: [{ field: `${prefix}shipping_rate_id`, in: "body", code: "not_allowed", message: "no product in this order is shipped" }],
      });
    case "shipping_currency_mismatch":
      return new ApiError(
        "shipping_currency_mismatch",
        `The shipping rate is in ${r.shipping_currency} and the goods in ${r.currency}; quote again for these items.`,
        {
          errors: [
            { field: `${prefix}shipping_rate_id`, in: "body", code: "currency_mismatch", message: `must be a rate in ${r.currency}` },
          ],
          extra: { currency: r.currency, shipping_currency: r.shipping_currency },
        },
      );
  }
}

/**
 * The order's shipping from its rate_id, checked in the Worker before the one statement (an HMAC, no round
 * trip): the address and the rate go together; the price is the signed one, never the client's. Whether the
 * order needs shipping at all, and its currency, are checked by place_order against the locked products.
 */
async function checkoutShipping(input: OrderCreate, policy: CheckoutPolicy, prefix: string) {
  const { shipping_address: address, shipping_rate_id: rateId } = input;
  if (!address && !rateId) return null;
  if (!address || !rateId) {
    const [missing, given] = address ? ["shipping_rate_id", "shipping_address"] : ["shipping_address", "shipping_rate_id"];
    throw new ApiError("validation_error", "shipping_address and shipping_rate_id go together.", {
      errors: [{ field: `${prefix}${missing}`, in: "body", code: "required", message: `is required with ${given}` }],
    });
  }
  if (!policy.shippingRateSecret) throw new Error("checkout policy without SHIPPING_RATE_SECRET");
  return shippingForCheckout(policy.shippingRateSecret, { address, rateId }, input.items, { prefix });
}

/**
 * One order, in one statement (`place_order`): outside a transaction it is its own transaction,
 * inside one (bulk) it is part of it. Refusals throw ApiError (or ClientTokenTaken), nothing written.
 * A total of 0 is PAID at checkout, as SYSTEM, in the same statement (what transitionOrder writes).
 */
async function createOne(db: Drizzle, userId: string, input: OrderCreate, actor: Principal | null, policy: CheckoutPolicy, prefix = "") {
  const shipping = await checkoutShipping(input, policy, prefix);
  try {
    return await checkout(db, {
      user_id: userId,
      items: input.items.map((l) => ({ sku: l.sku, qty: l.qty })),
      client_token: input.client_token ?? null,
      actor_id: actor?.userId ?? null,
      actor_role: actorRole(actor),
      payment_window_sec: policy.paymentWindowSec,
      caps: policy.caps ? { max_open_orders: policy.caps.maxOpenOrders, max_units_per_sku: policy.caps.maxUnitsPerSku } : null,
      shipping,
    });
  } catch (err) {
    if (err instanceof CheckoutRefused) throw refusalError(err.refusal, policy, prefix);
    throw err;
  }
}

/**
 * Stock is reserved in the same transaction as the order (rows locked, checked, decremented): one
 * statement, one round trip, which returns the order too (once it commits, nothing is left that
 * could fail: a 5xx means nothing happened).
 */
export async function placeOrder(db: Drizzle, userId: string, input: OrderCreate, actor: Principal, policy: CheckoutPolicy) {
  try {
    const placed = await createOne(db, userId, input, actor, policy);
    if (!placed.replayed) countEvent("order_created", { detail: "checkout" });
    return placed;
  } catch (err) {
    // The rate is checked before the statement that would replay a used client_token: a retry that comes
    // after its rate expired still gets the order it placed (one more read, on this refusal only).
    if (err instanceof ApiError && input.client_token && RATE_REFUSALS.has(err.code)) {
      const placed = await getOrderByClientToken(db, userId, input.client_token);
      if (placed) return { order: placed, replayed: true };
    }
    if (!(err instanceof ClientTokenTaken) || !err.orderId) throw err;
    // A concurrent request with the same client_token won the race: ours wrote nothing; return theirs.
    const theirs = await getOrder(db, err.orderId);
    if (!theirs) throw err;
    return { order: theirs, replayed: true };
  }
}

const RATE_REFUSALS = new Set<string>(["shipping_rate_invalid", "shipping_rate_expired"]);

/** Up to 100 orders, all or nothing. ADMIN places them for customers: the per-customer caps do not apply. */
export async function placeBulk(
  db: Drizzle,
  orders: (OrderCreate & { user_id: string })[],
  actor: Principal,
  policy: Pick<CheckoutPolicy, "paymentWindowSec" | "shippingRateSecret">,
) {
  const known = await existingUserIds(db, [...new Set(orders.map((o) => o.user_id))]);
  const missing = orders.flatMap((o, i) =>
    known.has(o.user_id) ? [] : [{ field: `orders.${i}.user_id`, in: "body" as const, code: "not_found", message: "no such user" }],
  );
  if (missing.length) throw new ApiError("validation_error", "Unknown customers; nothing was ordered.", { errors: missing });
  const noCaps = { paymentWindowSec: policy.paymentWindowSec, shippingRateSecret: policy.shippingRateSecret };
  const placed = await db.transaction(async (tx) => {
    // One statement per order; each returns its order as read inside this transaction (no read-back query).
    const out: OrderRecord[] = [];
    for (const [i, o] of orders.entries()) {
      try {
        out.push((await createOne(tx, o.user_id, o, actor, noCaps, `orders.${i}.`)).order);
      } catch (err) {
        if (err instanceof ClientTokenTaken) {
          throw new ApiError("client_token_in_use", `orders.${i}: client_token is being used by a concurrent request.`, {
            errors: [{ field: `orders.${i}.client_token`, in: "body", code: "conflict", message: "in use" }],
          });
        }
        if (err instanceof ApiError)
          throw new ApiError(err.code, `Line orders.${i} failed: ${err.detail ?? err.message} Every order in the batch was rolled back.`, {
            ...(err.errors ? { errors: err.errors } : {}),
            extra: { ...err.extra, failed_index: i },
          });
        throw err;
      }
    }
    return out;
  });
  // After the commit; a client_token replayed inside a batch is counted too (rare).
  countEvent("order_created", { detail: "bulk", count: placed.length });
  return placed;
}

/** Owner or ADMIN; anyone else (and a missing id) gets the same 404. */
export async function readOrder(db: Drizzle, id: string, p: Principal): Promise<OrderRecord> {
  const order = await getOrder(db, id);
  if (!order || (p.role !== "ADMIN" && order.user_id !== p.userId)) throw new ApiError("not_found", "No order with that id.");
  return order;
}

export async function orderPage(db: Drizzle, secret: string, q: OrderListQuery, p: Principal) {
  if (p.role !== "ADMIN" && (q.user_id || q.q)) {
    throw new ApiError("forbidden", "Filtering by customer or free text is for ADMIN only.");
  }
  const limit = q.limit ?? 20;
  const userId = p.role === "ADMIN" ? q.user_id : p.userId;
  const scope = JSON.stringify([
    "orders",
    p.role === "ADMIN" ? "admin" : p.userId,
    q.status ?? "",
    q.q ?? "",
    q.created_from ?? "",
    q.created_to ?? "",
    userId ?? "",
  ]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const filter = { userId, status: q.status, q: q.q, from: q.created_from, to: q.created_to };
  const rows = await listOrders(db, filter, pos && { createdAt: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.created_at_key }, toOrderDto);
}

/**
 * The one way an order changes status, used by the API and by settlement. `order` must be
 * locked (FOR UPDATE) in `tx`. Checks the state machine, bumps `version`, writes history and
 * an `order.status_changed` outbox row, and restocks when the transition gives stock back.
 * Checkout's PENDING → PAID of a zero total is written by `place_order` in SQL with the same rows
 * (migrations/0009_shipping.sql): change it there too (test/orders.checkout-fn.test.ts compares).
 */
export async function transitionOrder(
  tx: Drizzle,
  order: OrderRecord,
  to: OrderStatus,
  opts: { actor: Principal | null; reason: string | null; payload?: Record<string, unknown> },
): Promise<{ from: OrderStatus; version: number; restocked: string[] }> {
  const from = order.status as OrderStatus;
  if (!canTransition(from, to)) {
    throw new ApiError("invalid_transition", `An order cannot go from ${from} to ${to}.`, {
      extra: { current_status: from, allowed: TRANSITIONS[from] },
    });
  }
  const { actor, reason } = opts;
  const version = await updateOrderStatus(tx, order.id, to);
  await insertHistory(tx, { orderId: order.id, from, to, actorId: actor?.userId ?? null, actorRole: actorRole(actor), reason });
  await insertOutbox(tx, {
    aggregateType: "order",
    aggregateId: order.id,
    eventType: "order.status_changed",
    payload: { order_id: order.id, user_id: order.user_id, from, to, version, reason, ...opts.payload },
  });
  const restocked = restocks(to) ? await restockOrder(tx, order.id) : [];
  return { from, version, restocked };
}

/** Locks an order row for a state change in `tx`; null when it does not exist. */
export function lockOrder(tx: Drizzle, id: string): Promise<OrderRecord | null> {
  return getOrder(tx, id, { forUpdate: true });
}

/**
 * Closes an order's open payment intent at the provider before the order is cancelled: "canceled"
 * when it is closed (or never reached the provider), "blocked" when an attempt is running or the
 * money is captured or being captured (then the order must not be cancelled: it will be PAID).
 */
export type IntentCloser = (p: PaymentRow) => Promise<"canceled" | "blocked">;

const paymentInProgress = () =>
  new ApiError("payment_in_progress", "A payment for this order is in progress; it cannot be cancelled now.", {
    headers: { "Retry-After": "5" },
  });

/** Without a provider at hand, only an intent that never reached the provider (and no attempt is running) can be closed. */
const closeLocally: IntentCloser = async (p) => (p.leased || p.provider_ref ? "blocked" : "canceled");

/**
 * Cancels with the order's open intent closed first (outside any transaction: it is a provider
 * call); the cancelling transaction then closes the payment row, and refuses if another attempt
 * opened one meanwhile. Returns the payment id closed, if any.
 */
async function closeOpenIntent(db: Drizzle, orderId: string, closeIntent: IntentCloser): Promise<string | null> {
  const open = await openPayment(db, orderId);
  if (!open) return null;
  if ((await closeIntent(open)) === "blocked") throw paymentInProgress();
  return open.id;
}

async function closePaymentInTx(tx: Drizzle, orderId: string, closedId: string | null, why: string): Promise<void> {
  const open = await openPayment(tx, orderId, { forUpdate: true });
  if (!open) return;
  if (open.id !== closedId) throw paymentInProgress();
  await closePayment(tx, open.id, why);
}

/**
 * Optimistic locking (`version`) plus the transition table. ADMIN may make any allowed
 * transition; the owner may only cancel their PENDING order. Cancelling closes the order's open
 * payment intent at the provider first (`closeIntent`); a capture already under way → 409 payment_in_progress.
 */
export async function changeStatus(
  db: Drizzle,
  id: string,
  to: OrderStatus,
  expectedVersion: number | null,
  actor: Principal,
  reason: string | null,
  closeIntent: IntentCloser = closeLocally,
) {
  const check = (order: OrderRecord | null): OrderRecord => {
    if (!order || (actor.role !== "ADMIN" && order.user_id !== actor.userId)) throw new ApiError("not_found", "No order with that id.");
    if (actor.role !== "ADMIN" && to !== "CANCELLED")
      throw new ApiError("forbidden", "Customers may only cancel their own pending orders.");
    if (expectedVersion !== null && order.version !== expectedVersion) {
      throw new ApiError("version_conflict", `The order changed since you read it (version ${expectedVersion}, now ${order.version}).`, {
        extra: { current_version: order.version, current_status: order.status },
      });
    }
    const from = order.status as OrderStatus;
    if (!canTransition(from, to)) {
      throw new ApiError("invalid_transition", `An order cannot go from ${from} to ${to}.`, {
        extra: { current_status: from, allowed: TRANSITIONS[from] },
      });
    }
    return order;
  };
  // Checked before any provider call, and again under the lock.
  check(await getOrder(db, id));
  const closed = to === "CANCELLED" ? await closeOpenIntent(db, id, closeIntent) : null;
  const changed = await db.transaction(async (tx) => {
    const order = check(await lockOrder(tx, id));
    if (to === "CANCELLED") await closePaymentInTx(tx, id, closed, "cancelled with its order");
    const { restocked } = await transitionOrder(tx, order, to, { actor, reason });
    return { order: (await getOrder(tx, id)) as OrderRecord, restocked };
  });
  if (to === "CANCELLED") countEvent("order_cancelled", { detail: actor.role === "ADMIN" ? "admin" : "customer" });
  return changed;
}

/**
 * Order expiry (a scheduled job): cancels unpaid PENDING orders past `expires_at`, restocking
 * them, as SYSTEM, one transaction per order, re-checked under the order's lock. An order whose
 * payment is in flight is left alone; an idle open intent is closed at the provider first. Idempotent
 * and safe to run concurrently; bounded by `batchSize` and the deadline (the next run continues).
 */
export async function expireOrders(
  db: Drizzle,
  opts: { inFlightSec: number; batchSize: number; deadline: number; closeIntent?: IntentCloser; log?: Logger },
): Promise<{ expired: number; restocked_units: number; skipped: number; expired_ids: string[] }> {
  const out = { expired: 0, restocked_units: 0, skipped: 0, expired_ids: [] as string[] };
  const skipped = new Set<string>();
  while (Date.now() < opts.deadline) {
    const ids = (await expiredOrderIds(db, opts.inFlightSec, opts.batchSize + skipped.size)).filter((id) => !skipped.has(id));
    for (const id of ids) {
      if (Date.now() >= opts.deadline) break;
      let done: number | null = null;
      try {
        const closed = await closeOpenIntent(db, id, opts.closeIntent ?? closeLocally);
        done = await db.transaction(async (tx) => {
          const order = await lockOrder(tx, id);
          if (!order || !(await isExpirable(tx, id, opts.inFlightSec))) return null;
          await closePaymentInTx(tx, id, closed, "order expired unpaid");
          await transitionOrder(tx, order, "CANCELLED", { actor: null, reason: "payment window expired", payload: { expired: true } });
          return order.items.reduce((n, it) => n + it.qty, 0);
        });
      } catch (err) {
        // A capture under way, or the provider unreachable: the next run looks again.
        opts.log?.warn("order not expired this run", { component: "jobs", order_id: id, ...errorFields(err) });
      }
      if (done === null) {
        out.skipped++;
        skipped.add(id);
      } else {
        out.expired++;
        out.restocked_units += done;
        out.expired_ids.push(id);
      }
    }
    if (ids.length < opts.batchSize) break;
  }
  return out;
}
