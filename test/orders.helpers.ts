import { api, jsonInit, sql, type TestUser, uniqueSuffix } from "./helpers.ts";

/**
 * A product for order tests. Digital (`requires_shipping = false`) unless `physical`: an order of digital
 * products takes no address, so the suites that test stock, caps and states need no shipping rate; a
 * physical product (the database's default) needs one at checkout (test/shipping.helpers.ts).
 */
export async function makeProduct(opts: {
  stock: number;
  price?: number;
  currency?: string;
  physical?: boolean;
  weightGrams?: number | null;
}): Promise<{ id: string; sku: string }> {
  const sku = `ORD-${uniqueSuffix().toUpperCase()}`;
  const [row] = await sql<{ id: string }>(
    `INSERT INTO products (sku, name, slug, price_cents, currency, stock, requires_shipping, weight_grams)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      sku,
      `Order Thing ${sku}`,
      sku.toLowerCase(),
      opts.price ?? 1000,
      opts.currency ?? "USD",
      opts.stock,
      opts.physical ?? false,
      opts.weightGrams ?? null,
    ],
  );
  return { id: row?.id as string, sku };
}

export function placeOrder(user: TestUser, body: unknown, key: string | null = `k-${crypto.randomUUID()}`): Promise<Response> {
  return api("/api/v1/orders", jsonInit("POST", body, { ...user.auth, ...(key ? { "Idempotency-Key": key } : {}) }));
}

export function setStatus(user: TestUser, id: string, status: string, version: number): Promise<Response> {
  return api(`/api/v1/orders/${id}/status`, jsonInit("PATCH", { status, version }, user.auth));
}

export async function stockOf(sku: string): Promise<number> {
  return (await sql<{ stock: number }>("SELECT stock FROM products WHERE sku = $1", [sku]))[0]?.stock as number;
}

export async function countRows(): Promise<Record<string, number>> {
  const [r] = await sql<Record<string, number>>(
    `SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_items)::int AS items,
            (SELECT count(*) FROM order_status_history)::int AS history, (SELECT count(*) FROM outbox)::int AS outbox`,
  );
  return r as Record<string, number>;
}
