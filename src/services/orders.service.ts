/** Checkout and order lifecycle. Every state change is one transaction with its history and outbox rows. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import {
  decrementStock,
  existingUserIds,
  expiredOrderIds,
  findOrderIdByClientToken,
  getOrder,
  getOrders,
  insertHistory,
  insertOrder,
  insertOrderItems,
  insertOutbox,
  isExpirable,
  listOrders,
  lockCustomer,
  lockProductsBySku,
  type OrderRecord,
  openReservations,
  restockOrder,
  updateOrderStatus,
} from "../db/orders.repo.ts";
import { closePayment, openPayment, type PaymentRow } from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { ApiError, type FieldError } from "../lib/problem.ts";
import type { Principal } from "../lib/tokens.ts";
import type { OrderCreate, OrderListQuery, OrderStatus } from "../schemas/orders.ts";
import { canTransition, restocks, TRANSITIONS } from "./order-state.ts";

export type OrderDto = Omit<OrderRecord, "created_at_key" | "status"> & { status: OrderStatus };

export function toOrderDto(o: OrderRecord): OrderDto {
  const { created_at_key: _key, ...dto } = o;
  return { ...dto, status: o.status as OrderStatus };
}

class ClientTokenTaken extends Error {}

const actorRole = (p: Principal | null) => p?.role ?? "SYSTEM";

/** The checkout rules that come from configuration. */
export interface CheckoutPolicy {
  paymentWindowSec: number;
  /** Per-customer caps on what unpaid orders may hold; absent for ADMIN bulk orders placed for customers. */
  caps?: { maxOpenOrders: number; maxUnitsPerSku: number };
}

export function checkoutPolicy(cfg: Config): Required<CheckoutPolicy> {
  return {
    paymentWindowSec: cfg.ORDER_PAYMENT_WINDOW_SEC,
    caps: { maxOpenOrders: cfg.MAX_OPEN_ORDERS_PER_USER, maxUnitsPerSku: cfg.MAX_RESERVED_UNITS_PER_SKU },
  };
}

/**
 * The hoarding caps: unpaid orders hold stock until they expire, so one customer may hold only
 * so many orders and so many units of one SKU. Called with the customer's row locked.
 */
async function enforceCaps(tx: Drizzle, userId: string, input: OrderCreate, caps: NonNullable<CheckoutPolicy["caps"]>, prefix: string) {
  const held = await openReservations(
    tx,
    userId,
    input.items.map((l) => l.sku),
  );
  if (held.openOrders >= caps.maxOpenOrders) {
    const retryAfter = Math.max(1, held.nextExpirySec ?? 60);
    throw new ApiError(
      "open_orders_limit",
      `You have ${held.openOrders} unpaid orders; pay or cancel one first (at most ${caps.maxOpenOrders}).`,
      { headers: { "Retry-After": String(retryAfter) }, extra: { cap: "MAX_OPEN_ORDERS_PER_USER", limit: caps.maxOpenOrders } },
    );
  }
  const over = input.items.flatMap((l, i) => {
    const already = held.unitsBySku.get(l.sku) ?? 0;
    return already + l.qty > caps.maxUnitsPerSku ? [{ i, sku: l.sku, already }] : [];
  });
  if (over.length) {
    throw new ApiError(
      "reservation_limit",
      `At most ${caps.maxUnitsPerSku} units of one product may be held by your unpaid orders; nothing was ordered.`,
      {
        errors: over.map((o) => ({
          field: `${prefix}items.${o.i}.qty`,
          in: "body" as const,
          code: "reservation_limit",
          message: `your unpaid orders already hold ${o.already} of ${o.sku}`,
        })),
        extra: { cap: "MAX_RESERVED_UNITS_PER_SKU", limit: caps.maxUnitsPerSku, skus: over.map((o) => o.sku) },
      },
    );
  }
}

/** Creates one order inside `tx`. Field paths are prefixed (bulk: `orders.3.`) so errors name the line. */
async function createInTx(tx: Drizzle, userId: string, input: OrderCreate, actor: Principal | null, policy: CheckoutPolicy, prefix = "") {
  // Serialises one customer's checkouts (caps are checked and used atomically); a deleted account cannot order.
  if (!(await lockCustomer(tx, userId))) {
    throw new ApiError("unauthorized", "This account no longer exists.", {
      headers: { "WWW-Authenticate": 'Bearer realm="toko-edge", error="invalid_token"' },
    });
  }
  if (input.client_token) {
    const existing = await findOrderIdByClientToken(tx, userId, input.client_token);
    if (existing) return { orderId: existing, replayed: true };
  }
  if (policy.caps) await enforceCaps(tx, userId, input, policy.caps, prefix);
  const locked = await lockProductsBySku(
    tx,
    input.items.map((l) => l.sku),
  );
  const bySku = new Map(locked.map((p) => [p.sku, p]));
  const unknown: FieldError[] = [];
  input.items.forEach((l, i) => {
    const p = bySku.get(l.sku);
    if (p?.status !== "active")
      unknown.push({ field: `${prefix}items.${i}.sku`, in: "body", code: "unknown_sku", message: `no active product has SKU ${l.sku}` });
  });
  if (unknown.length) throw new ApiError("validation_error", "Some SKUs are not for sale; nothing was ordered.", { errors: unknown });
  const currencies = new Set(locked.map((p) => p.currency));
  if (currencies.size > 1) {
    throw new ApiError(
      "validation_error",
      `An order has one currency; these items are priced in ${[...currencies].sort().join(" and ")}.`,
      {
        errors: [{ field: `${prefix}items`, in: "body", code: "mixed_currency", message: "all items must share one currency" }],
      },
    );
  }
  const short = input.items.flatMap((l, i) => {
    const p = bySku.get(l.sku);
    return p && p.stock < l.qty ? [{ i, sku: l.sku, requested: l.qty, available: p.stock }] : [];
  });
  if (short.length) {
    throw new ApiError("insufficient_stock", `Not enough stock for ${short.map((s) => s.sku).join(", ")}; nothing was ordered.`, {
      errors: short.map((s) => ({
        field: `${prefix}items.${s.i}.qty`,
        in: "body" as const,
        code: "insufficient_stock",
        message: `only ${s.available} left`,
      })),
      extra: {
        skus: short.map((s) => s.sku),
        lines: short.map(({ sku, requested, available }) => ({ sku, requested, available })),
      },
    });
  }
  const items = input.items.map((l) => {
    const p = bySku.get(l.sku) as NonNullable<ReturnType<typeof bySku.get>>;
    return { product_id: p.id, sku: p.sku, name: p.name, unit_price_cents: p.price_cents, qty: l.qty };
  });
  const subtotal = items.reduce((sum, it) => sum + it.unit_price_cents * it.qty, 0);
  await decrementStock(
    tx,
    items.map((it) => ({ id: it.product_id, qty: it.qty })),
  );
  const orderId = await insertOrder(tx, {
    userId,
    currency: locked[0]?.currency ?? "USD",
    subtotal,
    clientToken: input.client_token ?? null,
    paymentWindowSec: policy.paymentWindowSec,
  });
  if (!orderId) throw new ClientTokenTaken();
  await insertOrderItems(tx, orderId, items);
  await insertHistory(tx, {
    orderId,
    from: null,
    to: "PENDING",
    actorId: actor?.userId ?? null,
    actorRole: actorRole(actor),
    reason: null,
  });
  await insertOutbox(tx, {
    aggregateType: "order",
    aggregateId: orderId,
    eventType: "order.created",
    payload: { order_id: orderId, user_id: userId, status: "PENDING", currency: locked[0]?.currency, total_cents: subtotal, items },
  });
  if (subtotal === 0) {
    // Nothing to pay (no provider takes a zero amount): the order is paid at checkout, as SYSTEM.
    const created = await lockOrder(tx, orderId);
    if (created) await transitionOrder(tx, created, "PAID", { actor: null, reason: "nothing to pay (total 0)", payload: { free: true } });
  }
  return { orderId, replayed: false };
}

/** Stock is reserved in the same transaction as the order (rows locked, checked, decremented). */
export async function placeOrder(db: Drizzle, userId: string, input: OrderCreate, actor: Principal, policy: CheckoutPolicy) {
  try {
    // Read back inside the transaction: once it commits, nothing is left that could fail (a 5xx means nothing happened).
    return await db.transaction(async (tx) => {
      const res = await createInTx(tx, userId, input, actor, policy);
      return { order: (await getOrder(tx, res.orderId)) as OrderRecord, replayed: res.replayed };
    });
  } catch (err) {
    if (!(err instanceof ClientTokenTaken) || !input.client_token) throw err;
    // A concurrent request with the same client_token won the race: ours rolled back; return theirs.
    const existing = await findOrderIdByClientToken(db, userId, input.client_token);
    if (!existing) throw err;
    return { order: (await getOrder(db, existing)) as OrderRecord, replayed: true };
  }
}

/** Up to 100 orders, all or nothing. ADMIN places them for customers: the per-customer caps do not apply. */
export async function placeBulk(
  db: Drizzle,
  orders: (OrderCreate & { user_id: string })[],
  actor: Principal,
  policy: Pick<CheckoutPolicy, "paymentWindowSec">,
) {
  const known = await existingUserIds(db, [...new Set(orders.map((o) => o.user_id))]);
  const missing = orders.flatMap((o, i) =>
    known.has(o.user_id) ? [] : [{ field: `orders.${i}.user_id`, in: "body" as const, code: "not_found", message: "no such user" }],
  );
  if (missing.length) throw new ApiError("validation_error", "Unknown customers; nothing was ordered.", { errors: missing });
  return db.transaction(async (tx) => {
    const out: { orderId: string; replayed: boolean }[] = [];
    for (const [i, o] of orders.entries()) {
      try {
        out.push(await createInTx(tx, o.user_id, o, actor, { paymentWindowSec: policy.paymentWindowSec }, `orders.${i}.`));
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
    return getOrders(
      tx,
      out.map((r) => r.orderId),
    );
  });
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
  return db.transaction(async (tx) => {
    const order = check(await lockOrder(tx, id));
    if (to === "CANCELLED") await closePaymentInTx(tx, id, closed, "cancelled with its order");
    const { restocked } = await transitionOrder(tx, order, to, { actor, reason });
    return { order: (await getOrder(tx, id)) as OrderRecord, restocked };
  });
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
