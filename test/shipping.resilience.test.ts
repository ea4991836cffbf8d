/**
 * Issue 19, item 5: a timeout per attempt; retries on 5xx, 429 and timeouts only, at 100 ms, 400 ms and
 * 1,600 ms with jitter (the delays are recorded through an injected sleep); never on another 4xx; the
 * carrier's breaker (the shared CircuitBreaker Durable Object) opens after 5 failures and flat fallback
 * rates are served, logged and counted, without calling the carrier; checkout still works.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.ts";
import { backoffDelay, OUTBOUND_RETRY_FACTOR, outboundRetryDelay } from "../src/lib/backoff.ts";
import { createLogger } from "../src/lib/logger.ts";
import { carrierBreakerName, carrierFromConfig, rateShipment, type ShippingDeps } from "../src/services/shipping.service.ts";
import { normaliseAddress } from "../src/shipping/address.ts";
import type { Shipment } from "../src/shipping/carrier.ts";
import { apiSettled, createUser, expectProblem, jsonInit } from "./helpers.ts";
import { capture, withDataset } from "./metrics.helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { checkout, DE_ADDRESS, quote, quoteOk, sandbox, sandboxEnv, shippedOrder, US_ADDRESS } from "./shipping.helpers.ts";

beforeEach(() => sandbox.reset());
afterEach(() => vi.restoreAllMocks());

const shipment: Shipment = {
  origin: { country: "US", postalCode: null },
  destination: normaliseAddress(US_ADDRESS),
  parcel: { weightGrams: 1000, dimensionsMm: null, units: 1 },
  currency: "USD",
};

/** Deps whose sleeps are recorded, not waited, and whose jitter is pinned. */
function recorded(vars: Record<string, string> = {}, random = () => 1) {
  const b = sandboxEnv(vars);
  const delays: number[] = [];
  const d: ShippingDeps = {
    env: b,
    cfg: loadConfig(b),
    log: createLogger("error"),
    origin: "https://toko.test",
    sleep: async (ms) => void delays.push(ms),
    random,
  };
  return { d, delays, carrier: carrierFromConfig(d.cfg) };
}

describe("retries", () => {
  it("three 503s then success: retried at 100, 400, 1600 ms (jitter pinned at its top), one rates call each", async () => {
    const { d, delays, carrier } = recorded();
    sandbox.failNext("rates", 3, 503);
    const r = await rateShipment(d, carrier, shipment);
    expect(r.estimated).toBe(false);
    expect(delays).toEqual([100, 400, 1600]);
    expect(sandbox.rateRequests).toBe(4);
  });

  it("the jitter is equal jitter: each delay between half and all of its step (random 0 → 50, 200, 800)", async () => {
    const low = recorded({}, () => 0);
    sandbox.failNext("rates", 3, 500);
    await rateShipment(low.d, low.carrier, shipment);
    expect(low.delays).toEqual([50, 200, 800]);
    const real = recorded({}, Math.random);
    sandbox.failNext("rates", 3, 502);
    await rateShipment(real.d, real.carrier, shipment);
    [100, 400, 1600].forEach((step, i) => {
      expect(real.delays[i]).toBeGreaterThanOrEqual(step / 2);
      expect(real.delays[i]).toBeLessThanOrEqual(step);
    });
  });

  it("429 and timeouts (SHIPPING_TIMEOUT_MS per attempt) are retried too", async () => {
    const { d, delays, carrier } = recorded({ SHIPPING_TIMEOUT_MS: "100", SHIPPING_TOKEN_WAIT_MS: "1000" });
    sandbox.rateLimitNext("rates", 1);
    sandbox.timeoutNext("rates", 1);
    const started = Date.now();
    const r = await rateShipment(d, carrier, shipment);
    expect(r.estimated).toBe(false);
    expect(delays).toEqual([100, 400]);
    expect(sandbox.rateRequests).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it("never on a 4xx: one call, no delay, a 422 for the quote, and the breaker does not count it", async () => {
    const { d, delays, carrier } = recorded();
    sandbox.rejectNext("rates", 1, 400);
    await expect(rateShipment(d, carrier, shipment)).rejects.toMatchObject({ code: "shipping_not_quotable", status: 422 });
    expect(delays).toEqual([]);
    expect(sandbox.rateRequests).toBe(1);
    const breaker = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(await carrierBreakerName(carrier)));
    expect(await breaker.status()).toMatchObject({ state: "closed", failures: 0 });
    // Through the route, a 4xx from the carrier is the client's 422, not a fallback.
    const p = await makeProduct({ stock: 5, physical: true });
    sandbox.rejectNext("rates", 1, 422);
    const res = await quote({ address: US_ADDRESS, items: [{ sku: p.sku, qty: 1 }] }, d.env);
    expect(await expectProblem(res, 422, "shipping_not_quotable")).toMatchObject({ reason: "carrier_refused" });
  });

  it("every attempt failing: 4 attempts (3 retries), then the flat rate", async () => {
    const { d, delays, carrier } = recorded();
    sandbox.failNext("rates", 10, 503);
    const r = await rateShipment(d, carrier, shipment);
    expect(r).toMatchObject({
      estimated: true,
      rates: [{ service: "flat-domestic", amountCents: 799, currency: "USD", estimatedDays: 5 }],
    });
    expect(delays).toEqual([100, 400, 1600]);
    expect(sandbox.rateRequests).toBe(4);
  });

  it("one helper for both outbound clients: the shipping schedule and the payment client's are outboundRetryDelay", () => {
    expect(OUTBOUND_RETRY_FACTOR).toBe(4);
    expect([1, 2, 3].map((n) => outboundRetryDelay(n, 100, () => 1))).toEqual([100, 400, 1600]);
    expect(outboundRetryDelay(1, 0)).toBe(0);
    // The queue consumers keep the doubling form of the same formula.
    expect([1, 2, 3].map((n) => backoffDelay(n, 5, 3600, { random: () => 1 }))).toEqual([5, 10, 20]);
  });

  it("the payment client retries at the same schedule (delays seen by setTimeout, jitter pinned)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5, price: 1000 });
    const order = (await (await checkout(u, { items: [{ sku: p.sku, qty: 1 }] })).json()) as { id: string };
    vi.spyOn(Math, "random").mockReturnValue(1);
    const timers = vi.spyOn(globalThis, "setTimeout");
    const b = { ...env, PROVIDER_MAX_ATTEMPTS: "3", PROVIDER_RETRY_BASE_MS: "100" } as Env;
    const res = await apiSettled(
      "/api/v1/payments",
      jsonInit("POST", { order_id: order.id, test_outcome: "provider_error" }, { ...u.auth, "Idempotency-Key": crypto.randomUUID() }),
      b,
    );
    await expectProblem(res, 503, "provider_failed");
    const waits = timers.mock.calls.map((c) => c[1]).filter((ms) => ms === 100 || ms === 400 || ms === 1600);
    expect(waits).toEqual([100, 400]);
  });
});

describe("breaker and fallback", () => {
  it("5 failures open the carrier's breaker; then flat rates without calling the carrier; half-open after SHIPPING_BREAKER_OPEN_SEC", async () => {
    const cap = capture();
    const b = {
      ...sandboxEnv({ SHIPPING_MAX_ATTEMPTS: "1", SHIPPING_BREAKER_OPEN_SEC: "1", LOG_LEVEL: "warn" }),
      METRICS: cap.dataset,
    } as Env;
    const p = await makeProduct({ stock: 5, price: 1000, physical: true });
    const body = (i: number) => ({ address: { ...DE_ADDRESS, line1: `Unter den Linden ${i}` }, items: [{ sku: p.sku, qty: 1 }] });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    sandbox.failNext("rates", 5, 503);
    for (let i = 0; i < 5; i++) {
      const q = (await (await quote(body(i), b)).json()) as { estimated: boolean; rates: { carrier: string; amount_cents: number }[] };
      expect(q).toMatchObject({ estimated: true, rates: [{ carrier: "flat", amount_cents: 2499 }] });
    }
    const breaker = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(await carrierBreakerName(carrierFromConfig(loadConfig(b)))));
    expect(await breaker.status()).toMatchObject({ state: "open", failures: 5 });
    expect(sandbox.rateRequests).toBe(5);
    // Open: served at once, the carrier is not called (its script is exhausted: it would answer now).
    const res = await quote(body(9), b);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("BYPASS");
    expect(((await res.json()) as { estimated: boolean }).estimated).toBe(true);
    expect(sandbox.rateRequests).toBe(5);
    // Logged and counted, with why.
    const reasons = cap.events().filter((e) => e.event === "shipping_fallback");
    expect(reasons.map((e) => e.detail2)).toEqual([
      "carrier_failed",
      "carrier_failed",
      "carrier_failed",
      "carrier_failed",
      "breaker_open",
      "breaker_open",
    ]);
    expect(reasons.every((e) => e.detail === "sandbox")).toBe(true);
    const logged = warn.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(logged.filter((l) => l.msg === "shipping quote: carrier unavailable, flat rate served")).toHaveLength(6);
    // Half-open after a second: one probe, the carrier answers, the breaker closes, real rates again.
    await new Promise((r) => setTimeout(r, 1100));
    const back = (await (await quote(body(10), b)).json()) as { estimated: boolean; rates: { carrier: string }[] };
    expect(back.estimated).toBe(false);
    expect(back.rates.map((r) => r.carrier)).toEqual(["sandbox", "sandbox"]); // to DE: ground and express
    expect(await breaker.status()).toMatchObject({ state: "closed", failures: 0 });
  });

  it("while the carrier is down, checkout still works with the fallback rate", async () => {
    const b = sandboxEnv({
      SHIPPING_SANDBOX_MODE: "timeout",
      SHIPPING_TIMEOUT_MS: "100",
      SHIPPING_TOKEN_WAIT_MS: "200",
      SHIPPING_RETRY_BASE_MS: "1",
    });
    const u = await createUser();
    const p = await makeProduct({ stock: 5, price: 1000, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const q = await quoteOk(items, US_ADDRESS, b);
    expect(q.rates).toMatchObject([{ carrier: "flat", service: "flat-domestic", amount_cents: 799, estimated: true }]);
    const res = await checkout(u, shippedOrder(items, q.rates[0]?.rate_id as string), b);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ total_cents: 1799, shipping: { carrier: "flat", estimated: true } });
  });

  it("the breaker's Durable Object erroring does not fail the quote: calls go ahead (fail open), logged", async () => {
    const down = () => Promise.reject(new Error("Durable Object unavailable"));
    const breakers = { idFromName: (n: string) => n, get: () => ({ acquire: down, record: down, status: down }) };
    const b = { ...sandboxEnv({ LOG_LEVEL: "warn" }), CIRCUIT_BREAKER: breakers } as unknown as Env;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const d: ShippingDeps = { env: b, cfg: loadConfig(b), log: createLogger("warn"), origin: "https://toko.test" };
    const r = await rateShipment(d, carrierFromConfig(d.cfg), shipment);
    expect(r.estimated).toBe(false);
    expect(warn.mock.calls.some((c) => String(c[0]).includes("carrier breaker unavailable: failing open"))).toBe(true);
  });

  it("no flat rate for that zone and currency: 503 shipping_unavailable with Retry-After (not a 500)", async () => {
    const b = sandboxEnv({ SHIPPING_SANDBOX_MODE: "fail", SHIPPING_RETRY_BASE_MS: "0", SHIPPING_FLAT_RATES: "domestic:US:USD:799:5" });
    const p = await makeProduct({ stock: 5, physical: true });
    const res = await quote({ address: DE_ADDRESS, items: [{ sku: p.sku, qty: 1 }] }, b);
    await expectProblem(res, 503, "shipping_unavailable");
    expect(res.headers.get("retry-after")).toBe("30");
  });

  it("a carrier quoting in another currency than the goods: those rates are dropped; none left → 422", async () => {
    const b = sandboxEnv();
    const p = await makeProduct({ stock: 5, physical: true });
    sandbox.quoteCurrency = "EUR";
    const res = await quote({ address: US_ADDRESS, items: [{ sku: p.sku, qty: 1 }] }, b);
    expect(await expectProblem(res, 422, "shipping_not_quotable")).toMatchObject({ reason: "currency" });
  });
});

describe("the shipping_fallback event", () => {
  it("is written where the fallback happens, through the worker's metrics context", async () => {
    const cap = capture();
    const b = withDataset(cap.dataset, {
      SHIPPING_CARRIER: "sandbox",
      SHIPPING_SANDBOX_CLIENT_ID: `m-${crypto.randomUUID()}`,
      SHIPPING_SANDBOX_MODE: "rate_limit",
      SHIPPING_RETRY_BASE_MS: "0",
    });
    const p = await makeProduct({ stock: 5, physical: true });
    expect((await quote({ address: US_ADDRESS, items: [{ sku: p.sku, qty: 1 }] }, b)).status).toBe(200);
    expect(cap.events().filter((e) => e.event === "shipping_fallback")).toEqual([
      expect.objectContaining({ detail: "sandbox", detail2: "carrier_failed", count: 1, source: "http", index: "shipping_fallback" }),
    ]);
  });
});
