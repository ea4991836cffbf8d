-- Shipping at checkout (issue 19): docs/shipping.md.
--
-- Products get a shipping profile (physical or not, weight, dimensions), set by an ADMIN through
-- PUT /api/v1/admin/products/{id}/shipping. Every product is physical unless marked otherwise
-- (requires_shipping = false: gift cards, downloads); weight and dimensions may be unknown (NULL),
-- and a quote then assumes SHIPPING_DEFAULT_WEIGHT_G per unit.
ALTER TABLE "products"
	ADD COLUMN "requires_shipping" boolean DEFAULT true NOT NULL,
	ADD COLUMN "weight_grams" integer,
	ADD COLUMN "length_mm" integer,
	ADD COLUMN "width_mm" integer,
	ADD COLUMN "height_mm" integer,
	ADD CONSTRAINT "products_weight_range" CHECK ("weight_grams" BETWEEN 0 AND 1000000),
	ADD CONSTRAINT "products_dimensions_range" CHECK (
		"length_mm" BETWEEN 1 AND 10000 AND "width_mm" BETWEEN 1 AND 10000 AND "height_mm" BETWEEN 1 AND 10000);--> statement-breakpoint
-- An order's shipping: the normalised address and the rate the customer picked, whose price the Worker
-- verified (a signed rate_id: src/shipping/rate-id.ts). The total is goods + shipping, in one currency.
-- An order without shipping (only products that need none) has every shipping column NULL and 0 cents.
ALTER TABLE "orders"
	ADD COLUMN "shipping_cents" bigint DEFAULT 0 NOT NULL,
	ADD COLUMN "shipping_address" jsonb,
	ADD COLUMN "shipping_carrier" text,
	ADD COLUMN "shipping_service" text,
	ADD COLUMN "shipping_service_name" text,
	ADD COLUMN "shipping_currency" text,
	ADD COLUMN "shipping_estimated" boolean,
	ADD COLUMN "shipping_estimated_days" integer,
	ADD CONSTRAINT "orders_shipping_nonnegative" CHECK ("shipping_cents" >= 0),
	ADD CONSTRAINT "orders_total_includes_shipping" CHECK ("total_cents" = "subtotal_cents" + "shipping_cents"),
	ADD CONSTRAINT "orders_shipping_currency" CHECK ("shipping_currency" IS NULL OR "shipping_currency" = "currency"),
	ADD CONSTRAINT "orders_shipping_complete" CHECK (
		("shipping_carrier" IS NULL AND "shipping_address" IS NULL AND "shipping_service" IS NULL AND "shipping_currency" IS NULL
			AND "shipping_estimated" IS NULL AND "shipping_cents" = 0)
		OR ("shipping_carrier" IS NOT NULL AND jsonb_typeof("shipping_address") = 'object' AND "shipping_service" IS NOT NULL
			AND "shipping_currency" IS NOT NULL AND "shipping_estimated" IS NOT NULL));--> statement-breakpoint
-- The order's `shipping` as the API returns it, defined once for ORDER_SELECT (src/db/orders.repo.ts) and
-- place_order below, so the two cannot drift. The address keeps the API's key order (jsonb would not).
CREATE FUNCTION order_shipping_json(o orders) RETURNS json
LANGUAGE sql IMMUTABLE
AS $fn$
	SELECT CASE WHEN o.shipping_carrier IS NULL THEN NULL ELSE json_build_object(
		'address', json_build_object(
			'name', o.shipping_address->>'name', 'company', o.shipping_address->>'company',
			'line1', o.shipping_address->>'line1', 'line2', o.shipping_address->>'line2',
			'city', o.shipping_address->>'city', 'region', o.shipping_address->>'region',
			'postal_code', o.shipping_address->>'postal_code', 'country', o.shipping_address->>'country',
			'phone', o.shipping_address->>'phone'),
		'carrier', o.shipping_carrier, 'service', o.shipping_service, 'service_name', o.shipping_service_name,
		'amount_cents', o.shipping_cents, 'currency', o.shipping_currency,
		'estimated', o.shipping_estimated, 'estimated_days', o.shipping_estimated_days) END
$fn$;--> statement-breakpoint
-- The result columns change (shipping_cents, shipping), which CREATE OR REPLACE cannot do to a function:
-- dropped and created again in this migration's transaction, so a checkout sees the old one or the new one.
DROP FUNCTION place_order(jsonb);--> statement-breakpoint
-- place_order of 0007, with shipping. What changed (everything else is 0007 line for line):
--   - input `shipping`: null, or {address, carrier, service, service_name, amount_cents, currency, estimated,
--     estimated_days}, built by the Worker from a rate whose signature, expiry, address and items it checked
--     (src/services/shipping.service.ts `shippingForCheckout`); its price is never the client's;
--   - after the currency check: an order with a product that requires shipping must have it (`shipping_required`),
--     one with none must not (`shipping_not_required`), and the rate's currency must be the goods'
--     (`shipping_currency_mismatch`); all before anything is written, like every other refusal;
--   - the order stores the shipping columns; total = subtotal + shipping; `order.created` carries subtotal,
--     shipping and total; a zero TOTAL (not subtotal) is PAID at checkout;
--   - the result has ORDER_SELECT's new columns: shipping_cents and shipping (order_shipping_json).
CREATE OR REPLACE FUNCTION place_order(p jsonb)
RETURNS TABLE (
	replayed boolean,
	id uuid,
	user_id uuid,
	customer_email text,
	status text,
	currency text,
	subtotal_cents double precision,
	shipping_cents double precision,
	total_cents double precision,
	version integer,
	client_token text,
	expires_at text,
	created_at text,
	updated_at text,
	created_at_key text,
	items json,
	shipping json
)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
	v_user uuid := (p->>'user_id')::uuid;
	v_token text := p->>'client_token';
	v_lines jsonb := p->'items';
	v_ship jsonb := CASE WHEN jsonb_typeof(p->'shipping') = 'object' THEN p->'shipping' END;
	v_skus text[];
	v_order uuid;
	v_replayed boolean := false;
	v_open integer;
	v_next integer;
	v_bad jsonb;
	v_locked jsonb;
	v_currencies jsonb;
	v_currency text;
	v_needs_shipping boolean;
	v_items jsonb;
	v_subtotal bigint;
	v_shipping bigint := 0;
	v_total bigint;
	v_version integer;
BEGIN
	PERFORM 1 FROM users u WHERE u.id = v_user FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: unauthorized',
			DETAIL = jsonb_build_object('code', 'unauthorized')::text;
	END IF;

	IF v_token IS NOT NULL THEN
		SELECT o.id INTO v_order FROM orders o WHERE o.user_id = v_user AND o.client_token = v_token;
		v_replayed := FOUND;
	END IF;

	IF NOT v_replayed THEN
		SELECT array_agg(e.line->>'sku' ORDER BY e.ord) INTO v_skus
		FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(line, ord);

		IF p->'caps' IS NOT NULL AND jsonb_typeof(p->'caps') = 'object' THEN
			SELECT count(*)::int, ceil(extract(epoch FROM min(o.expires_at) - now()))::int INTO v_open, v_next
			FROM orders o WHERE o.user_id = v_user AND o.status = 'PENDING';
			IF v_open >= (p->'caps'->>'max_open_orders')::int THEN
				RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: open_orders_limit',
					DETAIL = jsonb_build_object('code', 'open_orders_limit', 'open_orders', v_open, 'next_expiry_sec', v_next)::text;
			END IF;
			SELECT jsonb_agg(jsonb_build_object('i', e.ord - 1, 'sku', e.line->>'sku', 'already', coalesce(h.units, 0)) ORDER BY e.ord)
			INTO v_bad
			FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(line, ord)
			LEFT JOIN (
				SELECT i.sku, sum(i.qty)::int AS units FROM order_items i JOIN orders o ON o.id = i.order_id
				WHERE o.user_id = v_user AND o.status = 'PENDING' AND i.sku = ANY(v_skus) GROUP BY i.sku
			) h ON h.sku = e.line->>'sku'
			WHERE coalesce(h.units, 0) + (e.line->>'qty')::int > (p->'caps'->>'max_units_per_sku')::int;
			IF v_bad IS NOT NULL THEN
				RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: reservation_limit',
					DETAIL = jsonb_build_object('code', 'reservation_limit', 'over', v_bad)::text;
			END IF;
		END IF;

		-- The locked rows as they are once locked: every check below reads this, not a later snapshot.
		SELECT coalesce(jsonb_agg(jsonb_build_object('id', pr.id, 'sku', pr.sku, 'name', pr.name, 'price_cents', pr.price_cents,
				'currency', pr.currency, 'status', pr.status, 'stock', pr.stock, 'requires_shipping', pr.requires_shipping)), '[]'::jsonb)
		INTO v_locked
		FROM (
			SELECT x.id, x.sku, x.name, x.price_cents, x.currency, x.status::text AS status, x.stock, x.requires_shipping FROM products x
			WHERE x.sku = ANY(v_skus) ORDER BY x.id FOR UPDATE
		) pr;

		SELECT jsonb_agg(jsonb_build_object('i', e.ord - 1, 'sku', e.line->>'sku') ORDER BY e.ord) INTO v_bad
		FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(line, ord)
		LEFT JOIN jsonb_to_recordset(v_locked) AS lp(sku text, status text) ON lp.sku = e.line->>'sku'
		WHERE lp.status IS DISTINCT FROM 'active';
		IF v_bad IS NOT NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: unknown_sku',
				DETAIL = jsonb_build_object('code', 'unknown_sku', 'lines', v_bad)::text;
		END IF;

		SELECT jsonb_agg(DISTINCT lp.currency) INTO v_currencies FROM jsonb_to_recordset(v_locked) AS lp(currency text);
		IF jsonb_array_length(v_currencies) > 1 THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: mixed_currency',
				DETAIL = jsonb_build_object('code', 'mixed_currency', 'currencies', v_currencies)::text;
		END IF;
		v_currency := v_currencies->>0;

		-- Shipping: needed as soon as one product is physical; its currency is the goods' (minor units add up).
		SELECT coalesce(bool_or(lp.requires_shipping), false) INTO v_needs_shipping
		FROM jsonb_to_recordset(v_locked) AS lp(requires_shipping boolean);
		IF v_needs_shipping AND v_ship IS NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: shipping_required',
				DETAIL = jsonb_build_object('code', 'shipping_required')::text;
		END IF;
		IF NOT v_needs_shipping AND v_ship IS NOT NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: shipping_not_required',
				DETAIL = jsonb_build_object('code', 'shipping_not_required')::text;
		END IF;
		IF v_ship IS NOT NULL AND v_ship->>'currency' IS DISTINCT FROM v_currency THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: shipping_currency_mismatch',
				DETAIL = jsonb_build_object('code', 'shipping_currency_mismatch', 'currency', v_currency,
					'shipping_currency', v_ship->>'currency')::text;
		END IF;
		v_shipping := coalesce((v_ship->>'amount_cents')::bigint, 0);

		SELECT jsonb_agg(jsonb_build_object('i', e.ord - 1, 'sku', e.line->>'sku', 'requested', (e.line->>'qty')::int,
				'available', lp.stock) ORDER BY e.ord)
		INTO v_bad
		FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(line, ord)
		JOIN jsonb_to_recordset(v_locked) AS lp(sku text, stock integer) ON lp.sku = e.line->>'sku'
		WHERE lp.stock < (e.line->>'qty')::int;
		IF v_bad IS NOT NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: insufficient_stock',
				DETAIL = jsonb_build_object('code', 'insufficient_stock', 'short', v_bad)::text;
		END IF;

		-- The lines as the order and its outbox event carry them, in the request's order.
		SELECT jsonb_agg(jsonb_build_object('product_id', lp.id, 'sku', lp.sku, 'name', lp.name,
				'unit_price_cents', lp.price_cents, 'qty', (e.line->>'qty')::int) ORDER BY e.ord),
			sum(lp.price_cents::bigint * (e.line->>'qty')::int)
		INTO v_items, v_subtotal
		FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(line, ord)
		JOIN jsonb_to_recordset(v_locked) AS lp(id uuid, sku text, name text, price_cents integer) ON lp.sku = e.line->>'sku';
		v_total := v_subtotal + v_shipping;

		INSERT INTO orders (user_id, currency, subtotal_cents, shipping_cents, total_cents, client_token, expires_at,
			shipping_address, shipping_carrier, shipping_service, shipping_service_name, shipping_currency,
			shipping_estimated, shipping_estimated_days)
		VALUES (v_user, v_currency, v_subtotal, v_shipping, v_total, v_token,
			now() + make_interval(secs => (p->>'payment_window_sec')::double precision),
			v_ship->'address', v_ship->>'carrier', v_ship->>'service', v_ship->>'service_name', v_ship->>'currency',
			(v_ship->>'estimated')::boolean, (v_ship->>'estimated_days')::integer)
		ON CONFLICT (user_id, client_token) DO NOTHING
		RETURNING id INTO v_order;
		IF v_order IS NULL THEN
			-- Nothing is written yet. The winner has committed (ON CONFLICT waited for it): name its order.
			SELECT o.id INTO v_order FROM orders o WHERE o.user_id = v_user AND o.client_token = v_token;
			RAISE EXCEPTION USING ERRCODE = 'TK001', MESSAGE = 'checkout refused: client_token_taken',
				DETAIL = jsonb_build_object('code', 'client_token_taken', 'order_id', v_order)::text;
		END IF;

		-- The rows are locked and checked above; CHECK (stock >= 0) is the last line of defence.
		UPDATE products pr SET stock = pr.stock - v.qty, updated_at = now()
		FROM (
			SELECT (x->>'product_id')::uuid AS pid, sum((x->>'qty')::int) AS qty FROM jsonb_array_elements(v_items) x GROUP BY 1
		) v
		WHERE pr.id = v.pid;

		INSERT INTO order_items (order_id, product_id, sku, name, unit_price_cents, qty, line_total_cents)
		SELECT v_order, v.product_id, v.sku, v.name, v.unit_price_cents, v.qty, v.unit_price_cents::bigint * v.qty
		FROM jsonb_to_recordset(v_items) AS v(product_id uuid, sku text, name text, unit_price_cents integer, qty integer);

		INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, actor_role, reason)
		VALUES (v_order, NULL, 'PENDING', (p->>'actor_id')::uuid, p->>'actor_role', NULL);

		INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
		SELECT 'order', v_order, 'order.created', jsonb_build_object('order_id', v_order, 'user_id', v_user, 'status', 'PENDING',
			'currency', v_currency, 'subtotal_cents', v_subtotal, 'shipping_cents', v_shipping, 'total_cents', v_total,
			'items', v_items, 'shipping', order_shipping_json(o)::jsonb)
		FROM orders o WHERE o.id = v_order;

		IF v_total = 0 THEN
			-- Nothing to pay (no provider takes a zero amount): paid at checkout, as SYSTEM (transitionOrder PENDING → PAID).
			UPDATE orders o SET status = 'PAID', version = o.version + 1, updated_at = now() WHERE o.id = v_order
			RETURNING o.version INTO v_version;
			INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, actor_role, reason)
			VALUES (v_order, 'PENDING', 'PAID', NULL, 'SYSTEM', 'nothing to pay (total 0)');
			INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
			VALUES ('order', v_order, 'order.status_changed', jsonb_build_object('order_id', v_order, 'user_id', v_user,
				'from', 'PENDING', 'to', 'PAID', 'version', v_version, 'reason', 'nothing to pay (total 0)', 'free', true));
		END IF;
	END IF;

	-- ORDER_SELECT (src/db/orders.repo.ts), column for column.
	RETURN QUERY
	SELECT v_replayed, o.id, o.user_id, u.email, o.status::text, o.currency, o.subtotal_cents::float8,
		o.shipping_cents::float8, o.total_cents::float8, o.version, o.client_token,
		to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		o.created_at::text,
		COALESCE((SELECT json_agg(json_build_object('product_id', i.product_id, 'sku', i.sku, 'name', i.name,
				'unit_price_cents', i.unit_price_cents, 'qty', i.qty, 'line_total_cents', i.line_total_cents) ORDER BY i.sku)
			FROM order_items i WHERE i.order_id = o.id), '[]'::json),
		order_shipping_json(o)
	FROM orders o JOIN users u ON u.id = o.user_id
	WHERE o.id = v_order;
END
$fn$;
