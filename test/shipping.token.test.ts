/**
 * Issue 19, item 4: the carrier token cache with single flight (durable-objects/carrier-token.ts), counted
 * at the sandbox carrier's token endpoint: concurrent quotes with an expired token fetch ONE token; a 401
 * mid-life refreshes once; the token is kept for expires_in − 60 s; waiters wait with a timeout; a failed
 * refresh is shared by its waiters and retried; the object never holds the credentials.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { CarrierToken, TokenGrant } from "../durable-objects/carrier-token.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/lib/logger.ts";
import { carrierFromConfig, rateShipment, type ShippingDeps } from "../src/services/shipping.service.ts";
import { normaliseAddress } from "../src/shipping/address.ts";
import type { Carrier, Shipment } from "../src/shipping/carrier.ts";
import { tokenCacheName } from "../src/shipping/token-cache.ts";
import { makeProduct } from "./orders.helpers.ts";
import { quote, sandbox, sandboxEnv, US_ADDRESS } from "./shipping.helpers.ts";

beforeEach(() => sandbox.reset());

function deps(bindings: Env): ShippingDeps {
  return { env: bindings, cfg: loadConfig(bindings), log: createLogger("error"), origin: "https://toko.test" };
}

const shipment: Shipment = {
  origin: { country: "US", postalCode: null },
  destination: normaliseAddress(US_ADDRESS),
  parcel: { weightGrams: 1000, dimensionsMm: null, units: 1 },
  currency: "USD",
};

async function tokenObject(carrier: Carrier): Promise<DurableObjectStub<CarrierToken>> {
  return env.CARRIER_TOKEN.get(env.CARRIER_TOKEN.idFromName(await tokenCacheName(carrier)));
}

/** Polls the cache object until its token is past expires_in − 60 s. */
async function untilExpired(stub: DurableObjectStub<CarrierToken>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (!(await stub.status()).cached) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the token never expired");
}

describe("single flight", () => {
  it("200 concurrent quotes with an expired token: exactly 1 token fetch, 200 rates calls, all with the carrier's rates", async () => {
    // expires_in 65 s: kept for 5 s (65 − 60), so the token expires soon while the carrier still accepts it, and
    // the fresh one outlives the burst even on a busy machine (with 1 s, a slow burst outlived it: 2 fetches).
    const b = sandboxEnv({ SHIPPING_SANDBOX_TOKEN_TTL_SEC: "65" });
    const d = deps(b);
    const carrier = carrierFromConfig(d.cfg);
    await rateShipment(d, carrier, shipment);
    expect(sandbox.tokenRequests).toBe(1);
    const stub = await tokenObject(carrier);
    await untilExpired(stub);
    sandbox.reset();
    const results = await Promise.all(Array.from({ length: 200 }, () => rateShipment(d, carrier, shipment)));
    expect(sandbox.tokenRequests).toBe(1);
    expect(sandbox.rateRequests).toBe(200);
    expect(results.every((r) => !r.estimated && r.rates.length === 3)).toBe(true);
    expect(await stub.status()).toMatchObject({ cached: true, generation: 2, refreshing: false, waiting: 0 });
  });

  it("through the route: 40 concurrent quotes to 40 addresses after the token expired → 1 token fetch", async () => {
    const b = sandboxEnv({ SHIPPING_SANDBOX_TOKEN_TTL_SEC: "65" });
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    expect((await quote({ address: US_ADDRESS, items }, b)).status).toBe(200);
    await untilExpired(await tokenObject(carrierFromConfig(loadConfig(b))));
    sandbox.reset();
    const addresses = Array.from({ length: 40 }, (_, i) => ({ ...US_ADDRESS, line1: `${i + 2} Market St` }));
    const statuses = await Promise.all(addresses.map(async (address) => (await quote({ address, items }, b)).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(sandbox.tokenRequests).toBe(1);
    expect(sandbox.rateRequests).toBe(40);
  });

  it("a cached token is used until expires_in − 60 s: no fetch per quote", async () => {
    const d = deps(sandboxEnv({ SHIPPING_SANDBOX_TOKEN_TTL_SEC: "3600" }));
    const carrier = carrierFromConfig(d.cfg);
    const before = Date.now();
    for (let i = 0; i < 5; i++) await rateShipment(d, carrier, shipment);
    expect(sandbox.tokenRequests).toBe(1);
    const { expiresAt } = await (await tokenObject(carrier)).status();
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_540_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_540_000);
  });

  it("a token living 60 s or less is not kept, but the requests of its refresh share it", async () => {
    const d = deps(sandboxEnv({ SHIPPING_SANDBOX_TOKEN_TTL_SEC: "60" }));
    const carrier = carrierFromConfig(d.cfg);
    await Promise.all(Array.from({ length: 10 }, () => rateShipment(d, carrier, shipment)));
    expect(sandbox.tokenRequests).toBe(1);
    await rateShipment(d, carrier, shipment);
    expect(sandbox.tokenRequests).toBe(2);
    expect((await (await tokenObject(carrier)).status()).cached).toBe(false);
  });
});

describe("a 401 mid-life", () => {
  it("invalidates the token and retries once with a fresh one: 1 more token fetch, 2 rates calls", async () => {
    const d = deps(sandboxEnv());
    const carrier = carrierFromConfig(d.cfg);
    await rateShipment(d, carrier, shipment);
    sandbox.reset();
    sandbox.revokeTokens();
    const r = await rateShipment(d, carrier, shipment);
    expect(r.estimated).toBe(false);
    expect(sandbox.tokenRequests).toBe(1);
    expect(sandbox.rateRequests).toBe(2);
  });

  it("30 concurrent quotes all refused with the same token: still one refresh (invalidation is by generation)", async () => {
    const d = deps(sandboxEnv());
    const carrier = carrierFromConfig(d.cfg);
    await rateShipment(d, carrier, shipment);
    sandbox.reset();
    sandbox.revokeTokens();
    const results = await Promise.all(Array.from({ length: 30 }, () => rateShipment(d, carrier, shipment)));
    expect(results.every((r) => !r.estimated)).toBe(true);
    expect(sandbox.tokenRequests).toBe(1);
    expect(sandbox.rateRequests).toBe(60);
  });

  it("a fresh token refused too is not retried again: the credentials are bad, the quote falls back", async () => {
    const d = deps(sandboxEnv({ SHIPPING_RETRY_BASE_MS: "0" }));
    const carrier = carrierFromConfig(d.cfg);
    await rateShipment(d, carrier, shipment);
    sandbox.reset();
    sandbox.failNext("rates", 2, 401);
    const r = await rateShipment(d, carrier, shipment);
    expect(r.estimated).toBe(true);
    expect(sandbox.rateRequests).toBe(2);
    expect(sandbox.tokenRequests).toBe(1);
  });
});

describe("waiting and failing", () => {
  const stub = () => env.CARRIER_TOKEN.get(env.CARRIER_TOKEN.idFromName(`test:${crypto.randomUUID()}`));
  const ask = (s: DurableObjectStub<CarrierToken>, waitMs = 2000, leaseMs = 5000) => s.token({ waitMs, leaseMs }) as Promise<TokenGrant>;

  it("one lease at a time; waiters get the leaseholder's token; a waiter gives up after waitMs", async () => {
    const s = stub();
    const first = await ask(s);
    expect(first.kind).toBe("lease");
    const waiting = [ask(s), ask(s), ask(s)];
    const impatient = await ask(s, 50);
    expect(impatient).toEqual({ kind: "failed", reason: "wait_timeout" });
    const { generation } = await s.complete((first as { lease: string }).lease, "tok-123", 3600);
    for (const g of await Promise.all(waiting)) expect(g).toEqual({ kind: "token", token: "tok-123", generation });
    expect(await ask(s)).toEqual({ kind: "token", token: "tok-123", generation });
  });

  it("a lease whose holder never comes back expires: its waiters are released and the next caller refreshes", async () => {
    const s = stub();
    expect((await ask(s, 2000, 100)).kind).toBe("lease");
    expect(await ask(s, 2000, 100)).toEqual({ kind: "failed", reason: "lease_expired" });
    expect((await ask(s, 2000, 100)).kind).toBe("lease");
  });

  it("a failed refresh fails its waiters at once (refused credentials say so); an older generation cannot invalidate a newer token", async () => {
    const s = stub();
    const lease = (await ask(s)) as { lease: string };
    const waiter = ask(s);
    await s.abandon(lease.lease, true);
    expect(await waiter).toEqual({ kind: "failed", reason: "refresh_refused" });
    const again = (await ask(s)) as { lease: string };
    const { generation } = await s.complete(again.lease, "tok-new", 3600);
    expect(await s.invalidate(generation - 1)).toBe(false);
    expect((await s.status()).cached).toBe(true);
    expect(await s.invalidate(generation)).toBe(true);
    expect((await s.status()).cached).toBe(false);
  });

  it("a token endpoint failing once: the waiters retry and the next refresh serves everyone; the breaker counts one failure", async () => {
    const d = deps(sandboxEnv({ SHIPPING_RETRY_BASE_MS: "1" }));
    const carrier = carrierFromConfig(d.cfg);
    sandbox.failNext("token", 1);
    const results = await Promise.all(Array.from({ length: 20 }, () => rateShipment(d, carrier, shipment)));
    expect(results.every((r) => !r.estimated)).toBe(true);
    expect(sandbox.tokenRequests).toBe(2);
  });

  it("the object stores the token, its generation and expiry only: never the credentials", async () => {
    const d = deps(sandboxEnv());
    const carrier = carrierFromConfig(d.cfg);
    await rateShipment(d, carrier, shipment);
    const rows = await runInDurableObject(await tokenObject(carrier), (_o, state) =>
      state.storage.sql.exec("SELECT * FROM token").toArray(),
    );
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0] as object).sort()).toEqual(["expires_at", "generation", "id", "value"]);
  });
});
