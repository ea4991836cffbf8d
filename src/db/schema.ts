import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

export const productStatus = pgEnum("product_status", ["active", "archived"]);
export const userRole = pgEnum("user_role", ["ADMIN", "USER"]);

export const categories = pgTable(
  "categories",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    parentId: uuid("parent_id").references((): AnyPgColumn => categories.id, { onDelete: "restrict" }),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("categories_slug_key").on(t.slug), check("categories_slug_format", sql`${t.slug} ~ '^[a-z0-9]+(-[a-z0-9]+)*$'`)],
);

export const products = pgTable(
  "products",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sku: text("sku").notNull(),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    description: text("description").notNull().default(""),
    priceCents: integer("price_cents").notNull(),
    currency: text("currency").notNull(),
    categoryId: uuid("category_id").references(() => categories.id, { onDelete: "restrict" }),
    stock: integer("stock").notNull().default(0),
    status: productStatus("status").notNull().default("active"),
    /** Shipping profile (migrations/0009): physical unless false (gift cards, downloads); unknown weight or size is NULL. */
    requiresShipping: boolean("requires_shipping").notNull().default(true),
    weightGrams: integer("weight_grams"),
    lengthMm: integer("length_mm"),
    widthMm: integer("width_mm"),
    heightMm: integer("height_mm"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    searchVector: tsvector("search_vector").generatedAlwaysAs(
      sql`setweight(to_tsvector('english', coalesce(name, '')), 'A') || setweight(to_tsvector('english', coalesce(sku, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')`,
    ),
  },
  (t) => [
    uniqueIndex("products_sku_key").on(t.sku),
    uniqueIndex("products_slug_key").on(t.slug),
    check("products_price_nonnegative", sql`${t.priceCents} >= 0`),
    check("products_stock_nonnegative", sql`${t.stock} >= 0`),
    check("products_currency_iso4217", sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check("products_weight_range", sql`${t.weightGrams} BETWEEN 0 AND 1000000`),
    check(
      "products_dimensions_range",
      sql`${t.lengthMm} BETWEEN 1 AND 10000 AND ${t.widthMm} BETWEEN 1 AND 10000 AND ${t.heightMm} BETWEEN 1 AND 10000`,
    ),
    // Keyset pagination: newest first over (created_at, id), with and without category filter.
    index("products_created_id_idx").on(t.createdAt.desc(), t.id.desc()),
    index("products_category_created_id_idx").on(t.categoryId, t.createdAt.desc(), t.id.desc()),
    // Keyset pagination per sort order (`sort=price_asc|price_desc|name`; desc walks the index backwards).
    index("products_price_id_idx").on(t.priceCents, t.id),
    index("products_category_price_id_idx").on(t.categoryId, t.priceCents, t.id),
    index("products_name_id_idx").on(t.name, t.id),
    index("products_category_name_id_idx").on(t.categoryId, t.name, t.id),
    index("products_search_idx").using("gin", t.searchVector),
  ],
);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Normalised: trimmed, NFKC, lower case. */
    email: text("email").notNull(),
    /** `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`: parameters travel with the hash. */
    passwordHash: text("password_hash").notNull(),
    role: userRole("role").notNull().default("USER"),
    /** Access tokens carry it (`ver`); bumping it revokes every token issued before (role change, password change, revoke-sessions). */
    tokenVersion: integer("token_version").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("users_email_key").on(t.email)],
);

/** Failed-login counters shared by every isolate: one row per account (`acct:`) or client IP (`ip:`). */
export const loginThrottle = pgTable(
  "login_throttle",
  {
    key: text("key").primaryKey(),
    failures: integer("failures").notNull().default(0),
    lastFailureAt: timestamp("last_failure_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    lockedUntil: timestamp("locked_until", { withTimezone: true, precision: 6 }),
  },
  (t) => [index("login_throttle_last_failure_idx").on(t.lastFailureAt)],
);

export const orderStatus = pgEnum("order_status", ["PENDING", "PAID", "FULFILLED", "SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED"]);

export const orders = pgTable(
  "orders",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "restrict" }),
    status: orderStatus("status").notNull().default("PENDING"),
    currency: text("currency").notNull(),
    subtotalCents: bigint("subtotal_cents", { mode: "number" }).notNull(),
    /** Goods + shipping (CHECK), in `currency`; shipping is 0 for an order that ships nothing. */
    totalCents: bigint("total_cents", { mode: "number" }).notNull(),
    shippingCents: bigint("shipping_cents", { mode: "number" }).notNull().default(0),
    /** The normalised address and the rate picked at checkout (price verified by the Worker); all NULL without shipping. */
    shippingAddress: jsonb("shipping_address"),
    shippingCarrier: text("shipping_carrier"),
    shippingService: text("shipping_service"),
    shippingServiceName: text("shipping_service_name"),
    shippingCurrency: text("shipping_currency"),
    shippingEstimated: boolean("shipping_estimated"),
    shippingEstimatedDays: integer("shipping_estimated_days"),
    /** Optimistic locking: every change increments it; writers send the version they read. */
    version: integer("version").notNull().default(1),
    /** Client-supplied de-duplication token, unique per user (second line of defence after Idempotency-Key). */
    clientToken: text("client_token"),
    /** Unpaid PENDING orders are cancelled (stock released) after this by the order-expiry job. */
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 6 }),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("orders_user_client_token_key").on(t.userId, t.clientToken),
    index("orders_pending_expires_idx").on(t.expiresAt).where(sql`${t.status} = 'PENDING'`),
    index("orders_user_pending_idx").on(t.userId).where(sql`${t.status} = 'PENDING'`),
    index("orders_user_created_idx").on(t.userId, t.createdAt.desc(), t.id.desc()),
    index("orders_created_idx").on(t.createdAt.desc(), t.id.desc()),
    index("orders_status_created_idx").on(t.status, t.createdAt.desc()),
    check("orders_totals_nonnegative", sql`${t.subtotalCents} >= 0 AND ${t.totalCents} >= 0`),
    check("orders_currency_iso4217", sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check("orders_shipping_nonnegative", sql`${t.shippingCents} >= 0`),
    check("orders_total_includes_shipping", sql`${t.totalCents} = ${t.subtotalCents} + ${t.shippingCents}`),
    check("orders_shipping_currency", sql`${t.shippingCurrency} IS NULL OR ${t.shippingCurrency} = ${t.currency}`),
  ],
);

export const orderItems = pgTable(
  "order_items",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id, { onDelete: "cascade" }),
    productId: uuid("product_id")
      .notNull()
      .references(() => products.id, { onDelete: "restrict" }),
    /** Snapshots: what the customer saw when ordering, whatever the catalogue says later. */
    sku: text("sku").notNull(),
    name: text("name").notNull(),
    unitPriceCents: integer("unit_price_cents").notNull(),
    qty: integer("qty").notNull(),
    lineTotalCents: bigint("line_total_cents", { mode: "number" }).notNull(),
  },
  (t) => [
    index("order_items_order_idx").on(t.orderId),
    index("order_items_sku_idx").on(t.sku),
    check("order_items_qty_range", sql`${t.qty} BETWEEN 1 AND 1000`),
    check("order_items_price_nonnegative", sql`${t.unitPriceCents} >= 0`),
  ],
);

export const orderStatusHistory = pgTable(
  "order_status_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id, { onDelete: "cascade" }),
    fromStatus: orderStatus("from_status"),
    toStatus: orderStatus("to_status").notNull(),
    actorId: uuid("actor_id"),
    actorRole: text("actor_role").notNull(),
    reason: text("reason"),
    at: timestamp("at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [index("order_status_history_order_idx").on(t.orderId, t.at)],
);

/** Transactional outbox: events written in the same transaction as the change they describe. */
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: uuid("aggregate_id").notNull(),
    eventType: text("event_type").notNull(),
    payload: jsonb("payload").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    index("outbox_unpublished_idx").on(t.id).where(sql`${t.publishedAt} IS NULL`),
    index("outbox_published_at_idx").on(t.publishedAt).where(sql`${t.publishedAt} IS NOT NULL`),
  ],
);

export const paymentStatus = pgEnum("payment_status", ["INITIATED", "SUCCEEDED", "FAILED", "REFUNDED"]);

export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id, { onDelete: "restrict" }),
    userId: uuid("user_id").notNull(),
    provider: text("provider").notNull(),
    /** The provider's id (Stripe PaymentIntent id, sandbox ref); set once the provider answered. */
    providerRef: text("provider_ref"),
    amountCents: bigint("amount_cents", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /**
     * INITIATED: the intent is open (a failed attempt leaves it open: the customer retries the same
     * intent). SUCCEEDED: captured. REFUNDED: fully refunded. FAILED: closed without capture (cancelled).
     */
    status: paymentStatus("status").notNull().default("INITIATED"),
    /** Cumulative, as the provider reports it (events carry the total, so applying one twice or late is harmless). */
    amountRefundedCents: bigint("amount_refunded_cents", { mode: "number" }).notNull().default(0),
    /** Failed attempts on this intent so far, and the provider's last failure code. */
    failedAttempts: integer("failed_attempts").notNull().default(0),
    lastFailure: text("last_failure"),
    /** An attempt in progress holds the payment until then (a dead invocation's lease runs out: PAYMENT_LEASE_SEC). */
    leaseUntil: timestamp("lease_until", { withTimezone: true, precision: 6 }),
    /** Who holds the lease: a hash of the Idempotency-Key, so a retry of the same request takes over at once. */
    leaseOwner: text("lease_owner"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("payments_provider_ref_key").on(t.provider, t.providerRef),
    // One open intent per order (reused across attempts). Captures are not limited here: a capture that
    // arrives for an order already paid must be recorded (then refunded), never rejected by a constraint.
    uniqueIndex("payments_one_open_per_order").on(t.orderId).where(sql`${t.status} = 'INITIATED'`),
    index("payments_order_idx").on(t.orderId),
    check("payments_amount_positive", sql`${t.amountCents} > 0`),
    check("payments_refund_range", sql`${t.amountRefundedCents} BETWEEN 0 AND ${t.amountCents}`),
  ],
);

/** Money events that were not applied as they came: never silent, listed for staff (GET /api/v1/admin/payments/anomalies). */
export const paymentAnomalies = pgTable(
  "payment_anomalies",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** amount_mismatch | currency_mismatch | reference_mismatch | surplus_capture | unknown_payment */
    kind: text("kind").notNull(),
    paymentId: uuid("payment_id"),
    orderId: uuid("order_id"),
    webhookEventId: uuid("webhook_event_id"),
    provider: text("provider").notNull(),
    providerRef: text("provider_ref"),
    amountCents: bigint("amount_cents", { mode: "number" }),
    currency: text("currency"),
    detail: jsonb("detail").notNull(),
    /** Surplus captures: pending until the refund went through, then refunded (or failed: retried by the sweeper). */
    refundStatus: text("refund_status"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    resolvedAt: timestamp("resolved_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    index("payment_anomalies_created_idx").on(t.createdAt.desc(), t.id.desc()),
    index("payment_anomalies_refund_pending_idx").on(t.createdAt).where(sql`${t.refundStatus} = 'pending'`),
    uniqueIndex("payment_anomalies_event_kind_key").on(t.webhookEventId, t.kind),
  ],
);

export const webhookEventStatus = pgEnum("webhook_event_status", ["RECEIVED", "PROCESSED", "IGNORED", "FAILED"]);

/** Every verified inbound webhook, stored before it is acknowledged; (provider, event_id) de-duplicates. */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    provider: text("provider").notNull(),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    payload: jsonb("payload").notNull(),
    status: webhookEventStatus("status").notNull().default("RECEIVED"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    receivedAt: timestamp("received_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    uniqueIndex("webhook_events_provider_event_key").on(t.provider, t.eventId),
    index("webhook_events_status_idx").on(t.status, t.receivedAt),
    index("webhook_events_done_processed_idx").on(t.processedAt).where(sql`${t.status} IN ('PROCESSED', 'IGNORED')`),
  ],
);

export const deadLetterStatus = pgEnum("dead_letter_status", ["DEAD", "REPLAYED"]);

export const deadLetters = pgTable(
  "dead_letters",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    queue: text("queue").notNull(),
    /** Stable identity of the message content (e.g. the webhook event id) so repeats update one row. */
    messageKey: text("message_key").notNull(),
    body: jsonb("body").notNull(),
    attempts: integer("attempts").notNull(),
    lastError: text("last_error"),
    status: deadLetterStatus("status").notNull().default("DEAD"),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    replayedAt: timestamp("replayed_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    uniqueIndex("dead_letters_queue_key").on(t.queue, t.messageKey),
    index("dead_letters_status_seen_idx").on(t.status, t.lastSeenAt),
  ],
);

export type Category = typeof categories.$inferSelect;
export type Product = typeof products.$inferSelect;
export type User = typeof users.$inferSelect;
