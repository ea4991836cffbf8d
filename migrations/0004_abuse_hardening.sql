ALTER TABLE "orders" ADD COLUMN "expires_at" timestamp (6) with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "token_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "login_throttle_last_failure_idx" ON "login_throttle" USING btree ("last_failure_at");--> statement-breakpoint
CREATE INDEX "orders_pending_expires_idx" ON "orders" USING btree ("expires_at") WHERE "orders"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "orders_user_pending_idx" ON "orders" USING btree ("user_id") WHERE "orders"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "outbox_published_at_idx" ON "outbox" USING btree ("published_at") WHERE "outbox"."published_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "products_price_id_idx" ON "products" USING btree ("price_cents","id");--> statement-breakpoint
CREATE INDEX "products_category_price_id_idx" ON "products" USING btree ("category_id","price_cents","id");--> statement-breakpoint
CREATE INDEX "products_name_id_idx" ON "products" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "products_category_name_id_idx" ON "products" USING btree ("category_id","name","id");--> statement-breakpoint
CREATE INDEX "webhook_events_done_processed_idx" ON "webhook_events" USING btree ("processed_at") WHERE "webhook_events"."status" IN ('PROCESSED', 'IGNORED');--> statement-breakpoint
-- Orders placed before expiry existed get the default payment window (ORDER_PAYMENT_WINDOW_SEC = 1800).
UPDATE "orders" SET "expires_at" = "created_at" + interval '1800 seconds' WHERE "status" = 'PENDING' AND "expires_at" IS NULL;
