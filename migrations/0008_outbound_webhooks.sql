-- Outbound webhooks and customer notifications (issue 15): docs/webhooks.md.
--
-- The outbox (0002) already holds every event, written in the transaction of the change. The relay
-- publishes it to a queue; the fan-out consumer turns each event into one webhook message, one
-- delivery per (message, endpoint) and at most one notification per event; the delivery consumer
-- records every attempt. Deleting an endpoint deletes its deliveries and their attempts.
CREATE TABLE "webhook_endpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	-- Event types it receives; '*' is every type.
	"events" text[] NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	-- whsec_… signing secret (shown once), and the one it replaced while its grace period runs.
	"secret" text NOT NULL,
	"previous_secret" text,
	"previous_secret_expires_at" timestamp (6) with time zone,
	-- Why it is disabled (by an ADMIN, 410 Gone, failing for too long); null while enabled.
	"disabled_reason" text,
	"disabled_at" timestamp (6) with time zone,
	-- Start of the current run of failed attempts (null after a success): 5 days of it disables.
	"failing_since" timestamp (6) with time zone,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_endpoints_events_count" CHECK (cardinality("events") BETWEEN 1 AND 100)
);
--> statement-breakpoint
CREATE INDEX "webhook_endpoints_created_idx" ON "webhook_endpoints" USING btree ("created_at" DESC, "id" DESC);--> statement-breakpoint
-- One per outbox event (outbox_id, unique: a second publication of the event is a no-op), or per ping (no outbox row).
-- Its own copy of the event: deliveries and replays outlive the outbox row (OUTBOX_RETENTION_SEC).
CREATE TABLE "webhook_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"outbox_id" bigint,
	"event_type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp (6) with time zone NOT NULL,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_messages_outbox_key" ON "webhook_messages" USING btree ("outbox_id");--> statement-breakpoint
CREATE INDEX "webhook_messages_occurred_idx" ON "webhook_messages" USING btree ("occurred_at");--> statement-breakpoint
CREATE TYPE "public"."webhook_delivery_status" AS ENUM('PENDING', 'DELIVERED', 'FAILED', 'CANCELLED');--> statement-breakpoint
-- One per (message, endpoint): its id is the `webhook-id` header, the same on every attempt.
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_id" uuid NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"status" "webhook_delivery_status" DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	-- An attempt in progress holds the delivery until then (a duplicate queue message cannot send it twice).
	"lease_until" timestamp (6) with time zone,
	"last_status" integer,
	"last_error" text,
	"delivered_at" timestamp (6) with time zone,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_message_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."webhook_messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_message_endpoint_key" ON "webhook_deliveries" USING btree ("message_id", "endpoint_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint_created_idx" ON "webhook_deliveries" USING btree ("endpoint_id", "created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
-- Every attempt: what was sent when, what came back (the first 1 KiB), and what happens next.
CREATE TABLE "webhook_delivery_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"delivery_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"started_at" timestamp (6) with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"response_status" integer,
	"response_body" text,
	"error" text,
	-- delivered | retry | failed (schedule exhausted) | gone (410: endpoint disabled)
	"outcome" text NOT NULL,
	"next_attempt_at" timestamp (6) with time zone
);
--> statement-breakpoint
ALTER TABLE "webhook_delivery_attempts" ADD CONSTRAINT "webhook_delivery_attempts_delivery_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "public"."webhook_deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_delivery_attempts_delivery_idx" ON "webhook_delivery_attempts" USING btree ("delivery_id", "attempt");--> statement-breakpoint
CREATE TYPE "public"."notification_status" AS ENUM('PENDING', 'SENT', 'FAILED');--> statement-breakpoint
-- Customer emails: at most one per event (event_key = 'outbox:<id>'), rendered when sent. The sandbox
-- provider keeps the rendered message here (subject and bodies); a real provider keeps only its id.
CREATE TABLE "notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event_key" text NOT NULL,
	"event_type" text NOT NULL,
	"template" text NOT NULL,
	"order_id" uuid,
	"user_id" uuid,
	"recipient" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" "notification_status" DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_until" timestamp (6) with time zone,
	"last_error" text,
	"provider" text,
	"provider_message_id" text,
	"subject" text,
	"text_body" text,
	"html_body" text,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp (6) with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_event_key" ON "notifications" USING btree ("event_key");--> statement-breakpoint
CREATE INDEX "notifications_created_idx" ON "notifications" USING btree ("created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX "notifications_pending_idx" ON "notifications" USING btree ("created_at") WHERE "notifications"."status" = 'PENDING';--> statement-breakpoint
-- A failed payment attempt is customer-facing (an email) and merchant-facing (a webhook), but the
-- settlement code writes no event for it: this trigger writes `payment.failed` to the outbox in the
-- same transaction as the change of failed_attempts, whoever the writer is.
CREATE FUNCTION "payments_outbox_failed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
	VALUES ('order', NEW.order_id, 'payment.failed', jsonb_build_object(
		'payment_id', NEW.id, 'order_id', NEW.order_id, 'user_id', NEW.user_id, 'amount_cents', NEW.amount_cents,
		'currency', NEW.currency, 'failed_attempts', NEW.failed_attempts, 'failure', NEW.last_failure));
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "payments_failed_outbox" AFTER UPDATE OF "failed_attempts" ON "payments"
	FOR EACH ROW WHEN (NEW.failed_attempts > OLD.failed_attempts) EXECUTE FUNCTION "payments_outbox_failed"();
--> statement-breakpoint
-- The relay keeps each aggregate's events in order: it looks for an earlier unpublished row of the same aggregate.
CREATE INDEX "outbox_unpublished_aggregate_idx" ON "outbox" USING btree ("aggregate_id", "id") WHERE "outbox"."published_at" IS NULL;
