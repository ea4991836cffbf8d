/**
 * The gap the chaos suite found (docs/reliability.md): a checkout commits, the connection drops before the
 * answer, the request ends in a 503 and the Idempotency-Key guard releases the key. The client retries with
 * the same key and no client_token. The database must recognise it (the key doubles as the order's
 * client_token) and answer with the order already placed, not place a second one.
 */
import { describe, expect, it } from "vitest";
import type { OrderDto } from "../src/services/orders.service.ts";
import { createUser, forgetIdempotencyKey, sql } from "./helpers.ts";
import { makeProduct, placeOrder, stockOf } from "./orders.helpers.ts";

describe("a retry after an unacknowledged commit", () => {
  it("with the same Idempotency-Key and no client_token returns the placed order (200), never a second one", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5 });
    const key = `ambiguous-${crypto.randomUUID()}`;
    const first = await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, key);
    expect(first.status).toBe(201);
    const placed = (await first.json()) as OrderDto;

    await forgetIdempotencyKey(u.id, key);
    const retry = await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, key);
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as OrderDto).id).toBe(placed.id);
    const [n] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE user_id = $1", [u.id]);
    expect(n?.n).toBe(1);
    expect(await stockOf(p.sku)).toBe(4);
  });

  it("another key is another order; a client_token of the client's own still wins", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5 });
    expect((await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, `a-${crypto.randomUUID()}`)).status).toBe(201);
    expect((await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, `b-${crypto.randomUUID()}`)).status).toBe(201);
    const token = `mine-${crypto.randomUUID()}`;
    const k1 = `c-${crypto.randomUUID()}`;
    const mine = await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }], client_token: token }, k1);
    expect(mine.status).toBe(201);
    const dto = (await mine.json()) as OrderDto;
    expect(dto.client_token).toBe(token);
    // Same client_token under a new key: the client's token decides, as before.
    const again = await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }], client_token: token }, `d-${crypto.randomUUID()}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as OrderDto).id).toBe(dto.id);
    expect(await stockOf(p.sku)).toBe(2);
  });
});
