/**
 * Admin writes that are not idempotent by themselves, retried after an unacknowledged COMMIT: the write
 * committed, the connection dropped before the answer, the request ended in a 503 and the guard released
 * the Idempotency-Key (docs/reliability.md). The retry with the same key must find what the first did:
 *  - a stock adjustment (a delta) is found in the stock ledger by its key and not applied twice;
 *  - a bulk order batch finds its orders by their `idem:<key>:<index>` client_tokens.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createDatabase, databaseOptions } from "../src/db/client.ts";
import { adjustProductStock } from "../src/services/admin-catalog.service.ts";
import { api, apiSettled, createUser, expectProblem, forgetIdempotencyKey, jsonInit, sql } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";

const admin = await createUser("ADMIN");

const adjust = (productId: string, body: unknown, key?: string) =>
  api(
    `/api/v1/admin/products/${productId}/stock-adjustments`,
    jsonInit("POST", body, { ...admin.auth, ...(key ? { "Idempotency-Key": key } : {}) }),
  );

describe("stock adjustments: the ledger remembers the key", () => {
  it("a retry after the key was released changes nothing and answers the product (Idempotent-Replayed)", async () => {
    const p = await makeProduct({ stock: 10 });
    const key = `adj-${crypto.randomUUID()}`;
    const first = await adjust(p.id, { delta: 5, reason: "restock" }, key);
    expect(first.status).toBe(200);
    expect(await stockOf(p.sku)).toBe(15);
    await forgetIdempotencyKey(admin.id, key);
    const retry = await adjust(p.id, { delta: 5, reason: "restock" }, key);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(((await retry.json()) as { stock: number }).stock).toBe(15);
    expect(await stockOf(p.sku)).toBe(15);
    const ledger = await sql<{ delta: number; stock_after: number; reason: string; actor_id: string }>(
      "SELECT delta, stock_after, reason, actor_id FROM stock_adjustments WHERE product_id = $1",
      [p.id],
    );
    expect(ledger).toEqual([{ delta: 5, stock_after: 15, reason: "restock", actor_id: admin.id }]);
  });

  it("the same key on another product or delta is 422; without a key each adjustment applies", async () => {
    const p = await makeProduct({ stock: 10 });
    const q = await makeProduct({ stock: 10 });
    const key = `adj2-${crypto.randomUUID()}`;
    expect((await adjust(p.id, { delta: -3, reason: "count" }, key)).status).toBe(200);
    await forgetIdempotencyKey(admin.id, key);
    await expectProblem(await adjust(q.id, { delta: -3, reason: "count" }, key), 422, "idempotency_key_reused");
    await forgetIdempotencyKey(admin.id, key);
    await expectProblem(await adjust(p.id, { delta: -4, reason: "count" }, key), 422, "idempotency_key_reused");
    expect(await stockOf(p.sku)).toBe(7);
    expect(await stockOf(q.sku)).toBe(10);
    expect((await adjust(q.id, { delta: 1, reason: "found" })).status).toBe(200);
    expect((await adjust(q.id, { delta: 1, reason: "found" })).status).toBe(200);
    expect(await stockOf(q.sku)).toBe(12);
  });

  it("a refused adjustment (below zero) writes no ledger row and leaves the key free", async () => {
    const p = await makeProduct({ stock: 2 });
    const key = `adj3-${crypto.randomUUID()}`;
    await expectProblem(await adjust(p.id, { delta: -5, reason: "sale" }, key), 409, "conflict");
    expect(await sql("SELECT 1 FROM stock_adjustments WHERE product_id = $1", [p.id])).toHaveLength(0);
    await forgetIdempotencyKey(admin.id, key).catch(() => {});
    expect((await adjust(p.id, { delta: 3, reason: "restock" }, `adj3b-${crypto.randomUUID()}`)).status).toBe(200);
    expect(await stockOf(p.sku)).toBe(5);
  });

  it("concurrent adjustments with one key (the store bypassed) apply once", async () => {
    const p = await makeProduct({ stock: 100 });
    const key = `adj4-${crypto.randomUUID()}`;
    const cfg = loadConfig(env);
    const dbs = Array.from({ length: 6 }, () => createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg)));
    try {
      const results = await Promise.all(
        dbs.map(async (d) => adjustProductStock(await d.orm(), p.id, { delta: -7, actorId: admin.id, idempotencyKey: key })),
      );
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      for (const r of results) expect(r.stock).toBe(93);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
    expect(await stockOf(p.sku)).toBe(93);
    expect(await sql("SELECT 1 FROM stock_adjustments WHERE product_id = $1", [p.id])).toHaveLength(1);
  });
});

describe("bulk orders: the key becomes each order's client_token", () => {
  it("a retry after the key was released returns the same orders and takes no more stock", async () => {
    const p = await makeProduct({ stock: 20 });
    const buyers = await Promise.all([createUser(), createUser()]);
    const body = { orders: buyers.map((b) => ({ user_id: b.id, items: [{ sku: p.sku, qty: 2 }] })) };
    const key = `bulk-${crypto.randomUUID()}`;
    const send = () => api("/api/v1/orders/bulk", jsonInit("POST", body, { ...admin.auth, "Idempotency-Key": key }));
    const first = await send();
    expect(first.status).toBe(201);
    const ids = ((await first.json()) as { data: { id: string }[] }).data.map((o) => o.id);
    expect(await stockOf(p.sku)).toBe(16);
    await forgetIdempotencyKey(admin.id, key);
    const retry = await send();
    expect(retry.status).toBe(201);
    expect(((await retry.json()) as { data: { id: string }[] }).data.map((o) => o.id)).toEqual(ids);
    expect(await stockOf(p.sku)).toBe(16);
    const n = await sql("SELECT id FROM orders WHERE user_id = ANY($1)", [buyers.map((b) => b.id)]);
    expect(n).toHaveLength(2);
  });
});

describe("stock adjustments under attack and outage", () => {
  const DEAD = { connectionString: "postgres://postgres:postgres@127.0.0.1:1/x", host: "127.0.0.1", port: 1, database: "x" };
  const deadDb = { ...env, HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, ...DEAD } } as unknown as Env;

  it("with the database away: 503 + Retry-After, stock unchanged, no ledger row, and the same key works once it is back", async () => {
    const p = await makeProduct({ stock: 10 });
    const key = `adj-down-${crypto.randomUUID()}`;
    const init = () => jsonInit("POST", { delta: 4, reason: "delivery" }, { ...admin.auth, "Idempotency-Key": key });
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    const down = await apiSettled(`/api/v1/admin/products/${p.id}/stock-adjustments`, init(), deadDb);
    quiet.mockRestore();
    await expectProblem(down, 503);
    expect(Number(down.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await stockOf(p.sku)).toBe(10);
    expect(await sql("SELECT 1 FROM stock_adjustments WHERE product_id = $1", [p.id])).toHaveLength(0);
    const back = await apiSettled(`/api/v1/admin/products/${p.id}/stock-adjustments`, init());
    expect(back.status).toBe(200);
    expect(back.headers.get("idempotent-replayed")).toBeNull();
    expect(await stockOf(p.sku)).toBe(14);
  });

  it("another admin's key is theirs: the same key string from a second admin is a separate adjustment", async () => {
    const p = await makeProduct({ stock: 10 });
    const other = await createUser("ADMIN");
    const key = `shared-${crypto.randomUUID()}`;
    expect((await adjust(p.id, { delta: 1, reason: "a" }, key)).status).toBe(200);
    const theirs = await api(
      `/api/v1/admin/products/${p.id}/stock-adjustments`,
      jsonInit("POST", { delta: 1, reason: "a" }, { ...other.auth, "Idempotency-Key": key }),
    );
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect(await stockOf(p.sku)).toBe(12);
  });

  it("odd ledger queries are 400 problems: a garbage or NUL cursor, a repeated limit, limit 0; a customer cannot adjust", async () => {
    const p = await makeProduct({ stock: 1 });
    const get = (qs: string) => api(`/api/v1/admin/products/${p.id}/stock-adjustments${qs}`, { headers: admin.auth });
    await expectProblem(await get("?cursor=%00"), 400);
    await expectProblem(await get("?cursor=not-a-cursor"), 400);
    await expectProblem(await get("?limit=1&limit=2"), 400);
    await expectProblem(await get("?limit=0"), 400);
    await expectProblem(await api(`/api/v1/admin/products/${p.id}%00/stock-adjustments`, { headers: admin.auth }), 400);
    const user = await createUser();
    await expectProblem(
      await api(`/api/v1/admin/products/${p.id}/stock-adjustments`, jsonInit("POST", { delta: 100, reason: "mine" }, user.auth)),
      403,
    );
    expect(await stockOf(p.sku)).toBe(1);
  });
});
