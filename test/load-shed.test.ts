/**
 * Issue 18, item 3: load shedding with priority classes. A per-isolate gate on origin (database) work:
 * anonymous requests may use SHED_ANON_PCT of it, authenticated ones SHED_AUTH_PCT, payments, checkout and
 * webhooks all of it, and wait for a slot when it is full. A slow database (p95 over SHED_SLOW_P95_MS here,
 * or the shared signal kept by a Durable Object) shrinks it to SHED_SLOW_PCT.
 * The gate is module state, shared by the worker and this file (one isolate): tests fill it with `admit()`
 * and then send real requests through the worker.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import {
  admit,
  checkSlow,
  classify,
  databaseSlow,
  type GateSettings,
  gateStats,
  resetGate,
  ShedError,
  SIGNAL_OBJECT,
  SLOW_SIGNAL_MS,
  syncSharedSignal,
} from "../src/lib/load-shed.ts";
import { apiSettled, createUser, expectProblem, jsonInit, uniqueSuffix } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";

const S: GateSettings = { max: 10, anonPct: 50, authPct: 80, slowPct: 20, waitMs: 300 };
const GATE = { SHED_MAX_INFLIGHT: "10", SHED_ANON_PCT: "50", SHED_AUTH_PCT: "80", SHED_SLOW_PCT: "20", SHED_CRITICAL_WAIT_MS: "300" };
const b = (vars: Record<string, string> = {}) => ({ ...env, ...GATE, ...vars }) as Env;
const user = await createUser("USER");

afterEach(() => resetGate());

async function fill(cls: "anon" | "auth" | "critical", n: number) {
  const releases: (() => number)[] = [];
  for (let i = 0; i < n; i++) releases.push(await admit(cls, S));
  return () => {
    for (const r of releases) r();
  };
}

describe("the gate: classes and limits", () => {
  it("classifies payments, checkout and webhooks as critical, then authenticated, then anonymous", () => {
    expect(classify("POST", "/api/v1/webhooks/payments/stripe", undefined)).toBe("critical");
    expect(classify("POST", "/api/v1/payments", "Bearer x")).toBe("critical");
    expect(classify("POST", "/api/v1/orders", "Bearer x")).toBe("critical");
    expect(classify("POST", "/api/v1/shipping/rates", undefined)).toBe("critical");
    expect(classify("GET", "/api/v1/orders", "Bearer x")).toBe("auth");
    expect(classify("GET", "/api/v1/products", undefined)).toBe("anon");
    expect(classify("POST", "/api/v1/auth/login", undefined)).toBe("anon");
  });

  it("anonymous work is refused first (at 50 %), authenticated next (80 %), critical last (100 %)", async () => {
    await fill("anon", 5);
    await expect(admit("anon", S)).rejects.toBeInstanceOf(ShedError);
    await fill("auth", 3);
    await expect(admit("auth", S)).rejects.toBeInstanceOf(ShedError);
    await fill("critical", 2);
    expect(gateStats().inflight).toBe(10);
  });

  it("when full, a critical request waits for the next released slot, ahead of everyone; or is refused after SHED_CRITICAL_WAIT_MS", async () => {
    const release = await fill("critical", 10);
    const started = Date.now();
    await expect(admit("critical", S)).rejects.toBeInstanceOf(ShedError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const waiting = admit("critical", S);
    expect(gateStats().waiting).toBe(1);
    setTimeout(release, 50);
    const got = await waiting;
    expect(typeof got).toBe("function");
    // The released slot went to the waiter; nine others were freed.
    expect(gateStats()).toMatchObject({ inflight: 1, waiting: 0 });
  });

  it("a slow database (p95 over the threshold) shrinks every class to SHED_SLOW_PCT", async () => {
    for (let i = 0; i < 30; i++) {
      const r = await admit("anon", S);
      await new Promise((res) => setTimeout(res, i % 10 === 0 ? 60 : 0));
      r();
    }
    expect(checkSlow(10_000, 10_000)).toBe(false);
    expect(databaseSlow()).toBe(false);
    expect(checkSlow(20, 10_000)).toBe(true);
    expect(databaseSlow()).toBe(true);
    // max 10 × 20 % = 2 critical slots; anonymous 1.
    await fill("anon", 1);
    await expect(admit("anon", S)).rejects.toBeInstanceOf(ShedError);
    await fill("critical", 1);
    await expect(admit("critical", { ...S, waitMs: 0 })).rejects.toBeInstanceOf(ShedError);
  });

  it("the slow signal is shared through a Durable Object: another isolate (state reset) syncs it and tightens", async () => {
    const name = `shed-test-${uniqueSuffix()}`;
    const calls: number[] = [];
    const store = () => {
      const stub = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(name));
      return {
        slowSignal: (raise: number) => {
          calls.push(raise);
          return stub.slowSignal(raise);
        },
      };
    };
    // Isolate A: its p95 goes over the threshold, so the next sync raises the signal.
    for (let i = 0; i < 30; i++) {
      const r = await admit("anon", S);
      await new Promise((res) => setTimeout(res, i % 10 === 0 ? 40 : 0));
      r();
    }
    expect(checkSlow(20, SLOW_SIGNAL_MS)).toBe(true);
    await syncSharedSignal(store, 1000);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThan(Date.now());
    // Within the interval and with nothing new to raise, no call.
    expect(syncSharedSignal(store, 1000)).toBeUndefined();
    resetGate(); // as isolate B: nothing local
    expect(databaseSlow()).toBe(false);
    await syncSharedSignal(store, 1000);
    expect(calls.at(-1)).toBe(0); // B only reads
    expect(databaseSlow()).toBe(true);
    await fill("anon", 1);
    await expect(admit("anon", S)).rejects.toBeInstanceOf(ShedError);
    // Another database's object knows nothing of it.
    resetGate();
    const other = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(`shed-other-${uniqueSuffix()}`));
    await syncSharedSignal(() => other, 1000);
    expect(databaseSlow()).toBe(false);
  });

  it("a signal object that throws leaves the gate on its own p95, and is not called again within the interval", async () => {
    let n = 0;
    const broken = () => ({
      slowSignal: () => {
        n++;
        return Promise.reject(new Error("down"));
      },
    });
    await syncSharedSignal(broken, 60_000);
    expect(databaseSlow()).toBe(false);
    expect(syncSharedSignal(broken, 60_000)).toBeUndefined();
    expect(n).toBe(1);
  });
});

describe("through the worker", () => {
  it("with anonymous slots used up: an anonymous catalogue miss is 503 overloaded + Retry-After; a signed-in read and a checkout still pass", async () => {
    await fill("anon", 5);
    const miss = await apiSettled(`/api/v1/products?limit=2&min_price=${Math.floor(Math.random() * 1e6)}`, undefined, b());
    await expectProblem(miss, 503, "overloaded");
    expect(Number(miss.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await apiSettled("/api/v1/orders", { headers: user.auth }, b())).status).toBe(200);
    const p = await makeProduct({ stock: 3 });
    const order = await apiSettled(
      "/api/v1/orders",
      jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": `shed-${uniqueSuffix()}` }),
      b(),
    );
    expect(order.status).toBe(201);
    // Nothing leaked: only the five slots of the test are held.
    expect(gateStats().inflight).toBe(5);
  });

  it("a shed catalogue read with a cached copy is served stale instead", async () => {
    const short = { CATALOG_CACHE_TTL_SEC: "1", CATALOG_CACHE_SWR_SEC: "0" };
    const path = `/api/v1/products?limit=2&min_price=${Math.floor(Math.random() * 1e6)}`;
    expect((await apiSettled(path, undefined, b(short))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    await fill("anon", 5);
    const res = await apiSettled(path, undefined, b(short));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
  });

  it("with the gate full, a checkout waits for a slot and succeeds when one frees; cache hits and /health are never gated", async () => {
    const path = `/api/v1/products?limit=3&min_price=${Math.floor(Math.random() * 1e6)}`;
    expect((await apiSettled(path, undefined, b())).headers.get("x-cache")).toBe("MISS");
    const release = await fill("critical", 10);
    expect((await apiSettled(path, undefined, b())).headers.get("x-cache")).toBe("HIT");
    expect((await apiSettled("/health/ready", undefined, b())).status).toBe(200);
    const p = await makeProduct({ stock: 3 });
    const send = () =>
      apiSettled(
        "/api/v1/orders",
        jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": `shedw-${uniqueSuffix()}` }),
        b({ SHED_CRITICAL_WAIT_MS: "3000" }),
      );
    setTimeout(release, 100);
    expect((await send()).status).toBe(201);
  });

  it("with the gate full and nothing freed, a checkout is 503 overloaded after the wait; SHED_MAX_INFLIGHT=0 switches the gate off", async () => {
    await fill("critical", 10);
    const p = await makeProduct({ stock: 3 });
    const send = (vars: Record<string, string> = {}) =>
      apiSettled(
        "/api/v1/orders",
        jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": `shedx-${uniqueSuffix()}` }),
        b(vars),
      );
    const res = await send();
    await expectProblem(res, 503, "overloaded");
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await send({ SHED_MAX_INFLIGHT: "0" })).status).toBe(201);
  });
  it("the worker syncs the shared signal in the background: once another isolate raised it, anonymous work is shed at SHED_SLOW_PCT", async () => {
    // Last in the file: the real object's signal lasts 1.5 s and then lapses.
    const until = Date.now() + 1500;
    await env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(SIGNAL_OBJECT)).slowSignal(until);
    const miss = () => apiSettled(`/api/v1/products?limit=2&min_price=${Math.floor(Math.random() * 1e6)}`, undefined, b());
    await fill("anon", 1);
    // Not slow yet in this isolate: 1 of 5 anonymous slots used, the miss passes and syncs on its way.
    expect((await miss()).status).toBe(200);
    expect(databaseSlow()).toBe(true);
    // 10 × 20 % = 2, anonymous 50 % of that = 1 slot: the held one.
    await expectProblem(await miss(), 503, "overloaded");
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 50));
    expect(databaseSlow()).toBe(false);
    expect((await miss()).status).toBe(200);
  });
});
