/**
 * Defect (issue 12, item 9): customers saw PENDING after PAID. Settlement did not invalidate the
 * private order cache (a cached PENDING for up to ORDER_CACHE_TTL_SEC), cached entries carried no
 * Cache-Tag, and an upper-case id was another entry. Orders in a state that changes without an
 * API call (PENDING, PAID: webhooks and the expiry job) are never cached; stored entries carry
 * `Cache-Tag: order:<id>`; ids are lower-cased; settlement and expiry purge the tag.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PaymentEventMessage } from "../queues/messages.ts";
import { loadConfig } from "../src/config.ts";
import worker from "../src/index.ts";
import { createLogger } from "../src/lib/logger.ts";
import { invalidateOrders } from "../src/services/order-cache.service.ts";
import type { OrderDto } from "../src/services/orders.service.ts";
import { apiSettled, createUser, jsonInit, purgeEnv, runCron, sql, type TestUser } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";

afterEach(() => vi.restoreAllMocks());

const admin = await createUser("ADMIN");

/** Records zone purge calls (everything else goes out as usual). */
function purgeCalls() {
  const calls: string[][] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (!req.url.startsWith("https://purge.stub/")) return real(input as RequestInfo, init);
    calls.push(((await req.json()) as { tags: string[] }).tags);
    return Response.json({ success: true });
  });
  return calls;
}

async function newOrder(user: TestUser, bindings: Env = env): Promise<OrderDto> {
  const p = await makeProduct({ stock: 50, price: 1900 });
  const res = await apiSettled(
    "/api/v1/orders",
    jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": crypto.randomUUID() }),
    bindings,
  );
  expect(res.status).toBe(201);
  return (await res.json()) as OrderDto;
}

const read = (id: string, user: TestUser) => apiSettled(`/api/v1/orders/${id}`, { headers: user.auth });

async function patch(id: string, status: string, version: number) {
  const res = await apiSettled(`/api/v1/orders/${id}/status`, jsonInit("PATCH", { status, version }, admin.auth));
  expect(res.status).toBe(200);
  return (await res.json()) as OrderDto;
}

/** Pays the order the way production does: a stored provider event, settled by the payment-events consumer. */
async function settlePaid(order: OrderDto, user: TestUser, bindings: Env = env) {
  const paymentId = crypto.randomUUID();
  const ref = `sbx_pi_${paymentId.replaceAll("-", "")}`;
  await sql(
    "INSERT INTO payments (id, order_id, user_id, provider, provider_ref, amount_cents, currency) VALUES ($1, $2, $3, 'sandbox', $4, $5, $6)",
    [paymentId, order.id, user.id, ref, order.total_cents, order.currency],
  );
  const eventId = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  const data = { payment_id: paymentId, provider_ref: ref, order_id: order.id, amount_cents: order.total_cents, currency: order.currency };
  const [row] = await sql<{ id: string }>(
    "INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, 'payment.succeeded', $2::jsonb) RETURNING id",
    [eventId, JSON.stringify({ id: eventId, type: "payment.succeeded", data })],
  );
  const body: PaymentEventMessage = { kind: "payment-event", webhook_event_id: row?.id as string, provider: "sandbox", event_id: eventId };
  const batch = createMessageBatch("toko-payment-events", [{ id: `m-${eventId}`, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
}

describe("private order cache (issue 12, item 9)", () => {
  it("a PENDING order read, then paid via settlement, reads PAID immediately", async () => {
    const u = await createUser();
    const order = await newOrder(u);
    for (let i = 0; i < 2; i++) {
      const res = await read(order.id, u);
      expect(((await res.json()) as OrderDto).status).toBe("PENDING");
      expect(res.headers.get("x-cache")).toBe("BYPASS");
      expect(res.headers.get("cache-control")).toBe("private, no-cache");
    }
    await settlePaid(order, u);
    const after = await read(order.id, u);
    expect(((await after.json()) as OrderDto).status).toBe("PAID");
    // PAID changes asynchronously too (a refund webhook): never stored either.
    expect(after.headers.get("x-cache")).toBe("BYPASS");
    expect((await read(order.id, u)).headers.get("x-cache")).toBe("BYPASS");
  });

  it("an order in a state only an API call can change is cached; an upper-case id is the same entry; a change through either spelling is seen at once", async () => {
    const u = await createUser();
    const order = await newOrder(u);
    const paid = await patch(order.id, "PAID", order.version);
    const fulfilled = await patch(order.id, "FULFILLED", paid.version);
    const upper = order.id.toUpperCase();
    const miss = await read(order.id, u);
    expect(miss.headers.get("x-cache")).toBe("MISS");
    const body = await miss.text();
    const hit = await read(upper, u);
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect(await hit.text()).toBe(body);
    // Changed through the upper-case spelling: the lower-case entry is gone.
    await patch(upper, "SHIPPED", fulfilled.version);
    const next = await read(order.id, u);
    expect(next.headers.get("x-cache")).toBe("MISS");
    expect(((await next.json()) as OrderDto).status).toBe("SHIPPED");
    // Another principal never shares the entry.
    expect((await read(upper, admin)).headers.get("x-cache")).toBe("MISS");
  });

  it("a stored entry carries Cache-Tag: order:<id> (lower case); PENDING is never stored", async () => {
    const u = await createUser();
    const order = await newOrder(u);
    const puts: { key: string; tag: string | null; body: string }[] = [];
    const put = caches.default.put.bind(caches.default);
    vi.spyOn(caches.default, "put").mockImplementation(async (req, res) => {
      const key = req instanceof Request ? req.url : String(req);
      if (key.includes("/__edge-cache/v2/private/orders/"))
        puts.push({ key, tag: res.headers.get("cache-tag"), body: await res.clone().text() });
      return put(req, res);
    });
    await read(order.id, u);
    expect(puts).toEqual([]);
    const paid = await patch(order.id, "PAID", order.version);
    await patch(order.id, "FULFILLED", paid.version);
    await read(order.id.toUpperCase(), u);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.tag).toBe(`order:${order.id}`);
    expect(puts[0]?.key).toContain(`/orders/${order.id}/`);
    expect(JSON.parse(puts[0]?.body ?? "{}")).toMatchObject({ id: order.id, status: "FULFILLED" });
  });

  it("invalidateOrders purges order:<id> by tag (ids normalised, de-duplicated); the expiry job calls it for the orders it cancels", async () => {
    const calls = purgeCalls();
    const id = crypto.randomUUID();
    await invalidateOrders(loadConfig(purgeEnv), createLogger("error"), [id.toUpperCase(), id]);
    expect(calls).toEqual([[`order:${id}`]]);
    await invalidateOrders(loadConfig(purgeEnv), createLogger("error"), []);
    expect(calls).toHaveLength(1);

    const u = await createUser();
    const expiring = await newOrder(u, { ...purgeEnv, ORDER_PAYMENT_WINDOW_SEC: "1" } as Env);
    await new Promise((r) => setTimeout(r, 1100));
    calls.length = 0;
    await runCron("* * * * *", purgeEnv);
    const [row] = await sql<{ status: string }>("SELECT status::text AS status FROM orders WHERE id = $1", [expiring.id]);
    expect(row?.status).toBe("CANCELLED");
    expect(calls.flat()).toContain(`order:${expiring.id}`);
  });

  it("settlement purges the order it changed (the payment-events consumer calls invalidateOrders after commit)", async () => {
    const calls = purgeCalls();
    const u = await createUser();
    const order = await newOrder(u);
    await settlePaid(order, u, purgeEnv);
    expect(calls.flat()).toContain(`order:${order.id}`);
  });
});
