-- Stock adjustments as a ledger (who, how much, why, the stock after), and their Idempotency-Key:
-- a retry after an unacknowledged COMMIT (a 503 that released the key in the IdempotencyStore) finds
-- its adjustment here instead of applying the delta twice (docs/reliability.md).
CREATE TABLE "stock_adjustments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"product_id" uuid NOT NULL REFERENCES "products"("id") ON DELETE CASCADE,
	"delta" integer NOT NULL,
	"stock_after" integer NOT NULL,
	"reason" text,
	"actor_id" uuid,
	"idempotency_key" text,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
CREATE UNIQUE INDEX "stock_adjustments_actor_key" ON "stock_adjustments" USING btree ("actor_id","idempotency_key") WHERE "idempotency_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "stock_adjustments_product_created" ON "stock_adjustments" USING btree ("product_id","created_at");
