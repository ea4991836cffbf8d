-- Sales reports (issue 14): a refund ledger, the definitions of a sale and a refund (plain views),
-- the two materialized views the reports read, and the log of their refreshes. docs/reports.md.
--
-- Refunds were only a running total (payments.amount_refunded_cents), so the day a refund happened
-- was lost. payment_refunds records every change of that total, written by a trigger on payments,
-- so every writer (settlement, surplus refunds, anything later) is covered without code changes.
CREATE TABLE "payment_refunds" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" uuid NOT NULL,
	"amount_cents" bigint NOT NULL,
	"refunded_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_refunds_amount_nonzero" CHECK ("payment_refunds"."amount_cents" <> 0)
);
--> statement-breakpoint
ALTER TABLE "payment_refunds" ADD CONSTRAINT "payment_refunds_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "payment_refunds_payment_idx" ON "payment_refunds" USING btree ("payment_id");--> statement-breakpoint
CREATE INDEX "payment_refunds_refunded_at_idx" ON "payment_refunds" USING btree ("refunded_at");--> statement-breakpoint
-- Refunds recorded before the ledger existed: one entry each, dated by the payment's last change (the best time known).
INSERT INTO "payment_refunds" ("payment_id", "amount_cents", "refunded_at")
SELECT "id", "amount_refunded_cents", "updated_at" FROM "payments" WHERE "amount_refunded_cents" > 0;
--> statement-breakpoint
CREATE FUNCTION "payments_record_refund"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	delta bigint := NEW.amount_refunded_cents - CASE WHEN TG_OP = 'UPDATE' THEN OLD.amount_refunded_cents ELSE 0 END;
BEGIN
	-- The ledger's sum per payment always equals payments.amount_refunded_cents.
	IF delta <> 0 THEN
		INSERT INTO payment_refunds (payment_id, amount_cents) VALUES (NEW.id, delta);
	END IF;
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "payments_refund_ledger" AFTER INSERT OR UPDATE OF "amount_refunded_cents" ON "payments"
	FOR EACH ROW EXECUTE FUNCTION "payments_record_refund"();
--> statement-breakpoint
-- A sale: an order's PENDING → PAID transition (exactly one per order: the state machine never goes back),
-- for orders PAID or later. Its time is when the transition was recorded. Partial refunds write
-- PAID → PAID history rows: the from_status filter leaves them out.
CREATE INDEX "order_status_history_paid_at_idx" ON "order_status_history" USING btree ("at") WHERE "order_status_history"."to_status" = 'PAID' AND "order_status_history"."from_status" = 'PENDING';--> statement-breakpoint
CREATE VIEW "sales_paid_orders" AS
SELECT o.id AS order_id, o.currency, h.at AS paid_at, o.total_cents
FROM order_status_history h
JOIN orders o ON o.id = h.order_id
WHERE h.to_status = 'PAID' AND h.from_status = 'PENDING'
	AND o.status IN ('PAID', 'FULFILLED', 'SHIPPED', 'DELIVERED', 'REFUNDED');
--> statement-breakpoint
-- A refund: a ledger entry of a sale's payment, in the order's currency, at the time it was recorded.
-- Refunds of surplus captures (money taken for an order that no longer waited for it) are not the
-- sale's: they are left out, as the capture itself never counted.
CREATE VIEW "sales_refunds" AS
SELECT r.id AS refund_id, s.order_id, s.currency, r.refunded_at, r.amount_cents
FROM payment_refunds r
JOIN payments p ON p.id = r.payment_id
JOIN sales_paid_orders s ON s.order_id = p.order_id
WHERE NOT EXISTS (
	SELECT 1 FROM payment_anomalies a WHERE a.payment_id = p.id AND a.kind = 'surplus_capture'
);
--> statement-breakpoint
-- One row per UTC day and currency with a sale or a refund. Sales count on the day they were paid,
-- refunds on the day they were recorded; net can be negative on a day of refunds.
CREATE MATERIALIZED VIEW "daily_sales" AS
WITH paid AS (
	SELECT (paid_at AT TIME ZONE 'UTC')::date AS day, currency, count(*) AS orders, sum(total_cents) AS gross
	FROM sales_paid_orders GROUP BY 1, 2
), units AS (
	SELECT (s.paid_at AT TIME ZONE 'UTC')::date AS day, s.currency, sum(i.qty) AS units
	FROM sales_paid_orders s JOIN order_items i ON i.order_id = s.order_id GROUP BY 1, 2
), refunds AS (
	SELECT (refunded_at AT TIME ZONE 'UTC')::date AS day, currency, sum(amount_cents) AS refunded
	FROM sales_refunds GROUP BY 1, 2
)
SELECT day, currency,
	coalesce(paid.orders, 0)::integer AS orders,
	coalesce(units.units, 0)::bigint AS units,
	coalesce(paid.gross, 0)::bigint AS gross_revenue_cents,
	coalesce(refunds.refunded, 0)::bigint AS refunded_cents,
	(coalesce(paid.gross, 0) - coalesce(refunds.refunded, 0))::bigint AS net_revenue_cents,
	CASE WHEN coalesce(paid.orders, 0) = 0 THEN 0 ELSE round(paid.gross::numeric / paid.orders) END::bigint AS average_order_value_cents
FROM paid
FULL JOIN units USING (day, currency)
FULL JOIN refunds USING (day, currency);
--> statement-breakpoint
CREATE UNIQUE INDEX "daily_sales_day_currency_key" ON "daily_sales" USING btree ("day", "currency");--> statement-breakpoint
-- Per product: units and line revenue (before refunds, which are not itemised) on the day paid.
CREATE MATERIALIZED VIEW "product_sales_daily" AS
SELECT (s.paid_at AT TIME ZONE 'UTC')::date AS day, i.product_id, s.currency,
	count(DISTINCT s.order_id)::integer AS orders,
	sum(i.qty)::bigint AS units,
	sum(i.line_total_cents)::bigint AS revenue_cents
FROM sales_paid_orders s
JOIN order_items i ON i.order_id = s.order_id
GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE UNIQUE INDEX "product_sales_daily_day_product_currency_key" ON "product_sales_daily" USING btree ("day", "product_id", "currency");--> statement-breakpoint
-- Every completed refresh (the last one dates the reports); written in the refresh's own transaction.
CREATE TABLE "report_refreshes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"started_at" timestamp (6) with time zone NOT NULL,
	"finished_at" timestamp (6) with time zone NOT NULL,
	"duration_ms" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "report_refreshes_finished_idx" ON "report_refreshes" USING btree ("finished_at" DESC NULLS LAST);--> statement-breakpoint
-- The views were filled just now, by this migration.
INSERT INTO "report_refreshes" ("trigger", "started_at", "finished_at", "duration_ms") VALUES ('migration', now(), clock_timestamp(), 0);
