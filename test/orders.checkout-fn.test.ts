/**
 * Checkout as one statement (`place_order`, migrations/0007_checkout_function.sql): what an attacker
 * or a flaky network would try against it. Counts are scoped to this file's own users and products
 * (other files write orders in the same database at the same time).
 */
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import type { Drizzle } from "../src/db/client.ts";
import { getOrder } from "../src/db/orders.repo.ts";
import * as schema from "../src/db/schema.ts";
import { ApiError } from "../src/lib/problem.ts";
import type { Principal } from "../src/lib/tokens.ts";
import { type OrderDto, placeBulk, placeOrder as placeOrderService, transitionOrder } from "../src/services/orders.service.ts";
import { api, apiSettled, connect, createUser, expectProblem, jsonInit, sql, type TestUser } from "./helpers.ts";
import { makeProduct, placeOrder, stockOf } from "./orders.helpers.ts";

const admin = await createUser("ADMIN");
const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as Env;
const POLICY = { paymentWindowSec: 1800, caps: { maxOpenOrders: 1000, maxUnitsPerSku: 1_000_000 } };
const principal = (u: TestUser): Principal => ({ userId: u.id, role: u.role });

/** A drizzle handle on its own connection that notes every statement sent (one per round trip). */
async function countingDb(): Promise<{ db: Drizzle; sent: string[]; close: () => Promise<void> }> {
  const client = await connect();
  const sent: string[] = [];
  const real = client.query.bind(client) as (...a: unknown[]) => unknown;
  (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    const q = a[0] as string | pg.QueryConfig;
    sent.push(typeof q === "string" ? q : q.text);
    return real(...a);
  };
  return { db: drizzle(client, { schema }) as unknown as Drizzle, sent, close: () => client.end().catch(() => {}) };
}

/** What this user's orders left behind: orders, items, history and outbox rows. */
async function footprint(userIds: string[]) {
  const [r] = await sql<Record<string, number>>(
    `SELECT (SELECT count(*) FROM orders WHERE user_id = ANY($1::uuid[]))::int AS orders,
            (SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = ANY($1::uuid[]))::int AS items,
            (SELECT count(*) FROM order_status_history h JOIN orders o ON o.id = h.order_id WHERE o.user_id = ANY($1::uuid[]))::int AS history,
            (SELECT count(*) FROM outbox WHERE payload->>'user_id' = ANY($1::text[]))::int AS outbox`,
    [userIds],
  );
  return r as Record<string, number>;
}

/** Resolves once a place_order call is blocked on a lock (here: the other transaction's uncommitted token). */
async function waitingOnLock(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [r] = await sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%place_order(%' AND pid <> pg_backend_pid()",
    );
    if (r?.n) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error("the checkout never waited on the other transaction");
}

async function soldOf(sku: string): Promise<number> {
  return (await sql<{ n: number }>("SELECT coalesce(sum(qty), 0)::int AS n FROM order_items WHERE sku = $1", [sku]))[0]?.n as number;
}

describe("one round trip", () => {
  it("a checkout is one statement (no BEGIN/COMMIT); replays, refusals and a zero total too; bulk is one per order", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const free = await makeProduct({ stock: 10, price: 0 });
    const { db, sent, close } = await countingDb();
    try {
      const count = async (run: () => Promise<unknown>) => {
        sent.length = 0;
        await run().catch(() => {});
        return [...sent];
      };
      const token = `once-${crypto.randomUUID()}`;
      const placed = await count(() =>
        placeOrderService(db, u.id, { items: [{ sku: p.sku, qty: 1 }], client_token: token }, principal(u), POLICY),
      );
      expect(placed).toHaveLength(1);
      expect(placed[0]).toMatch(/^SELECT \* FROM place_order\(\$1::jsonb\)$/);
      expect(
        await count(() => placeOrderService(db, u.id, { items: [{ sku: p.sku, qty: 1 }], client_token: token }, principal(u), POLICY)),
      ).toHaveLength(1);
      expect(await count(() => placeOrderService(db, u.id, { items: [{ sku: free.sku, qty: 1 }] }, principal(u), POLICY))).toHaveLength(1);
      expect(await count(() => placeOrderService(db, u.id, { items: [{ sku: p.sku, qty: 99 }] }, principal(u), POLICY))).toHaveLength(1);
      const bulk = await count(() =>
        placeBulk(
          db,
          [1, 2, 3].map(() => ({ user_id: u.id, items: [{ sku: p.sku, qty: 1 }] })),
          principal(admin),
          POLICY,
        ),
      );
      // The customers' check, BEGIN, one statement per order, COMMIT.
      expect(bulk.map((s) => s.trim().split(/\s/)[0]?.toLowerCase())).toEqual(["select", "begin", "select", "select", "select", "commit"]);
      expect(await stockOf(p.sku)).toBe(6);
    } finally {
      await close();
    }
  });
});

describe("the order it returns is the order getOrder reads", () => {
  it("same record, same types: PENDING, a replay and a zero total (PAID); the API body is byte-identical to GET", async () => {
    const u = await createUser();
    const a = await makeProduct({ stock: 10, price: 1999 });
    const b = await makeProduct({ stock: 10, price: 5 });
    const free = await makeProduct({ stock: 10, price: 0 });
    const { db, close } = await countingDb();
    try {
      const input = {
        items: [
          { sku: b.sku, qty: 3 },
          { sku: a.sku, qty: 2 },
        ],
        client_token: `same-${crypto.randomUUID()}`,
      };
      const first = await placeOrderService(db, u.id, input, principal(u), POLICY);
      const again = await placeOrderService(db, u.id, input, principal(u), POLICY);
      const zero = await placeOrderService(db, u.id, { items: [{ sku: free.sku, qty: 4 }] }, principal(u), POLICY);
      expect([first.replayed, again.replayed, zero.replayed]).toEqual([false, true, false]);
      for (const got of [first.order, again.order, zero.order]) {
        const read = await getOrder(db, got.id);
        expect(got).toStrictEqual(read);
        expect(Object.keys(got)).toEqual(Object.keys(read as object));
      }
      expect(first.order).toMatchObject({
        status: "PENDING",
        subtotal_cents: 5 * 3 + 1999 * 2,
        version: 1,
        client_token: input.client_token,
      });
      expect(typeof first.order.subtotal_cents).toBe("number");
      expect(typeof first.order.items[0]?.line_total_cents).toBe("number");
      expect(zero.order).toMatchObject({ status: "PAID", total_cents: 0, version: 2 });
    } finally {
      await close();
    }
    const res = await placeOrder(u, { items: [{ sku: a.sku, qty: 1 }] });
    expect(res.status).toBe(201);
    const body = await res.text();
    const id = (JSON.parse(body) as OrderDto).id;
    const read = await api(`/api/v1/orders/${id}`, { headers: u.auth });
    expect(read.status).toBe(200);
    expect(await read.text()).toBe(body);
  });

  it("a zero total writes what transitionOrder writes for PENDING → PAID as SYSTEM", async () => {
    const u = await createUser();
    const free = await makeProduct({ stock: 5, price: 0 });
    const paid = await makeProduct({ stock: 5, price: 100 });
    const viaFn = ((await (await placeOrder(u, { items: [{ sku: free.sku, qty: 1 }] })).json()) as OrderDto).id;
    // The same transition through the TypeScript state machine, on an ordinary order.
    const viaTs = ((await (await placeOrder(u, { items: [{ sku: paid.sku, qty: 1 }] })).json()) as OrderDto).id;
    const { db, close } = await countingDb();
    try {
      await db.transaction(async (tx) => {
        const order = await getOrder(tx, viaTs, { forUpdate: true });
        if (order) await transitionOrder(tx, order, "PAID", { actor: null, reason: "nothing to pay (total 0)", payload: { free: true } });
      });
    } finally {
      await close();
    }
    const rows = async (id: string) => ({
      history: await sql(
        "SELECT from_status, to_status, actor_id, actor_role, reason FROM order_status_history WHERE order_id = $1 ORDER BY id",
        [id],
      ),
      outbox: (
        await sql<{ event_type: string; aggregate_type: string; payload: Record<string, unknown> }>(
          "SELECT event_type, aggregate_type, payload FROM outbox WHERE aggregate_id = $1 ORDER BY id",
          [id],
        )
      ).map((r) => ({
        ...r,
        payload: {
          ...r.payload,
          order_id: "<id>",
          ...("items" in r.payload ? { items: "<items>", subtotal_cents: "<n>", total_cents: "<n>" } : {}),
        },
      })),
      order: (await sql("SELECT status::text, version FROM orders WHERE id = $1", [id]))[0],
    });
    const fn = await rows(viaFn);
    expect(fn).toEqual(await rows(viaTs));
    expect(fn.history).toEqual([
      { from_status: null, to_status: "PENDING", actor_id: u.id, actor_role: "USER", reason: null },
      { from_status: "PENDING", to_status: "PAID", actor_id: null, actor_role: "SYSTEM", reason: "nothing to pay (total 0)" },
    ]);
    expect(fn.outbox.map((e) => e.event_type)).toEqual(["order.created", "order.status_changed"]);
    expect(fn.order).toEqual({ status: "PAID", version: 2 });
  });

  it("the order.created event carries the lines in the request's order with the catalogue's prices", async () => {
    const u = await createUser();
    const a = await makeProduct({ stock: 5, price: 700 });
    const b = await makeProduct({ stock: 5, price: 300 });
    const o = (await (
      await placeOrder(u, {
        items: [
          { sku: b.sku, qty: 2 },
          { sku: a.sku, qty: 1 },
        ],
      })
    ).json()) as OrderDto;
    const [e] = await sql<{ payload: unknown }>("SELECT payload FROM outbox WHERE aggregate_id = $1 AND event_type = 'order.created'", [
      o.id,
    ]);
    expect(e?.payload).toEqual({
      order_id: o.id,
      user_id: u.id,
      status: "PENDING",
      currency: "USD",
      // Since 0009: goods, shipping (none for these digital products) and their total.
      subtotal_cents: 1300,
      shipping_cents: 0,
      total_cents: 1300,
      shipping: null,
      items: [
        { product_id: b.id, sku: b.sku, name: `Order Thing ${b.sku}`, unit_price_cents: 300, qty: 2 },
        { product_id: a.id, sku: a.sku, name: `Order Thing ${a.sku}`, unit_price_cents: 700, qty: 1 },
      ],
    });
  });
});

describe("no oversell under concurrency", () => {
  it("40 shoppers race for the last 7 units: exactly 7 sold, stock never negative, stock + sold = initial", async () => {
    const p = await makeProduct({ stock: 7 });
    const users = await Promise.all(Array.from({ length: 40 }, () => createUser()));
    const results = await Promise.all(users.map((u) => placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(7);
    expect(statuses.filter((s) => s !== 201 && s !== 409)).toEqual([]);
    for (const r of results.filter((x) => x.status === 409)) {
      const problem = await expectProblem(r, 409, "insufficient_stock");
      expect(problem).toMatchObject({ skus: [p.sku], lines: [{ sku: p.sku, requested: 1, available: 0 }] });
      expect(problem.errors).toEqual([{ field: "items.0.qty", in: "body", code: "insufficient_stock", message: "only 0 left" }]);
    }
    expect(await stockOf(p.sku)).toBe(0);
    expect(await soldOf(p.sku)).toBe(7);
  });

  it("uneven quantities (1–4) against stock 25, two SKUs listed in either order: no deadlock, no oversell, books balance", async () => {
    const a = await makeProduct({ stock: 25 });
    const b = await makeProduct({ stock: 25 });
    const users = await Promise.all(Array.from({ length: 30 }, () => createUser()));
    const results = await Promise.all(
      users.map((u, i) => {
        const qty = (i % 4) + 1;
        const lines = [
          { sku: a.sku, qty },
          { sku: b.sku, qty },
        ];
        return placeOrder(u, { items: i % 2 ? lines : lines.reverse() });
      }),
    );
    // 201 or insufficient stock; never a deadlock, a lock timeout (409 concurrency_conflict) or a 5xx.
    const codes = await Promise.all(results.map(async (r) => (r.status === 201 ? "created" : ((await r.json()) as { code: string }).code)));
    expect(codes.filter((c) => c !== "created" && c !== "insufficient_stock")).toEqual([]);
    expect(codes.filter((c) => c === "created").length).toBeGreaterThan(0);
    for (const p of [a, b]) {
      const stock = await stockOf(p.sku);
      expect(stock).toBeGreaterThanOrEqual(0);
      expect(stock + (await soldOf(p.sku))).toBe(25);
    }
    expect(await soldOf(a.sku)).toBe(await soldOf(b.sku));
  });
});

describe("client_token under concurrency", () => {
  it("12 concurrent checkouts with one client_token (distinct Idempotency-Keys): one order, one stock move, the rest replay it", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 50 });
    const body = { items: [{ sku: p.sku, qty: 2 }], client_token: `race-${crypto.randomUUID()}` };
    const loose = withVars({ RATE_LIMIT_OVERRIDES: "order-create=off" });
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        apiSettled("/api/v1/orders", jsonInit("POST", body, { ...u.auth, "Idempotency-Key": crypto.randomUUID() }), loose),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(await Promise.all(results.map(async (r) => ((await r.json()) as OrderDto).id)));
    expect(ids.size).toBe(1);
    expect(await stockOf(p.sku)).toBe(48);
    expect(await footprint([u.id])).toEqual({ orders: 1, items: 1, history: 1, outbox: 1 });
  });

  it.skipIf(env.TEST_DATABASE_KIND === "embedded")(
    "a concurrent writer that did not lock the customer commits the token first: ours writes nothing and returns theirs (200)",
    async () => {
      // Embedded PGlite has one session: an open transaction on another connection would block the checkout.
      const u = await createUser();
      const p = await makeProduct({ stock: 10 });
      const token = `theirs-${crypto.randomUUID()}`;
      const other = await connect();
      try {
        await other.query("BEGIN");
        const [theirs] = (
          await other.query<{ id: string }>(
            "INSERT INTO orders (user_id, currency, subtotal_cents, total_cents, client_token) VALUES ($1, 'USD', 0, 0, $2) RETURNING id",
            [u.id, token],
          )
        ).rows;
        // Our checkout passes the token check (their row is not committed), then waits on the unique index.
        const ours = placeOrder(u, { items: [{ sku: p.sku, qty: 3 }], client_token: token });
        await waitingOnLock();
        await other.query("COMMIT");
        const res = await ours;
        expect(res.status).toBe(200);
        expect(((await res.json()) as OrderDto).id).toBe(theirs?.id);
      } finally {
        await other.end().catch(() => {});
      }
      expect(await stockOf(p.sku)).toBe(10);
      expect(await footprint([u.id])).toEqual({ orders: 1, items: 0, history: 0, outbox: 0 });
    },
  );

  it.skipIf(env.TEST_DATABASE_KIND === "embedded")("…and when that writer rolls back instead, ours goes ahead (201)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const token = `rolled-back-${crypto.randomUUID()}`;
    const other = await connect();
    try {
      await other.query("BEGIN");
      await other.query("INSERT INTO orders (user_id, currency, subtotal_cents, total_cents, client_token) VALUES ($1, 'USD', 0, 0, $2)", [
        u.id,
        token,
      ]);
      const ours = placeOrder(u, { items: [{ sku: p.sku, qty: 3 }], client_token: token });
      await waitingOnLock();
      await other.query("ROLLBACK");
      expect((await ours).status).toBe(201);
    } finally {
      await other.end().catch(() => {});
    }
    expect(await stockOf(p.sku)).toBe(7);
    expect(await footprint([u.id])).toEqual({ orders: 1, items: 1, history: 1, outbox: 1 });
  });
});

describe("a refusal or a failure after partial work leaves nothing", () => {
  it("the second line short, unknown or in another currency: no stock moved, no order, no outbox; the same problem as before", async () => {
    const u = await createUser();
    const plenty = await makeProduct({ stock: 50 });
    const scarce = await makeProduct({ stock: 2 });
    const eur = await makeProduct({ stock: 5, currency: "EUR" });
    const archived = await makeProduct({ stock: 5 });
    await sql("UPDATE products SET status = 'archived' WHERE id = $1", [archived.id]);
    const short = await expectProblem(
      await placeOrder(u, {
        items: [
          { sku: plenty.sku, qty: 5 },
          { sku: scarce.sku, qty: 3 },
        ],
      }),
      409,
      "insufficient_stock",
    );
    expect(short.detail).toBe(`Not enough stock for ${scarce.sku}; nothing was ordered.`);
    expect(short).toMatchObject({ skus: [scarce.sku], lines: [{ sku: scarce.sku, requested: 3, available: 2 }] });
    expect(short.errors).toEqual([{ field: "items.1.qty", in: "body", code: "insufficient_stock", message: "only 2 left" }]);
    const unknown = await expectProblem(
      await placeOrder(u, {
        items: [
          { sku: plenty.sku, qty: 1 },
          { sku: "NO-SUCH-SKU-0", qty: 1 },
          { sku: archived.sku, qty: 1 },
        ],
      }),
      400,
      "validation_error",
    );
    expect(unknown.errors).toEqual([
      { field: "items.1.sku", in: "body", code: "unknown_sku", message: "no active product has SKU NO-SUCH-SKU-0" },
      { field: "items.2.sku", in: "body", code: "unknown_sku", message: `no active product has SKU ${archived.sku}` },
    ]);
    const mixed = await expectProblem(
      await placeOrder(u, {
        items: [
          { sku: plenty.sku, qty: 1 },
          { sku: eur.sku, qty: 1 },
        ],
      }),
      400,
      "validation_error",
    );
    expect(mixed.detail).toBe("An order has one currency; these items are priced in EUR and USD.");
    expect(mixed.errors).toEqual([{ field: "items", in: "body", code: "mixed_currency", message: "all items must share one currency" }]);
    expect(await stockOf(plenty.sku)).toBe(50);
    expect(await stockOf(scarce.sku)).toBe(2);
    expect(await footprint([u.id])).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
  });

  it("a failure at the very last write (the outbox row) rolls back the order, its items, its history and the stock", async () => {
    const u = await createUser();
    const z = await createUser();
    const p = await makeProduct({ stock: 10 });
    const free = await makeProduct({ stock: 10, price: 0 });
    // A trigger that fails the outbox insert of these two customers only: u's order.created, z's order.status_changed (the last write of a zero total).
    const fn = `test_fail_outbox_${crypto.randomUUID().slice(0, 8)}`;
    await sql(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (NEW.payload->>'user_id' = '${u.id}' AND NEW.event_type = 'order.created')
          OR (NEW.payload->>'user_id' = '${z.id}' AND NEW.event_type = 'order.status_changed') THEN
          RAISE EXCEPTION 'outbox is down (test)';
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER ${fn} BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    try {
      const key = `k-${crypto.randomUUID()}`;
      await expectProblem(await placeOrder(u, { items: [{ sku: p.sku, qty: 4 }] }, key), 500, "internal_error");
      await expectProblem(await placeOrder(z, { items: [{ sku: free.sku, qty: 4 }] }), 500, "internal_error");
      // A 5xx means nothing happened: the same Idempotency-Key runs again (and succeeds once the outbox is back).
      await sql(`DROP TRIGGER ${fn} ON outbox`);
      expect(await footprint([u.id, z.id])).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
      expect(await stockOf(p.sku)).toBe(10);
      expect(await stockOf(free.sku)).toBe(10);
      expect((await placeOrder(u, { items: [{ sku: p.sku, qty: 4 }] }, key)).status).toBe(201);
      expect(await stockOf(p.sku)).toBe(6);
    } finally {
      await sql(`DROP TRIGGER IF EXISTS ${fn} ON outbox`);
      await sql(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
  });

  it("a deleted account is refused with 401 (the customer row is gone when the checkout locks it)", async () => {
    const { db, close } = await countingDb();
    try {
      const p = await makeProduct({ stock: 5 });
      const ghost = "00000000-0000-4000-8000-00000000dead";
      const err = await placeOrderService(db, ghost, { items: [{ sku: p.sku, qty: 1 }] }, { userId: ghost, role: "USER" }, POLICY).catch(
        (e) => e,
      );
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ code: "unauthorized", status: 401 });
      expect((err as ApiError).headers).toMatchObject({ "WWW-Authenticate": 'Bearer realm="toko-edge", error="invalid_token"' });
      expect(await stockOf(p.sku)).toBe(5);
    } finally {
      await close();
    }
  });
});

describe("hoarding caps under concurrency", () => {
  it("10 parallel checkouts of 2 units with MAX_RESERVED_UNITS_PER_SKU=5: two pass, the rest 409 naming the line; never more than 5 held", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    const capped = withVars({ MAX_OPEN_ORDERS_PER_USER: "100", MAX_RESERVED_UNITS_PER_SKU: "5", RATE_LIMIT_OVERRIDES: "order-create=off" });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        apiSettled(
          "/api/v1/orders",
          jsonInit("POST", { items: [{ sku: p.sku, qty: 2 }] }, { ...u.auth, "Idempotency-Key": crypto.randomUUID() }),
          capped,
        ),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 409, 409, 409, 409, 409, 409, 409, 409]);
    const refused = await expectProblem(results.find((r) => r.status === 409) as Response, 409, "reservation_limit");
    expect(refused).toMatchObject({ cap: "MAX_RESERVED_UNITS_PER_SKU", limit: 5, skus: [p.sku] });
    expect(refused.errors).toEqual([
      { field: "items.0.qty", in: "body", code: "reservation_limit", message: `your unpaid orders already hold 4 of ${p.sku}` },
    ]);
    expect(await stockOf(p.sku)).toBe(96);
  });

  it("MAX_OPEN_ORDERS_PER_USER: Retry-After counts down to the oldest unpaid order's expiry; a client_token replay still answers at the cap", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    const capped = withVars({ MAX_OPEN_ORDERS_PER_USER: "2", ORDER_PAYMENT_WINDOW_SEC: "600", RATE_LIMIT_OVERRIDES: "order-create=off" });
    const order = (body: unknown) =>
      apiSettled("/api/v1/orders", jsonInit("POST", body, { ...u.auth, "Idempotency-Key": crypto.randomUUID() }), capped);
    const token = `kept-${crypto.randomUUID()}`;
    expect((await order({ items: [{ sku: p.sku, qty: 1 }], client_token: token })).status).toBe(201);
    expect((await order({ items: [{ sku: p.sku, qty: 1 }] })).status).toBe(201);
    const refused = await order({ items: [{ sku: p.sku, qty: 1 }] });
    const problem = await expectProblem(refused, 429, "open_orders_limit");
    expect(problem.detail).toBe("You have 2 unpaid orders; pay or cancel one first (at most 2).");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(590);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect((await order({ items: [{ sku: p.sku, qty: 1 }], client_token: token })).status).toBe(200);
    expect(await stockOf(p.sku)).toBe(98);
  });
});

describe("bulk orders call the same function inside one transaction", () => {
  it("a failure in the last order rolls back every earlier order and stock move; caps do not apply; a zero total is PAID", async () => {
    const u = await createUser();
    const v = await createUser();
    const p = await makeProduct({ stock: 100 });
    const free = await makeProduct({ stock: 100, price: 0 });
    const scarce = await makeProduct({ stock: 1 });
    const bulk = (orders: unknown[]) => api("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth));
    const failing = await expectProblem(
      await bulk([
        { user_id: u.id, items: [{ sku: p.sku, qty: 30 }] },
        { user_id: v.id, items: [{ sku: free.sku, qty: 1 }] },
        {
          user_id: v.id,
          items: [
            { sku: p.sku, qty: 1 },
            { sku: scarce.sku, qty: 2 },
          ],
        },
      ]),
      409,
      "insufficient_stock",
    );
    expect(failing).toMatchObject({ failed_index: 2, skus: [scarce.sku] });
    expect(failing.errors).toEqual([{ field: "orders.2.items.1.qty", in: "body", code: "insufficient_stock", message: "only 1 left" }]);
    expect(failing.detail).toMatch(/^Line orders\.2 failed: .* Every order in the batch was rolled back\.$/);
    expect(await footprint([u.id, v.id])).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
    expect([await stockOf(p.sku), await stockOf(free.sku), await stockOf(scarce.sku)]).toEqual([100, 100, 1]);

    const token = `bulk-${crypto.randomUUID()}`;
    const ok = await bulk([
      { user_id: u.id, items: [{ sku: p.sku, qty: 30 }], client_token: token },
      { user_id: v.id, items: [{ sku: free.sku, qty: 1 }] },
      { user_id: u.id, items: [{ sku: p.sku, qty: 30 }], client_token: token },
    ]);
    expect(ok.status).toBe(201);
    const data = ((await ok.json()) as { data: OrderDto[] }).data;
    expect(data.map((o) => o.status)).toEqual(["PENDING", "PAID", "PENDING"]);
    expect(data[2]?.id).toBe(data[0]?.id);
    // Far above the caps the suite runs with for shoppers: bulk is for staff.
    expect(await stockOf(p.sku)).toBe(70);
    const history = await sql<{ actor_id: string; actor_role: string }>(
      "SELECT actor_id, actor_role FROM order_status_history WHERE order_id = $1",
      [data[0]?.id],
    );
    expect(history).toEqual([{ actor_id: admin.id, actor_role: "ADMIN" }]);
    for (const o of data) {
      const read = (await (await api(`/api/v1/orders/${o.id}`, { headers: admin.auth })).json()) as OrderDto;
      expect(o).toEqual(read);
    }
  });

  it("unknown SKU and mixed currency in a bulk line name that line (orders.N.)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const eur = await makeProduct({ stock: 10, currency: "EUR" });
    const bulk = (orders: unknown[]) => api("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth));
    const unknown = await expectProblem(
      await bulk([
        { user_id: u.id, items: [{ sku: p.sku, qty: 1 }] },
        { user_id: u.id, items: [{ sku: "NOPE-9", qty: 1 }] },
      ]),
      400,
      "validation_error",
    );
    expect(unknown).toMatchObject({ failed_index: 1 });
    expect(unknown.errors).toEqual([
      { field: "orders.1.items.0.sku", in: "body", code: "unknown_sku", message: "no active product has SKU NOPE-9" },
    ]);
    const mixed = await expectProblem(
      await bulk([
        {
          user_id: u.id,
          items: [
            { sku: p.sku, qty: 1 },
            { sku: eur.sku, qty: 1 },
          ],
        },
      ]),
      400,
      "validation_error",
    );
    expect(mixed.errors).toEqual([
      { field: "orders.0.items", in: "body", code: "mixed_currency", message: "all items must share one currency" },
    ]);
    expect(await stockOf(p.sku)).toBe(10);
    expect(await footprint([u.id])).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
  });
});
