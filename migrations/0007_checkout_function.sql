-- Checkout in one round trip: `SELECT * FROM place_order($1::jsonb)` (src/db/orders.repo.ts `checkout`).
-- The function is one statement, so in autocommit it is its own transaction: no BEGIN/COMMIT round trips.
-- It does what createInTx in src/services/orders.service.ts did statement by statement, in the same order:
--   1. lock the customer's row (serialises one customer's checkouts; no row → refused `unauthorized`);
--   2. `client_token` already used by this customer → that order, `replayed`;
--   3. the hoarding caps, when `caps` is given (open PENDING orders, then units per SKU);
--   4. lock the products in id order (FOR UPDATE; a fixed order means two checkouts cannot deadlock),
--      then check unknown/archived SKUs, one currency, stock per line, all before anything is written;
--   5. insert the order first (ON CONFLICT on (user_id, client_token): a concurrent request with the
--      same token won → refused `client_token_taken` naming its order, before any other write),
--      then decrement stock, insert the items, the history row and the `order.created` outbox row;
--   6. total 0 → PAID at once as SYSTEM, writing what transitionOrder writes (version + 1, history,
--      `order.status_changed` outbox row with `free: true`; PAID restocks nothing);
--   7. return the order with exactly the columns and types of ORDER_SELECT (getOrder), plus `replayed`.
-- A refusal is RAISEd with SQLSTATE TK001 and a JSON DETAIL ({"code": …, …}); the service maps it to the
-- same ApiError as before. Raising aborts the statement, so a refusal never leaves a write behind (and,
-- inside a bulk transaction, aborts the whole batch, which rolls back as before).
-- Input: {"user_id", "items": [{"sku", "qty"}], "client_token"?, "actor_id"?, "actor_role",
--         "payment_window_sec", "caps"?: {"max_open_orders", "max_units_per_sku"}}.
-- Keep in step with ORDER_SELECT (src/db/orders.repo.ts) and transitionOrder: a change there needs a
-- new migration that replaces this function (test/orders.checkout-fn.test.ts compares them).
CREATE OR REPLACE FUNCTION place_order(p jsonb)
RETURNS TABLE (
	replayed boolean,
	id uuid,
	user_id uuid,
	customer_email text,
	status text,
	currency text,
	subtotal_cents double precision,
	total_cents double precision,
	version integer,
	client_token text,
	expires_at text,
	created_at text,
	updated_at text,
	created_at_key text,
	items json
)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
	v_user uuid := (p->>'user_id')::uuid;
	v_token text := p->>'client_token';
	v_lines jsonb := p->'items';
	v_skus text[];
	v_order uuid;
	v_replayed boolean := false;
	v_open integer;
	v_next integer;
	v_bad jsonb;
	v_locked jsonb;
	v_currencies jsonb;
	v_currency text;
	v_items jsonb;
	v_subtotal bigint;
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
				'currency', pr.currency, 'status', pr.status, 'stock', pr.stock)), '[]'::jsonb)
		INTO v_locked
		FROM (
			SELECT x.id, x.sku, x.name, x.price_cents, x.currency, x.status::text AS status, x.stock FROM products x
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

		INSERT INTO orders (user_id, currency, subtotal_cents, total_cents, client_token, expires_at)
		VALUES (v_user, v_currency, v_subtotal, v_subtotal, v_token,
			now() + make_interval(secs => (p->>'payment_window_sec')::double precision))
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
		VALUES ('order', v_order, 'order.created', jsonb_build_object('order_id', v_order, 'user_id', v_user, 'status', 'PENDING',
			'currency', v_currency, 'total_cents', v_subtotal, 'items', v_items));

		IF v_subtotal = 0 THEN
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
		o.total_cents::float8, o.version, o.client_token,
		to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		o.created_at::text,
		COALESCE((SELECT json_agg(json_build_object('product_id', i.product_id, 'sku', i.sku, 'name', i.name,
				'unit_price_cents', i.unit_price_cents, 'qty', i.qty, 'line_total_cents', i.line_total_cents) ORDER BY i.sku)
			FROM order_items i WHERE i.order_id = o.id), '[]'::json)
	FROM orders o JOIN users u ON u.id = o.user_id
	WHERE o.id = v_order;
END
$fn$;
