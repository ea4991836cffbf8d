/**
 * Defect: anyone could empty the stock of the whole catalogue — placing an order reserves stock
 * at once and nothing ever released it. Unpaid orders now expire (a scheduled job cancels and
 * restocks them), and per-customer caps bound what unpaid orders may hold.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, apiSettled, createUser, expectProblem, jsonInit, runCron, sql, type TestUser } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";

type Order = { id: string; status: string; expires_at: string | null; created_at: string; version: number };

const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as Env;
/** Orders expire one second after they are placed. */
const SHORT = withVars({ ORDER_PAYMENT_WINDOW_SEC: "1" });

function order(user: TestUser, items: { sku: string; qty: number }[], bindings: Env = env) {
  return apiSettled("/api/v1/orders", jsonInit("POST", { items }, { ...user.auth, "Idempotency-Key": crypto.randomUUID() }), bindings);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function statusOf(id: string): Promise<string> {
  return (await sql<{ status: string }>("SELECT status::text AS status FROM orders WHERE id = $1", [id]))[0]?.status as string;
}

describe("order expiry: unpaid orders give their stock back", () => {
  it("an order states when it expires (expires_at = created_at + ORDER_PAYMENT_WINDOW_SEC)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5 });
    const res = await order(u, [{ sku: p.sku, qty: 1 }]);
    expect(res.status).toBe(201);
    const o = (await res.json()) as Order;
    expect(o.expires_at).not.toBeNull();
    const window = (Date.parse(o.expires_at as string) - Date.parse(o.created_at)) / 1000;
    expect(window).toBeCloseTo(1800, 0);
    const read = (await (await api(`/api/v1/orders/${o.id}`, { headers: u.auth })).json()) as Order;
    expect(read.expires_at).toBe(o.expires_at);
  });

  it("the cron job cancels an expired order as SYSTEM, restocks it, writes history and an outbox event", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const o = (await (await order(u, [{ sku: p.sku, qty: 4 }], SHORT)).json()) as Order;
    expect(await stockOf(p.sku)).toBe(6);
    await sleep(1100);
    await runCron("* * * * *");
    expect(await statusOf(o.id)).toBe("CANCELLED");
    expect(await stockOf(p.sku)).toBe(10);
    const [h] = await sql<{ actor_role: string; actor_id: string | null; reason: string }>(
      "SELECT actor_role, actor_id, reason FROM order_status_history WHERE order_id = $1 AND to_status = 'CANCELLED'",
      [o.id],
    );
    expect(h).toMatchObject({ actor_role: "SYSTEM", actor_id: null, reason: "payment window expired" });
    const events = await sql<{ payload: Record<string, unknown> }>(
      "SELECT payload FROM outbox WHERE aggregate_id = $1 AND event_type = 'order.status_changed'",
      [o.id],
    );
    expect(events.map((e) => e.payload)).toEqual([expect.objectContaining({ from: "PENDING", to: "CANCELLED", expired: true })]);
    // Idempotent: a second run finds nothing to do and restocks nothing twice.
    await runCron("* * * * *");
    expect(await stockOf(p.sku)).toBe(10);
  });

  it("an order that has not expired yet, or was paid, is left alone", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const fresh = (await (await order(u, [{ sku: p.sku, qty: 1 }])).json()) as Order;
    const paid = (await (await order(u, [{ sku: p.sku, qty: 1 }], SHORT)).json()) as Order;
    await sql("UPDATE orders SET status = 'PAID' WHERE id = $1", [paid.id]);
    await sleep(1100);
    await runCron("* * * * *");
    expect(await statusOf(fresh.id)).toBe("PENDING");
    expect(await statusOf(paid.id)).toBe("PAID");
    expect(await stockOf(p.sku)).toBe(8);
  });

  it("never expires an order while its payment is in flight; a payment idle longer than PAYMENT_IN_FLIGHT_MAX_SEC no longer protects it (its intent is closed first)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const inFlight = (await (await order(u, [{ sku: p.sku, qty: 2 }], SHORT)).json()) as Order;
    const stuck = (await (await order(u, [{ sku: p.sku, qty: 3 }], SHORT)).json()) as Order;
    const pay = (orderId: string, age: string) =>
      sql(
        `INSERT INTO payments (order_id, user_id, provider, provider_ref, amount_cents, currency, created_at, updated_at)
         VALUES ($1, $2, 'sandbox', $3, 1000, 'USD', now() - $4::interval, now() - $4::interval)`,
        [orderId, u.id, `sbx_${crypto.randomUUID()}`, age],
      );
    await pay(inFlight.id, "10 seconds");
    await pay(stuck.id, "2 hours");
    await sleep(1100);
    await runCron("* * * * *");
    expect(await statusOf(inFlight.id)).toBe("PENDING");
    expect(await statusOf(stuck.id)).toBe("CANCELLED");
    expect(await stockOf(p.sku)).toBe(8);
  });

  it("an ADMIN can run the job by hand and sees its counts; a USER cannot", async () => {
    const admin = await createUser("ADMIN");
    const u = await createUser();
    const p = await makeProduct({ stock: 3 });
    await order(u, [{ sku: p.sku, qty: 3 }], SHORT);
    await sleep(1100);
    const res = await apiSettled("/api/v1/admin/jobs/order-expiry/run", { method: "POST", headers: admin.auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { job: string; counts: Record<string, number>; duration_ms: number };
    expect(body.job).toBe("order-expiry");
    expect(body.counts.expired).toBeGreaterThanOrEqual(1);
    expect(body.counts.restocked_units).toBeGreaterThanOrEqual(3);
    expect(await stockOf(p.sku)).toBe(3);
    await expectProblem(await api("/api/v1/admin/jobs/order-expiry/run", { method: "POST", headers: u.auth }), 403, "forbidden");
    await expectProblem(await api("/api/v1/admin/jobs/no-such-job/run", { method: "POST", headers: admin.auth }), 400, "validation_error");
    const list = (await (await api("/api/v1/admin/jobs", { headers: admin.auth })).json()) as {
      data: { name: string; schedules: string[] }[];
    };
    expect(list.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "order-expiry", schedules: ["* * * * *"] }),
        expect.objectContaining({ name: "retention", schedules: ["17 3 * * *"] }),
      ]),
    );
  });

  it("with Postgres away the cron run fails loudly and changes nothing; the next run does the work", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 4 });
    const o = (await (await order(u, [{ sku: p.sku, qty: 4 }], SHORT)).json()) as Order;
    await sleep(1100);
    const away = { ...env, HYPERDRIVE_FRESH: { connectionString: "postgres://postgres:postgres@127.0.0.1:1/x" } } as unknown as Env;
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    await expect(runCron("* * * * *", away)).rejects.toThrow();
    quiet.mockRestore();
    expect(await statusOf(o.id)).toBe("PENDING");
    expect(await stockOf(p.sku)).toBe(0);
    await runCron("* * * * *");
    expect(await statusOf(o.id)).toBe("CANCELLED");
    expect(await stockOf(p.sku)).toBe(4);
  });

  it("a cron expression with no job fails the invocation loudly", async () => {
    await expect(runCron("0 0 31 2 *")).rejects.toThrow(/no job is scheduled/);
  });
});

describe("hoarding caps", () => {
  it("refuses a customer's next unpaid order past MAX_OPEN_ORDERS_PER_USER with 429 naming the cap; parallel checkouts cannot overshoot", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    // The per-user order rate limit (10/min) is off here: this is about the cap, not the limiter.
    const capped = withVars({ MAX_OPEN_ORDERS_PER_USER: "3", MAX_RESERVED_UNITS_PER_SKU: "100", RATE_LIMIT_OVERRIDES: "order-create=off" });
    const results = await Promise.all(Array.from({ length: 10 }, () => order(u, [{ sku: p.sku, qty: 1 }], capped)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    const refused = results.find((r) => r.status === 429) as Response;
    const problem = await expectProblem(refused, 429, "open_orders_limit");
    expect(problem).toMatchObject({ cap: "MAX_OPEN_ORDERS_PER_USER", limit: 3 });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await stockOf(p.sku)).toBe(97);
    // Paying or cancelling one frees a slot.
    const [first] = await sql<{ id: string }>("SELECT id FROM orders WHERE user_id = $1 LIMIT 1", [u.id]);
    await sql("UPDATE orders SET status = 'PAID' WHERE id = $1", [first?.id]);
    expect((await order(u, [{ sku: p.sku, qty: 1 }], capped)).status).toBe(201);
  });

  it("refuses more than MAX_RESERVED_UNITS_PER_SKU units of one SKU across a customer's unpaid orders (409 naming the cap and the line)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 1000 });
    const other = await makeProduct({ stock: 1000 });
    const capped = withVars({ MAX_OPEN_ORDERS_PER_USER: "10", MAX_RESERVED_UNITS_PER_SKU: "5" });
    expect((await order(u, [{ sku: p.sku, qty: 4 }], capped)).status).toBe(201);
    const res = await order(
      u,
      [
        { sku: other.sku, qty: 5 },
        { sku: p.sku, qty: 2 },
      ],
      capped,
    );
    const problem = await expectProblem(res, 409, "reservation_limit");
    expect(problem).toMatchObject({ cap: "MAX_RESERVED_UNITS_PER_SKU", limit: 5, skus: [p.sku] });
    expect(problem.errors).toEqual([expect.objectContaining({ field: "items.1.qty", code: "reservation_limit" })]);
    expect(await stockOf(other.sku)).toBe(1000);
    expect((await order(u, [{ sku: p.sku, qty: 1 }], capped)).status).toBe(201);
    // Another customer has their own allowance.
    expect((await order(await createUser(), [{ sku: p.sku, qty: 5 }], capped)).status).toBe(201);
  });

  it("the caps use the production defaults when not overridden", async () => {
    const { loadConfig } = await import("../src/config.ts");
    const defaults = loadConfig({ ...env, MAX_OPEN_ORDERS_PER_USER: undefined, MAX_RESERVED_UNITS_PER_SKU: undefined } as unknown as Env);
    expect(defaults.MAX_OPEN_ORDERS_PER_USER).toBe(5);
    expect(defaults.MAX_RESERVED_UNITS_PER_SKU).toBe(20);
    expect(defaults.ORDER_PAYMENT_WINDOW_SEC).toBe(1800);
  });
});
