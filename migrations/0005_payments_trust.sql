CREATE TABLE "payment_anomalies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"payment_id" uuid,
	"order_id" uuid,
	"webhook_event_id" uuid,
	"provider" text NOT NULL,
	"provider_ref" text,
	"amount_cents" bigint,
	"currency" text,
	"detail" jsonb NOT NULL,
	"refund_status" text,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp (6) with time zone
);
--> statement-breakpoint
DROP INDEX "payments_one_live_per_order";--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "amount_refunded_cents" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "failed_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "last_failure" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "lease_until" timestamp (6) with time zone;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "lease_owner" text;--> statement-breakpoint
CREATE INDEX "payment_anomalies_created_idx" ON "payment_anomalies" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "payment_anomalies_refund_pending_idx" ON "payment_anomalies" USING btree ("created_at") WHERE "payment_anomalies"."refund_status" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "payment_anomalies_event_kind_key" ON "payment_anomalies" USING btree ("webhook_event_id","kind");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_one_open_per_order" ON "payments" USING btree ("order_id") WHERE "payments"."status" = 'INITIATED';--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "payments" USING btree ("order_id");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_refund_range" CHECK ("payments"."amount_refunded_cents" BETWEEN 0 AND "payments"."amount_cents");--> statement-breakpoint
-- Payments refunded before refunds were tracked were refunded in full.
UPDATE "payments" SET "amount_refunded_cents" = "amount_cents" WHERE "status" = 'REFUNDED';
