import { describe, expect, it } from "vitest";
import { TRANSITIONS } from "../src/services/order-state.ts";
import type { OrderDto } from "../src/services/orders.service.ts";
import { api, apiSettled, createUser, expectProblem, jsonInit, sql, type TestUser } from "./helpers.ts";
import { countRows, makeProduct, placeOrder, setStatus, stockOf } from "./orders.helpers.ts";

const admin = await createUser("ADMIN");
const STATUSES = Object.keys(TRANSITIONS) as (keyof typeof TRANSITIONS)[];
const PATH: Record<string, string[]> = {
  PENDING: [],
  PAID: ["PAID"],
  FULFILLED: ["PAID", "FULFILLED"],
  SHIPPED: ["PAID", "FULFILLED", "SHIPPED"],
  DELIVERED: ["PAID", "FULFILLED", "SHIPPED", "DELIVERED"],
  CANCELLED: ["CANCELLED"],
  REFUNDED: ["PAID", "REFUNDED"],
};

async function newOrder(user: TestUser, qty = 1, stock = 50) {
  const p = await makeProduct({ stock });
  const o = (await (await placeOrder(user, { items: [{ sku: p.sku, qty }] })).json()) as OrderDto;
  return { order: o, product: p };
}

async function orderIn(status: string, owner: TestUser) {
  const { order } = await newOrder(owner);
  let version = order.version;
  for (const s of PATH[status] ?? []) {
    const res = await setStatus(admin, order.id, s, version);
    expect(res.status).toBe(200);
    version = ((await res.json()) as OrderDto).version;
  }
  return { id: order.id, version };
}

describe("state machine", () => {
  it("walks the happy path with one history row and one outbox event per change", async () => {
    const u = await createUser();
    const { id, version } = await orderIn("DELIVERED", u);
    expect(version).toBe(5);
    const history = await sql<{ from_status: string | null; to_status: string; actor_role: string }>(
      "SELECT from_status, to_status, actor_role FROM order_status_history WHERE order_id = $1 ORDER BY id",
      [id],
    );
    expect(history.map((h) => `${h.from_status ?? "∅"}→${h.to_status}`)).toEqual([
      "∅→PENDING",
      "PENDING→PAID",
      "PAID→FULFILLED",
      "FULFILLED→SHIPPED",
      "SHIPPED→DELIVERED",
    ]);
    expect(history.slice(1).every((h) => h.actor_role === "ADMIN")).toBe(true);
    const [events] = await sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = $1 AND event_type = 'order.status_changed'",
      [id],
    );
    expect(events?.n).toBe(4);
  });

  it("refuses every transition outside the table with 409", async () => {
    const u = await createUser();
    const refused: string[] = [];
    for (const from of STATUSES) {
      const { id, version } = await orderIn(from, u);
      for (const to of STATUSES) {
        if (TRANSITIONS[from].includes(to)) continue;
        const res = await setStatus(admin, id, to, version);
        const p = await expectProblem(res, 409);
        expect(p).toMatchObject({ code: "invalid_transition", current_status: from });
        refused.push(`${from}→${to}`);
      }
    }
    expect(refused).toHaveLength(49 - 6);
  });

  it("a stale version is a 409 with the current version; nothing changes", async () => {
    const u = await createUser();
    const { id, version } = await orderIn("PENDING", u);
    expect((await setStatus(admin, id, "PAID", version)).status).toBe(200);
    const p = await expectProblem(await setStatus(admin, id, "FULFILLED", version), 409);
    expect(p).toMatchObject({ code: "version_conflict", current_version: version + 1, current_status: "PAID" });
    const [row] = await sql<{ status: string }>("SELECT status FROM orders WHERE id = $1", [id]);
    expect(row?.status).toBe("PAID");
  });

  it("two admins racing on one version: exactly one wins", async () => {
    const u = await createUser();
    const { id, version } = await orderIn("PENDING", u);
    const results = await Promise.all([setStatus(admin, id, "PAID", version), setStatus(admin, id, "CANCELLED", version)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it("cancelling restocks; refunding does not", async () => {
    const u = await createUser();
    const { order, product } = await newOrder(u, 4, 10);
    expect(await stockOf(product.sku)).toBe(6);
    expect((await setStatus(u, order.id, "CANCELLED", order.version)).status).toBe(200);
    expect(await stockOf(product.sku)).toBe(10);
    const second = await newOrder(u, 3, 10);
    const paid = (await (await setStatus(admin, second.order.id, "PAID", 1)).json()) as OrderDto;
    expect((await setStatus(admin, second.order.id, "REFUNDED", paid.version)).status).toBe(200);
    expect(await stockOf(second.product.sku)).toBe(7);
  });

  it("a customer may cancel their own PENDING order, but not pay it, nor touch another's", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const { id, version } = await orderIn("PENDING", alice);
    await expectProblem(await setStatus(alice, id, "PAID", version), 403);
    await expectProblem(await setStatus(bob, id, "CANCELLED", version), 404);
    expect((await setStatus(alice, id, "CANCELLED", version)).status).toBe(200);
    const paid = await orderIn("PAID", alice);
    await expectProblem(await setStatus(alice, paid.id, "CANCELLED", paid.version), 409);
  });

  it("bad bodies are 400", async () => {
    const u = await createUser();
    const { id } = await orderIn("PENDING", u);
    for (const body of [
      { status: "PAID" },
      { status: "LOST", version: 1 },
      { status: "PAID", version: "1" },
      { status: "PAID", version: 1, extra: true },
    ]) {
      await expectProblem(await api(`/api/v1/orders/${id}/status`, jsonInit("PATCH", body, admin.auth)), 400);
    }
  });
});

describe("reading orders", () => {
  it("owner and ADMIN read an order; another user gets 404", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const { order } = await newOrder(alice);
    expect((await api(`/api/v1/orders/${order.id}`, { headers: alice.auth })).status).toBe(200);
    expect((await api(`/api/v1/orders/${order.id}`, { headers: admin.auth })).status).toBe(200);
    await expectProblem(await api(`/api/v1/orders/${order.id}`, { headers: bob.auth }), 404);
    await expectProblem(await api("/api/v1/orders/00000000-0000-4000-8000-000000000000", { headers: alice.auth }), 404);
  });

  it("X-Cache MISS then HIT; a status change makes the next read a MISS with the new status", async () => {
    const u = await createUser();
    // PENDING and PAID are never cached (they change by webhook or expiry): orders.cache.test.ts.
    const order = await orderIn("FULFILLED", u);
    const path = `/api/v1/orders/${order.id}`;
    expect((await apiSettled(path, { headers: u.auth })).headers.get("x-cache")).toBe("MISS");
    const hit = await apiSettled(path, { headers: u.auth });
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect(hit.headers.get("cache-control")).toContain("private");
    await apiSettled(`${path}/status`, jsonInit("PATCH", { status: "SHIPPED", version: order.version }, admin.auth));
    const after = await apiSettled(path, { headers: u.auth });
    expect(after.headers.get("x-cache")).toBe("MISS");
    expect(((await after.json()) as OrderDto).status).toBe("SHIPPED");
    const other = await createUser();
    await expectProblem(await apiSettled(path, { headers: other.auth }), 404);
  });

  it("a user lists only their own orders; ADMIN filters by status, q and dates, and pages", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const a1 = await newOrder(alice);
    await newOrder(alice);
    await newOrder(bob);
    const mine = (await (await api("/api/v1/orders", { headers: alice.auth })).json()) as { data: OrderDto[] };
    expect(mine.data.map((o) => o.user_id).every((id) => id === alice.id)).toBe(true);
    expect(mine.data).toHaveLength(2);
    await expectProblem(await api(`/api/v1/orders?user_id=${bob.id}`, { headers: alice.auth }), 403);

    const bySku = (await (await api(`/api/v1/orders?q=${a1.product.sku}`, { headers: admin.auth })).json()) as { data: OrderDto[] };
    expect(bySku.data.map((o) => o.id)).toEqual([a1.order.id]);
    const byEmail = (await (await api(`/api/v1/orders?q=${encodeURIComponent(bob.email)}`, { headers: admin.auth })).json()) as {
      data: OrderDto[];
    };
    expect(byEmail.data.every((o) => o.customer_email === bob.email)).toBe(true);
    const byId = (await (await api(`/api/v1/orders?q=${a1.order.id}`, { headers: admin.auth })).json()) as { data: OrderDto[] };
    expect(byId.data.map((o) => o.id)).toEqual([a1.order.id]);
    const future = (await (await api("/api/v1/orders?created_from=2999-01-01T00:00:00Z", { headers: admin.auth })).json()) as {
      data: OrderDto[];
    };
    expect(future.data).toEqual([]);
    const cancelled = (await (await api("/api/v1/orders?status=CANCELLED&limit=100", { headers: admin.auth })).json()) as {
      data: OrderDto[];
    };
    expect(cancelled.data.every((o) => o.status === "CANCELLED")).toBe(true);

    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { data: OrderDto[]; next_cursor: string | null } = await (
        await api(`/api/v1/orders?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers: admin.auth })
      ).json();
      for (const o of page.data) {
        expect(seen.has(o.id)).toBe(false);
        seen.add(o.id);
      }
      cursor = page.next_cursor;
    } while (cursor);
    const [total] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM orders");
    expect(seen.size).toBe(total?.n);
  });
});

describe("POST /api/v1/orders/bulk", () => {
  it("creates up to 100 orders in one transaction", async () => {
    const users = await Promise.all([createUser(), createUser()]);
    const p = await makeProduct({ stock: 300 });
    const orders = Array.from({ length: 100 }, (_, i) => ({ user_id: users[i % 2]?.id, items: [{ sku: p.sku, qty: 2 }] }));
    const res = await api("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth));
    expect(res.status).toBe(201);
    expect(((await res.json()) as { data: OrderDto[] }).data).toHaveLength(100);
    expect(await stockOf(p.sku)).toBe(100);
  });

  it("one bad line rolls back every order and stock change, and names the line", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const scarce = await makeProduct({ stock: 1 });
    const orders = [
      { user_id: u.id, items: [{ sku: p.sku, qty: 2 }] },
      { user_id: u.id, items: [{ sku: p.sku, qty: 2 }] },
      {
        user_id: u.id,
        items: [
          { sku: p.sku, qty: 1 },
          { sku: scarce.sku, qty: 5 },
        ],
      },
    ];
    const before = await countRows();
    const problem = await expectProblem(await api("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth)), 409);
    expect(problem.failed_index).toBe(2);
    expect(problem.errors).toEqual([expect.objectContaining({ field: "orders.2.items.1.qty", code: "insufficient_stock" })]);
    expect(await countRows()).toEqual(before);
    expect(await stockOf(p.sku)).toBe(10);
    expect(await stockOf(scarce.sku)).toBe(1);
    const unknown = await expectProblem(
      await api(
        "/api/v1/orders/bulk",
        jsonInit("POST", { orders: [orders[0], { user_id: u.id, items: [{ sku: "NOPE-1", qty: 1 }] }] }, admin.auth),
      ),
      400,
    );
    expect(unknown.errors?.[0]?.field).toBe("orders.1.items.0.sku");
    expect(await countRows()).toEqual(before);
  });

  it("is for ADMIN only, and refuses unknown users and 101 orders", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    await expectProblem(
      await api("/api/v1/orders/bulk", jsonInit("POST", { orders: [{ user_id: u.id, items: [{ sku: p.sku, qty: 1 }] }] }, u.auth)),
      403,
    );
    const ghost = await expectProblem(
      await api(
        "/api/v1/orders/bulk",
        jsonInit("POST", { orders: [{ user_id: "00000000-0000-4000-8000-000000000000", items: [{ sku: p.sku, qty: 1 }] }] }, admin.auth),
      ),
      400,
    );
    expect(ghost.errors?.[0]?.field).toBe("orders.0.user_id");
    const many = Array.from({ length: 101 }, () => ({ user_id: u.id, items: [{ sku: p.sku, qty: 1 }] }));
    await expectProblem(await api("/api/v1/orders/bulk", jsonInit("POST", { orders: many }, admin.auth)), 400);
  });
});
