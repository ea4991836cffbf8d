/**
 * Issue 11, item 7: database down or saturated → never a 500. Unreachable Postgres is a 503
 * `database_unavailable` with Retry-After on every route that needs it; contended checkouts wait
 * on row locks for at most DB_LOCK_TIMEOUT_MS and answer a retryable 409 `concurrency_conflict`
 * (Retry-After); stock stays exact; Idempotency-Keys are not used up by either.
 */
import { env } from "cloudflare:workers";
import { createRoute, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { dbFailure } from "../src/lib/pg-errors.ts";
import { apiSettled, createUser, expectProblem, jsonInit, type TestUser, uniqueSuffix } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";

const DEAD_PG = "postgres://postgres:postgres@127.0.0.1:1/x";
const dead = (extra: Record<string, unknown> = {}) =>
  ({
    ...env,
    HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, connectionString: DEAD_PG, host: "127.0.0.1", port: 1, database: "x" },
    // Short connect timeout so a black-holed address would not hang the test either.
    DB_QUERY_TIMEOUT_MS: "3000",
    ...extra,
  }) as unknown as Env;

const admin = await createUser("ADMIN");
const user = await createUser("USER");

async function expectUnavailable(res: Response) {
  const p = await expectProblem(res, 503, "database_unavailable");
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(JSON.stringify(p)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|postgres:/);
  return p;
}

describe("Postgres unreachable → 503 database_unavailable + Retry-After (was 500 internal_error)", () => {
  it("a public read (cache miss)", async () => {
    await expectUnavailable(await apiSettled(`/api/v1/products?limit=3&min_price=${Math.floor(Math.random() * 1e6)}`, undefined, dead()));
    await expectUnavailable(await apiSettled(`/api/v1/search?q=dbdown${uniqueSuffix()}`, undefined, dead()));
  });

  it("login", async () => {
    const res = await apiSettled("/api/v1/auth/login", jsonInit("POST", { email: user.email, password: user.password }), dead());
    await expectUnavailable(res);
  });

  it("order creation, and the Idempotency-Key is not used up", async () => {
    const p = await makeProduct({ stock: 5 });
    const key = `dbdown-${uniqueSuffix()}`;
    const init = () => jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...user.auth, "Idempotency-Key": key });
    await expectUnavailable(await apiSettled("/api/v1/orders", init(), dead()));
    // Same key once the database is back: the order is placed (the 503 was not stored).
    const ok = await apiSettled("/api/v1/orders", init());
    expect(ok.status).toBe(201);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
    expect(await stockOf(p.sku)).toBe(4);
  });

  it("reads that need an account: my orders, one order", async () => {
    await expectUnavailable(await apiSettled("/api/v1/orders", { headers: user.auth }, dead()));
    await expectUnavailable(await apiSettled(`/api/v1/orders/${crypto.randomUUID()}`, { headers: user.auth }, dead()));
  });

  it("an admin write", async () => {
    const sku = `DBDOWN-${uniqueSuffix().toUpperCase()}`;
    const body = { sku, name: "Down", price_cents: 1, currency: "USD" };
    await expectUnavailable(await apiSettled("/api/v1/admin/products", jsonInit("POST", body, admin.auth), dead()));
  });

  // Stale-if-error off: nothing can be served, so the location is down (degraded: test/stale-if-error.test.ts).
  it("readiness still says which check failed", async () => {
    const res = await apiSettled("/health/ready", undefined, dead({ HEALTH_DB_TIMEOUT_MS: "1000", CATALOG_STALE_IF_ERROR_SEC: "0" }));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
  });
});

describe("contended checkout: bounded lock waits, retryable 409, exact stock", () => {
  it("parallel orders on one SKU with a 1 ms lock timeout: no 500, 409s carry Retry-After, stock = initial − sold", async () => {
    const initial = 500;
    const p = await makeProduct({ stock: initial });
    const buyers: TestUser[] = await Promise.all(Array.from({ length: 12 }, () => createUser("USER")));
    const b = {
      ...env,
      DB_LOCK_TIMEOUT_MS: "1",
      RATE_LIMIT_OVERRIDES: `${env.RATE_LIMIT_OVERRIDES},order-create=off`,
    } as Env;
    const attempts = Array.from({ length: 36 }, (_, i) => ({
      buyer: buyers[i % buyers.length] as TestUser,
      qty: 1 + (i % 3),
      key: `contend-${i}-${uniqueSuffix()}`,
    }));
    const send = (a: (typeof attempts)[number], bindings: Env) =>
      apiSettled(
        "/api/v1/orders",
        jsonInit("POST", { items: [{ sku: p.sku, qty: a.qty }] }, { ...a.buyer.auth, "Idempotency-Key": a.key }),
        bindings,
      );
    const results = await Promise.all(attempts.map(async (a) => ({ a, res: await send(a, b) })));

    let sold = 0;
    const conflicts: typeof attempts = [];
    for (const { a, res } of results) {
      if (res.status === 201) {
        sold += a.qty;
        await res.body?.cancel();
        continue;
      }
      expect(res.status === 409 || res.status === 429 || res.status === 503, `status ${res.status}`).toBe(true);
      const problem = await expectProblem(res, res.status);
      if (res.status === 503 || problem.code === "concurrency_conflict") {
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      if (problem.code === "concurrency_conflict") conflicts.push(a);
    }
    expect(await stockOf(p.sku)).toBe(initial - sold);
    // The embedded Postgres (PGlite) runs every client on one backend, one statement at a time:
    // nobody ever waits for a row lock there, so only a real server shows the 409s.
    if (env.TEST_DATABASE_KIND !== "postgres") return;
    // With a 1 ms lock timeout some of 36 concurrent checkouts lose the race for the row lock.
    expect(conflicts.length).toBeGreaterThan(0);

    // A 409 concurrency_conflict did not use up its Idempotency-Key: the same key runs again.
    const retried = conflicts[0] as (typeof attempts)[number];
    const again = await send(retried, { ...env, RATE_LIMIT_OVERRIDES: `${env.RATE_LIMIT_OVERRIDES},order-create=off` } as Env);
    expect(again.status, await again.clone().text()).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(await stockOf(p.sku)).toBe(initial - sold - retried.qty);
  });

  it("DB_LOCK_TIMEOUT_MS must be below DB_QUERY_TIMEOUT_MS", async () => {
    const res = await apiSettled("/health/live", undefined, { ...env, DB_LOCK_TIMEOUT_MS: "6000", DB_QUERY_TIMEOUT_MS: "5000" } as Env);
    const p = await expectProblem(res, 503, "service_unavailable");
    expect(p.invalid_settings).toContain("DB_LOCK_TIMEOUT_MS");
  });
});

describe("every database failure has its answer (classifier and renderError)", () => {
  const pgErr = (code: string, message = "x") => Object.assign(new Error(message), { code });
  const wrapped = (cause: unknown) => Object.assign(new Error("Failed query: select 1"), { cause });

  it.each([
    ["53300 too many clients", pgErr("53300"), "unavailable"],
    ["57P01 admin shutdown", pgErr("57P01"), "unavailable"],
    ["57P02 crash shutdown", pgErr("57P02"), "unavailable"],
    ["57P03 cannot connect now", pgErr("57P03"), "unavailable"],
    ["08006 connection failure", pgErr("08006"), "unavailable"],
    ["08001 cannot establish", pgErr("08001"), "unavailable"],
    ["57014 statement timeout", pgErr("57014"), "unavailable"],
    ["ECONNREFUSED", pgErr("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"), "unavailable"],
    ["connect timeout", new Error("Connection terminated due to connection timeout"), "unavailable"],
    ["query timeout", new Error("Query read timeout"), "unavailable"],
    ["connection lost", new Error("Connection terminated unexpectedly"), "unavailable"],
    ["wrapped by drizzle", wrapped(pgErr("53300")), "unavailable"],
    ["55P03 lock timeout", wrapped(pgErr("55P03")), "contention"],
    ["40P01 deadlock", pgErr("40P01"), "contention"],
    ["40001 serialization", pgErr("40001"), "contention"],
    ["22008 out of range", wrapped(pgErr("22008")), "input"],
    ["a bug", new TypeError("x is undefined"), null],
    ["23505 unique (handled by services)", pgErr("23505"), null],
  ])("%s → %s", (_n, err, kind) => {
    expect(dbFailure(err)?.kind ?? null).toBe(kind);
  });

  const app = createApp();
  app.openapi(
    createRoute({ method: "get", path: "/__probe/db/{code}", request: { params: z.object({ code: z.string() }) }, responses: {} }),
    (c) => {
      throw wrapped(pgErr(c.req.valid("param").code));
    },
  );
  it.each([
    ["53300", 503, "database_unavailable"],
    ["57P01", 503, "database_unavailable"],
    ["57P03", 503, "database_unavailable"],
    ["08006", 503, "database_unavailable"],
    ["55P03", 409, "concurrency_conflict"],
    ["40P01", 409, "concurrency_conflict"],
    ["40001", 409, "concurrency_conflict"],
  ])("SQLSTATE %s → %i %s with Retry-After", async (code, status, problem) => {
    const res = await app.request(`/__probe/db/${code}`, {}, env);
    await expectProblem(res, status, problem);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});
