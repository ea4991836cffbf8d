/**
 * Issue 16, item 1: every request and every business event writes one Analytics Engine data point,
 * with the schema of docs/ops/metrics.md, through the worker's real entries (fetch, queue, scheduled)
 * and the breaker's Durable Object; and a throwing binding never fails the work it measures.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { PaymentEventMessage } from "../queues/messages.ts";
import worker from "../src/index.ts";
import { admit, resetGate } from "../src/lib/load-shed.ts";
import { METRIC_EVENTS, SCHEMA_VERSION } from "../src/lib/metrics.ts";
import { apiSettled, createUser, jsonInit, runCron, sql, type TestUser, uniqueSuffix } from "./helpers.ts";
import { type Captured, capture, throwingDataset, withDataset } from "./metrics.helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { signedWebhook } from "./payments.helpers.ts";

/** Which event kinds this file has seen written: the last test checks none was forgotten. */
const seen = new Set<string>();
function expectEvent(cap: Captured, event: string, match: Record<string, unknown> = {}) {
  const found = cap.events().filter((e) => e.event === event);
  expect(found, `${event} written`).toEqual(expect.arrayContaining([expect.objectContaining(match)]));
  for (const e of found) {
    expect(e.index).toBe(event);
    expect(e.count).toBeGreaterThan(0);
  }
  seen.add(event);
  return found;
}

async function order(user: TestUser, bindings: Env) {
  const p = await makeProduct({ stock: 50, price: 2500 });
  const res = await apiSettled(
    "/api/v1/orders",
    jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": `m-${crypto.randomUUID()}` }),
    bindings,
  );
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; version: number; total_cents: number };
}

async function queueBatch(queue: string, bodies: unknown[], bindings: Env, attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}-${uniqueSuffix()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  return getQueueResult(batch, ctx);
}

/** A payment INITIATED at the sandbox for a fresh PENDING order, and a stored event about it. */
async function storedEvent(type: string, data: (p: { paymentId: string; total: number }) => Record<string, unknown>) {
  const u = await createUser();
  const o = await order(u, env);
  const [p] = await sql<{ id: string }>(
    "INSERT INTO payments (order_id, user_id, provider, provider_ref, amount_cents, currency) VALUES ($1, $2, 'sandbox', $3, $4, 'USD') RETURNING id",
    [o.id, u.id, `sbx_${crypto.randomUUID()}`, o.total_cents],
  );
  const eventId = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  const payload = { id: eventId, type, data: data({ paymentId: p?.id as string, total: o.total_cents }) };
  const [row] = await sql<{ id: string }>(
    "INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, $2, $3::jsonb) RETURNING id",
    [eventId, type, JSON.stringify(payload)],
  );
  return {
    kind: "payment-event",
    webhook_event_id: row?.id as string,
    provider: "sandbox",
    event_id: eventId,
  } satisfies PaymentEventMessage;
}

describe("request points", () => {
  it("one per request, from the route template (never the raw path), with status, cache, lane, release and duration", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset, { RELEASE: "abc123" });
    const p = await makeProduct({ stock: 5 });
    expect((await apiSettled(`/api/v1/products/${p.sku}`, undefined, b)).status).toBe(200);
    expect((await apiSettled("/health/live", undefined, b)).status).toBe(200);
    expect((await apiSettled(`/no/such/${uniqueSuffix()}`, undefined, b)).status).toBe(404);
    const [detail, live, missing] = cap.requests();
    expect(detail).toMatchObject({ route: "/api/v1/products/:idOrSku", method: "GET", status: "200", cache: "MISS", lane: "app" });
    expect(detail?.index).toBe("GET /api/v1/products/:idOrSku");
    expect(live).toMatchObject({ route: "/health/live", status: "200", cache: "", tier: "" });
    expect(missing?.status).toBe("404");
    expect(missing?.route).not.toContain("/no/such/");
    for (const point of cap.points) {
      expect(point.blobs?.[8]).toBe("abc123");
      expect(point.blobs?.[9]).toBe(SCHEMA_VERSION);
      expect(point.blobs).toHaveLength(10);
      expect(point.doubles).toHaveLength(2);
      expect(point.indexes).toHaveLength(1);
    }
    expect(cap.points[0]?.doubles?.[1]).toBe(200);
  });

  it("the hot lane writes the same point (lane hot, HIT from l1) with one write and no await", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset);
    const origin = "https://shop.example.com";
    const url = "/api/v1/products?limit=7";
    // Miss, then L1 hits through the full path (which teach the hot lane), then the hot lane.
    for (let i = 0; i < 4; i++) expect((await apiSettled(url, { headers: { Origin: origin } }, b)).status).toBe(200);
    const lanes = cap.requests().map((r) => `${r.lane}:${r.cache}:${r.tier}`);
    expect(lanes[0]).toBe("app:MISS:");
    expect(lanes).toContain("hot:HIT:l1");
    expect(cap.requests().every((r) => r.route === "/api/v1/products")).toBe(true);
  });
});

describe("business events, one place each", () => {
  it("order_created (checkout) and order_cancelled (by its customer)", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset);
    const u = await createUser();
    const o = await order(u, b);
    expectEvent(cap, "order_created", { detail: "checkout", count: 1, source: "http" });
    // The route label the order alerts select (deploy/prometheus/rules/toko.rules.yml).
    expect(cap.requests().map((r) => `${r.method} ${r.route} ${r.status}`)).toEqual(["POST /api/v1/orders 201"]);
    const res = await apiSettled(
      `/api/v1/orders/${o.id}/status`,
      jsonInit("PATCH", { status: "CANCELLED", version: o.version }, u.auth),
      b,
    );
    expect(res.status).toBe(200);
    expectEvent(cap, "order_cancelled", { detail: "customer" });
  });

  it("order_created counts every order of an ADMIN bulk", async () => {
    const cap = capture();
    const admin = await createUser("ADMIN");
    const u = await createUser();
    const p = await makeProduct({ stock: 10 });
    const orders = [1, 2, 3].map(() => ({ user_id: u.id, items: [{ sku: p.sku, qty: 1 }] }));
    expect((await apiSettled("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth), withDataset(cap.dataset))).status).toBe(201);
    expectEvent(cap, "order_created", { detail: "bulk", count: 3 });
  });

  it("order_expired: one point per run of the expiry job, counting the orders it expired", async () => {
    const cap = capture();
    const o = await order(await createUser(), env);
    await sql("UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = $1", [o.id]);
    await runCron("* * * * *", withDataset(cap.dataset));
    const [expired] = expectEvent(cap, "order_expired", { source: "cron" });
    expect(expired?.count).toBeGreaterThanOrEqual(1);
    expect((await sql<{ status: string }>("SELECT status::text AS status FROM orders WHERE id = $1", [o.id]))[0]?.status).toBe("CANCELLED");
  });

  it("payment_settled, payment_failed and payment_anomaly from settlement (after its commit)", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset);
    const ok = await storedEvent("payment.succeeded", (p) => ({ payment_id: p.paymentId, amount_cents: p.total, currency: "USD" }));
    const failed = await storedEvent("payment.failed", (p) => ({ payment_id: p.paymentId, failure_code: "card_declined" }));
    const wrong = await storedEvent("payment.succeeded", (p) => ({ payment_id: p.paymentId, amount_cents: p.total + 1, currency: "USD" }));
    const result = await queueBatch("toko-payment-events", [ok, failed, wrong], b);
    expect(result.explicitAcks).toHaveLength(3);
    expectEvent(cap, "payment_settled", { detail: "sandbox", source: "queue" });
    expectEvent(cap, "payment_failed", { detail: "sandbox", detail2: "card_declined" });
    expectEvent(cap, "payment_anomaly", { detail: "amount_mismatch", detail2: "sandbox" });
    expect(cap.events().filter((e) => e.event === "payment_settled")).toHaveLength(1);
  });

  it("queue_retry per batch for any consumer, and queue_dead_lettered on a message's first delivery to a DLQ", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset);
    const poison: PaymentEventMessage = {
      kind: "payment-event",
      webhook_event_id: crypto.randomUUID(),
      provider: "sandbox",
      event_id: `evt_${uniqueSuffix()}`,
    };
    const retried = await queueBatch("toko-payment-events", [poison, poison], b);
    expect(retried.retryMessages).toHaveLength(2);
    expectEvent(cap, "queue_retry", { detail: "toko-payment-events", count: 2 });
    await queueBatch("toko-payment-events-dlq", [poison], b);
    expectEvent(cap, "queue_dead_lettered", { detail: "toko-payment-events-dlq", count: 1 });
    // The DLQ consumer's own redeliveries (attempts > 1) are not new dead letters.
    const before = cap.events().filter((e) => e.event === "queue_dead_lettered").length;
    await queueBatch("toko-payment-events-dlq", [poison], b, 2);
    expect(cap.events().filter((e) => e.event === "queue_dead_lettered")).toHaveLength(before);
  });

  it("webhook_received, webhook_duplicate and webhook_rejected at intake", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset);
    const event = { id: `evt_sbx_${uniqueSuffix()}`, type: "payment.succeeded", data: { payment_id: crypto.randomUUID() } };
    expect((await apiSettled("/api/v1/webhooks/payments/sandbox", signedWebhook(event), b)).status).toBe(202);
    expectEvent(cap, "webhook_received", { detail: "sandbox" });
    // Not applied yet (RECEIVED): the redelivery is queued again, and counted as a duplicate.
    expect((await apiSettled("/api/v1/webhooks/payments/sandbox", signedWebhook(event), b)).status).toBe(202);
    expectEvent(cap, "webhook_duplicate", { detail: "sandbox", detail2: "requeued" });
    const forged = signedWebhook({ ...event, id: `evt_sbx_${uniqueSuffix()}` }, "whsec_Zm9yZ2VkLWtleS0wMTIzNDU2Nzg5YWJjZGVm");
    expect((await apiSettled("/api/v1/webhooks/payments/sandbox", forged, b)).status).toBe(401);
    expectEvent(cap, "webhook_rejected", { detail: "sandbox", detail2: "invalid_signature" });
    expect(cap.events().filter((e) => e.event === "webhook_received")).toHaveLength(1);
  });

  it("rate_limited names the policy; login_lockout counts logins refused by a lock", async () => {
    const cap = capture();
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
    const limited = withDataset(cap.dataset, { RATE_LIMIT_OVERRIDES: "login-ip=1/60" });
    const login = (email: string, password: string, bindings: Env) =>
      apiSettled("/api/v1/auth/login", jsonInit("POST", { email, password }, { "CF-Connecting-IP": ip }), bindings);
    await login(`nobody-${uniqueSuffix()}@example.com`, "wrong-password-1", limited);
    expect((await login(`nobody-${uniqueSuffix()}@example.com`, "wrong-password-1", limited)).status).toBe(429);
    expectEvent(cap, "rate_limited", { detail: "login-ip", detail2: "durable-object" });

    const locking = withDataset(cap.dataset, {
      LOGIN_DELAY_AFTER: "1",
      LOGIN_MAX_FAILURES: "2",
      RATE_LIMIT_OVERRIDES: "login-ip=off,login-account=off",
    });
    const u = await createUser();
    expect((await login(u.email, "not-the-password-1", locking)).status).toBe(401);
    expect((await login(u.email, "not-the-password-1", locking)).status).toBe(429);
    expectEvent(cap, "login_lockout");
  });

  it("breaker_opened and breaker_closed, written by the breaker's Durable Object on each transition only", async () => {
    const cap = capture();
    const stub = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(`payments:metrics-${uniqueSuffix()}`));
    await runInDurableObject(stub, async (breaker) => {
      // The object's env is the worker's; give it the capturing dataset for this test.
      Object.defineProperty(breaker, "env", { value: withDataset(cap.dataset), configurable: true });
      await breaker.record(false, 2);
      await breaker.record(false, 2); // opens
      await breaker.record(false, 2); // already open: no second event
      await breaker.record(true, 2); // closes
      await breaker.record(true, 2); // already closed
    });
    const transitions = cap.events().map((e) => `${e.event}:${e.detail2}`);
    expect(transitions).toEqual(["breaker_opened:closed", "breaker_closed:open"]);
    expectEvent(cap, "breaker_opened", { source: "do" });
    const [closed] = expectEvent(cap, "breaker_closed");
    expect(closed?.detail).toMatch(/^payments:metrics-/);
  });

  it("shipping_fallback names the carrier and why, when a quote is served flat rates", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset, {
      SHIPPING_CARRIER: "sandbox",
      SHIPPING_SANDBOX_CLIENT_ID: `metrics-${uniqueSuffix()}`,
      SHIPPING_SANDBOX_MODE: "fail",
      SHIPPING_RETRY_BASE_MS: "0",
    });
    const p = await makeProduct({ stock: 5, physical: true });
    const address = { name: "A", line1: "1 Main St", city: "Austin", region: "TX", postal_code: "73301", country: "US" };
    const res = await apiSettled("/api/v1/shipping/rates", jsonInit("POST", { address, items: [{ sku: p.sku, qty: 1 }] }), b);
    expect(res.status).toBe(200);
    expectEvent(cap, "shipping_fallback", { detail: "sandbox", detail2: "carrier_failed", source: "http" });
  });

  it("stale_if_error names the tier and the origin's status when a catalogue read is served from the last good copy", async () => {
    const cap = capture();
    const short = { CATALOG_CACHE_TTL_SEC: "1", CATALOG_CACHE_SWR_SEC: "0" };
    const origin = `https://sie-metrics-${uniqueSuffix()}.test`;
    const read = async (b: Env) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`${origin}/api/v1/products?limit=2`), b, ctx);
      await waitOnExecutionContext(ctx);
      await res.body?.cancel();
      return res;
    };
    expect((await read(withDataset(cap.dataset, short))).headers.get("x-cache")).toBe("MISS");
    await new Promise((r) => setTimeout(r, 1100));
    const dead = { ...env.HYPERDRIVE_FRESH, connectionString: "postgres://postgres:postgres@127.0.0.1:1/x", host: "127.0.0.1", port: 1 };
    const res = await read({ ...withDataset(cap.dataset, short), HYPERDRIVE_FRESH: dead } as unknown as Env);
    expect(res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
    expectEvent(cap, "stale_if_error", { detail: "l1", detail2: "503", source: "http" });
  });

  it("shed names the class of a request the load-shedding gate refused", async () => {
    const cap = capture();
    const held = await admit("anon", { max: 2, anonPct: 50, authPct: 100, slowPct: 100, waitMs: 0 });
    try {
      const b = withDataset(cap.dataset, { SHED_MAX_INFLIGHT: "2", SHED_ANON_PCT: "50" });
      const res = await apiSettled(`/api/v1/products?limit=2&min_price=${Math.floor(Math.random() * 1e6)}`, undefined, b);
      expect(res.status).toBe(503);
      expectEvent(cap, "shed", { detail: "anon", source: "http" });
    } finally {
      held();
      resetGate();
    }
  });

  it("guard_unavailable names the guard and what the request got when a guard's Durable Object throws", async () => {
    const cap = capture();
    const fail = () => Promise.reject(new Error("down"));
    const b = {
      ...withDataset(cap.dataset),
      RATE_LIMITER: { idFromName: () => ({}), get: () => ({ hit: fail }) },
      IDEMPOTENCY_STORE: { idFromName: () => ({}), get: () => ({ begin: fail }) },
    } as unknown as Env;
    const spies = [vi.spyOn(console, "warn").mockImplementation(() => {}), vi.spyOn(console, "error").mockImplementation(() => {})];
    try {
      const p = await makeProduct({ stock: 3 });
      const u = await createUser();
      const res = await apiSettled(
        "/api/v1/orders",
        jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...u.auth, "Idempotency-Key": `gu-${uniqueSuffix()}` }),
        b,
      );
      expect(res.status).toBe(201);
      const login = await apiSettled("/api/v1/auth/login", jsonInit("POST", { email: u.email, password: "not-the-password" }), b);
      expect(login.status).toBe(503);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expectEvent(cap, "guard_unavailable", { detail: "rate-limit", detail2: "fail_open", source: "http" });
    expectEvent(cap, "guard_unavailable", { detail: "idempotency", detail2: "database", source: "http" });
    expectEvent(cap, "guard_unavailable", { detail: "rate-limit", detail2: "fail_closed", source: "http" });
  });

  it("every event kind of the schema was proven written by a test above", () => {
    expect([...seen].sort()).toEqual([...METRIC_EVENTS].sort());
  });
});

describe("a broken dataset never fails the work it measures", () => {
  it("requests (both lanes), checkout, webhooks, queue batches and cron runs succeed when every write throws", async () => {
    const b = withDataset(throwingDataset);
    expect((await apiSettled("/health/live", undefined, b)).status).toBe(200);
    const url = "/api/v1/products?limit=9";
    const origin = { headers: { Origin: "https://shop.example.com" } };
    for (let i = 0; i < 4; i++) expect((await apiSettled(url, origin, b)).status).toBe(200);
    const u = await createUser();
    const o = await order(u, b);
    expect((await apiSettled(`/api/v1/orders/${o.id}`, { headers: u.auth }, b)).status).toBe(200);
    const event = { id: `evt_sbx_${uniqueSuffix()}`, type: "payment.succeeded", data: { payment_id: crypto.randomUUID() } };
    expect((await apiSettled("/api/v1/webhooks/payments/sandbox", signedWebhook(event), b)).status).toBe(202);
    const ok = await storedEvent("payment.succeeded", (p) => ({ payment_id: p.paymentId, amount_cents: p.total, currency: "USD" }));
    expect((await queueBatch("toko-payment-events", [ok], b)).explicitAcks).toHaveLength(1);
    await expect(runCron("* * * * *", b)).resolves.toBeUndefined();
  });

  it("a missing binding is the same as none: nothing written, nothing broken", async () => {
    const { METRICS: _gone, ...rest } = env as Env & { METRICS?: unknown };
    expect((await apiSettled("/health/live", undefined, rest as Env)).status).toBe(200);
  });
});
