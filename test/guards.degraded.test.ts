/**
 * Guards whose Durable Objects are down (issue 18, fault e): the rate limiter and the idempotency store
 * throw on every call. What a client gets then, route class by route class:
 *  - checkout (orders, payments) keeps working on the database's own dedupe: a retry with the same
 *    Idempotency-Key finds the same order / intent, never a second one;
 *  - other writes behind an Idempotency-Key are refused (503 + Retry-After) and write nothing;
 *  - fail-open limits let the request through, fail-closed ones (login) answer 503 + Retry-After.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { apiSettled, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";

const fail = () => Promise.reject(new Error("chaos: durable object down"));
const brokenStore = { idFromName: () => ({}), get: () => ({ begin: fail, complete: fail, release: fail, inspect: fail }) };
const brokenLimiter = { idFromName: () => ({}), get: () => ({ hit: fail }) };
const storeDown = { ...env, IDEMPOTENCY_STORE: brokenStore } as unknown as Env;
const bothDown = { ...env, IDEMPOTENCY_STORE: brokenStore, RATE_LIMITER: brokenLimiter } as unknown as Env;

let user = await createUser();
const admin = await createUser("ADMIN");

function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const spies = [vi.spyOn(console, "warn").mockImplementation(() => {}), vi.spyOn(console, "error").mockImplementation(() => {})];
  return fn().finally(() => {
    for (const s of spies) s.mockRestore();
  });
}

const order = (body: unknown, key: string, bindings: Env) =>
  apiSettled("/api/v1/orders", jsonInit("POST", body, { ...user.auth, "Idempotency-Key": key }), bindings);

describe("idempotency store down", () => {
  // A fresh customer per test: the order-create limit (10 a minute) counts per user.
  beforeEach(async () => {
    user = await createUser();
  });

  it("checkout still places the order; a retry with the same key gets the same order (200), stock taken once", async () => {
    const p = await makeProduct({ stock: 10 });
    const key = `deg-${uniqueSuffix()}`;
    const body = { items: [{ sku: p.sku, qty: 3 }] };
    const first = await quiet(() => order(body, key, storeDown));
    expect(first.status).toBe(201);
    const placed = (await first.json()) as { id: string };
    // The client did not see the answer and retries (the store still down), then again once it is back.
    const again = await quiet(() => order(body, key, storeDown));
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(placed.id);
    const back = await order(body, key, env);
    expect([200, 201]).toContain(back.status);
    expect(((await back.json()) as { id: string }).id).toBe(placed.id);
    const rows = await sql("SELECT id FROM orders WHERE user_id = $1 AND client_token = $2", [user.id, `idem:${key}`]);
    expect(rows).toHaveLength(1);
    expect(await stockOf(p.sku)).toBe(7);
  });

  it("concurrent retries of one key while the store is down place one order", async () => {
    const p = await makeProduct({ stock: 50 });
    const key = `degc-${uniqueSuffix()}`;
    const body = { items: [{ sku: p.sku, qty: 1 }] };
    const answers = await quiet(() => Promise.all(Array.from({ length: 8 }, () => order(body, key, storeDown))));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const s of statuses) expect([200, 201, 409]).toContain(s);
    for (const r of answers.filter((r) => r.status >= 400)) expect(r.headers.get("retry-after")).not.toBeNull();
    expect(await sql("SELECT id FROM orders WHERE client_token = $1", [`idem:${key}`])).toHaveLength(1);
    expect(await stockOf(p.sku)).toBe(49);
  });

  it("paying works too: a retry with the same key reaches the same intent, one payment row", async () => {
    const p = await makeProduct({ stock: 5, price: 4200 });
    const placed = (await (await order({ items: [{ sku: p.sku, qty: 1 }] }, `degp-${uniqueSuffix()}`, env)).json()) as { id: string };
    const key = `degpay-${uniqueSuffix()}`;
    const pay = () =>
      apiSettled("/api/v1/payments", jsonInit("POST", { order_id: placed.id }, { ...user.auth, "Idempotency-Key": key }), storeDown);
    const first = await quiet(pay);
    expect(first.status, await first.clone().text()).toBe(201);
    const again = await quiet(pay);
    expect(again.status).toBe(200);
    const a = (await first.json()) as { payment_id: string };
    const b = (await again.json()) as { payment_id: string };
    expect(b.payment_id).toBe(a.payment_id);
    expect(await sql("SELECT id FROM payments WHERE order_id = $1", [placed.id])).toHaveLength(1);
  });

  it("another write with an Idempotency-Key is refused (503 + Retry-After) and writes nothing", async () => {
    const sku = `DEG-${uniqueSuffix().toUpperCase()}`;
    const body = { sku, name: "Degraded", price_cents: 100, currency: "USD", stock: 1 };
    const res = await quiet(() =>
      apiSettled(
        "/api/v1/admin/products",
        jsonInit("POST", body, { ...admin.auth, "Idempotency-Key": `dega-${uniqueSuffix()}` }),
        storeDown,
      ),
    );
    await expectProblem(res, 503, "service_unavailable");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await sql("SELECT id FROM products WHERE sku = $1", [sku])).toHaveLength(0);
  });
});

describe("rate limiter and idempotency store both down", () => {
  it("reads and checkout go through (fail-open limits); login answers 503 + Retry-After (fail-closed)", async () => {
    const p = await makeProduct({ stock: 4 });
    const read = await quiet(() => apiSettled(`/api/v1/products/${p.sku}`, undefined, bothDown));
    expect(read.status).toBe(200);
    const placed = await quiet(() => order({ items: [{ sku: p.sku, qty: 1 }] }, `degb-${uniqueSuffix()}`, bothDown));
    expect(placed.status).toBe(201);
    const login = await quiet(() =>
      apiSettled("/api/v1/auth/login", jsonInit("POST", { email: user.email, password: "whatever-long-pass" }), bothDown),
    );
    await expectProblem(login, 503, "service_unavailable");
    expect(login.headers.get("retry-after")).toBe("1");
  });
});
