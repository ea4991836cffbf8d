/**
 * Issue 18, item 2: writes when the database fails. Every write answers a 503 problem with Retry-After,
 * its Idempotency-Key is not used up (the same key succeeds once the database is back), and nothing is
 * half-written: a fault injected in the middle of the checkout transaction, after the order row and
 * some of its items were written, leaves no order, no item, no history, no outbox row and the stock as it was.
 *
 * The fault is a trigger on `order_items` that fires only for lines whose SKU starts with `FAULT-`
 * (other test files share the database):
 *  - `FAULT-RAISE-…`: raises SQLSTATE 57P01 (admin_shutdown, what a server going down sends), on both
 *    databases;
 *  - `FAULT-KILL-…`: the backend terminates itself (`pg_terminate_backend(pg_backend_pid())`): the
 *    connection dies mid-transaction. Real Postgres only: the embedded one has a single backend.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiSettled, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";
import { signedWebhook } from "./payments.helpers.ts";

const realPostgres = env.TEST_DATABASE_KIND === "postgres";
const user = await createUser("USER");
const admin = await createUser("ADMIN");
const DEAD = { connectionString: "postgres://postgres:postgres@127.0.0.1:1/x", host: "127.0.0.1", port: 1, database: "x" };
const deadDb = (extra: Record<string, string> = {}) =>
  ({ ...env, HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, ...DEAD }, ...extra }) as unknown as Env;

beforeAll(async () => {
  await sql(`CREATE OR REPLACE FUNCTION toko_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.sku LIKE 'FAULT-KILL-%' THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
      ELSIF NEW.sku LIKE 'FAULT-RAISE-%' THEN
        RAISE EXCEPTION 'injected fault' USING ERRCODE = '57P01';
      END IF;
      RETURN NEW;
    END $$`);
  await sql("DROP TRIGGER IF EXISTS toko_test_fault ON order_items");
  await sql("CREATE TRIGGER toko_test_fault AFTER INSERT ON order_items FOR EACH ROW EXECUTE FUNCTION toko_test_fault()");
});

afterAll(async () => {
  await sql("DROP TRIGGER IF EXISTS toko_test_fault ON order_items");
  await sql("DROP FUNCTION IF EXISTS toko_test_fault()");
});

/** A product whose SKU makes the trigger fire (`kind`), and a plain one to put before it in the same order. */
async function faultyProduct(kind: "RAISE" | "KILL", stock: number) {
  const sku = `FAULT-${kind}-${uniqueSuffix().toUpperCase()}`;
  const [row] = await sql<{ id: string }>(
    `INSERT INTO products (sku, name, slug, price_cents, currency, stock, requires_shipping) VALUES ($1, $1, lower($1), 1000, 'USD', $2, false) RETURNING id`,
    [sku, stock],
  );
  return { id: row?.id as string, sku };
}

/** The buyer's orders, their items, and outbox / status-history rows naming the buyer (written by the same transaction). */
async function rowsOf(userId: string) {
  const [r] = await sql<{ orders: number; items: number; history: number; outbox: number }>(
    `SELECT (SELECT count(*)::int FROM orders WHERE user_id = $1) AS orders,
            (SELECT count(*)::int FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = $1) AS items,
            (SELECT count(*)::int FROM order_status_history WHERE actor_id = $1) AS history,
            (SELECT count(*)::int FROM outbox WHERE aggregate_type = 'order' AND payload->>'user_id' = $1::text) AS outbox`,
    [userId],
  );
  return r;
}

async function expect503(res: Response, code = "database_unavailable") {
  const p = await expectProblem(res, 503, code);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(JSON.stringify(p)).not.toMatch(/injected fault|toko_test_fault|57P01|127\.0\.0\.1|stack/i);
  return p;
}

describe("checkout: a fault inside the transaction writes nothing", () => {
  const cases: ("RAISE" | "KILL")[] = realPostgres ? ["RAISE", "KILL"] : ["RAISE"];
  for (const kind of cases) {
    it(`${kind === "KILL" ? "the backend is terminated" : "the server sends admin_shutdown"} after the order row and a first item: 503 + Retry-After, no rows, stock intact, the key still usable`, async () => {
      const buyer = await createUser("USER");
      const plain = await makeProduct({ stock: 10 });
      const faulty = await faultyProduct(kind, 10);
      const key = `fault-${kind}-${uniqueSuffix()}`;
      const body = {
        items: [
          { sku: plain.sku, qty: 2 },
          { sku: faulty.sku, qty: 3 },
        ],
      };
      const res = await apiSettled("/api/v1/orders", jsonInit("POST", body, { ...buyer.auth, "Idempotency-Key": key }));
      await expect503(res);
      expect(await rowsOf(buyer.id)).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
      expect([await stockOf(plain.sku), await stockOf(faulty.sku)]).toEqual([10, 10]);
      // The fault is gone (another SKU, same buyer, same key would be a 422 mismatch: so same body, trigger off for it).
      await sql("UPDATE products SET sku = $1 WHERE id = $2", [`OK-${faulty.sku}`, faulty.id]);
      const retry = await apiSettled(
        "/api/v1/orders",
        jsonInit(
          "POST",
          {
            items: [
              { sku: plain.sku, qty: 2 },
              { sku: `OK-${faulty.sku}`, qty: 3 },
            ],
          },
          { ...buyer.auth, "Idempotency-Key": `${key}-b` },
        ),
      );
      expect(retry.status).toBe(201);
      expect(await rowsOf(buyer.id)).toEqual({ orders: 1, items: 2, history: 1, outbox: 1 });
      expect([await stockOf(plain.sku), await stockOf(`OK-${faulty.sku}`)]).toEqual([8, 7]);
    });
  }

  it("the same Idempotency-Key is not used up by the fault: once the fault is gone, the same request with the same key places the order", async () => {
    const buyer = await createUser("USER");
    const faulty = await faultyProduct("RAISE", 5);
    const key = `fault-same-${uniqueSuffix()}`;
    const send = () =>
      apiSettled("/api/v1/orders", jsonInit("POST", { items: [{ sku: faulty.sku, qty: 1 }] }, { ...buyer.auth, "Idempotency-Key": key }));
    await expect503(await send());
    await expect503(await send());
    expect(await rowsOf(buyer.id)).toMatchObject({ orders: 0, items: 0 });
    await sql("DROP TRIGGER IF EXISTS toko_test_fault ON order_items");
    try {
      const ok = await send();
      expect(ok.status).toBe(201);
      expect(ok.headers.get("idempotent-replayed")).toBeNull();
      const replay = await send();
      expect(replay.status).toBe(201);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
    } finally {
      await sql("CREATE TRIGGER toko_test_fault AFTER INSERT ON order_items FOR EACH ROW EXECUTE FUNCTION toko_test_fault()");
    }
    expect(await rowsOf(buyer.id)).toMatchObject({ orders: 1, items: 1 });
    expect(await stockOf(faulty.sku)).toBe(4);
  });
});

describe("writes with the database unreachable: 503 + Retry-After, key kept, nothing written", () => {
  it("an admin product write; the same key then creates it once", async () => {
    const sku = `WDOWN-${uniqueSuffix().toUpperCase()}`;
    const key = `wdown-${uniqueSuffix()}`;
    const init = () => jsonInit("POST", { sku, name: "Down", price_cents: 1, currency: "USD" }, { ...admin.auth, "Idempotency-Key": key });
    await expect503(await apiSettled("/api/v1/admin/products", init(), deadDb()));
    expect(await sql("SELECT 1 FROM products WHERE sku = $1", [sku])).toHaveLength(0);
    const ok = await apiSettled("/api/v1/admin/products", init());
    expect(ok.status).toBe(201);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
  });

  it("a payment: 503, no payment row; the same key works once the database is back", async () => {
    const p = await makeProduct({ stock: 5 });
    const placed = await apiSettled(
      "/api/v1/orders",
      jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": `o-${uniqueSuffix()}` }),
    );
    expect(placed.status).toBe(201);
    const order = (await placed.json()) as { id: string };
    const key = `paydown-${uniqueSuffix()}`;
    const init = () => jsonInit("POST", { order_id: order.id, test_outcome: "succeeded" }, { ...user.auth, "Idempotency-Key": key });
    await expect503(await apiSettled("/api/v1/payments", init(), deadDb()));
    expect(await sql("SELECT 1 FROM payments WHERE order_id = $1", [order.id])).toHaveLength(0);
    const ok = await apiSettled("/api/v1/payments", init());
    expect(ok.status).toBe(201);
  });

  it("a payment webhook: 503 + Retry-After (the provider retries), nothing stored; the redelivery is accepted", async () => {
    const id = `evt_sbx_${uniqueSuffix()}`;
    const event = { id, type: "payment.succeeded", data: { payment_id: crypto.randomUUID() } };
    const signed = () => signedWebhook(event);
    await expect503(await apiSettled("/api/v1/webhooks/payments/sandbox", signed(), deadDb()));
    expect(await sql("SELECT 1 FROM webhook_events WHERE event_id = $1", [id])).toHaveLength(0);
    const ok = await apiSettled("/api/v1/webhooks/payments/sandbox", signed());
    expect(ok.status).toBe(202);
    expect(await sql("SELECT 1 FROM webhook_events WHERE event_id = $1", [id])).toHaveLength(1);
  });
});
