/** SQL of shipping: the products' shipping profiles (quotes, admin). Checkout's shipping is written by place_order (0009). */
import { type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type ShippingProfileRow = {
  id: string;
  sku: string;
  currency: string;
  status: "active" | "archived";
  requires_shipping: boolean;
  weight_grams: number | null;
  length_mm: number | null;
  width_mm: number | null;
  height_mm: number | null;
};

const PROFILE = sql`SELECT id, sku, currency, status::text AS status, requires_shipping, weight_grams, length_mm, width_mm, height_mm FROM products`;

/** The products of `skus` (archived included: the caller decides), in one query. */
export async function shippingProfiles(db: Drizzle, skus: string[]): Promise<ShippingProfileRow[]> {
  const res = await db.execute<ShippingProfileRow>(sql`${PROFILE} WHERE sku = ANY(${sql.param(skus)}::text[])`);
  return res.rows;
}

export async function shippingProfile(db: Drizzle, productId: string): Promise<ShippingProfileRow | null> {
  const res = await db.execute<ShippingProfileRow>(sql`${PROFILE} WHERE id = ${productId}`);
  return res.rows[0] ?? null;
}

export interface ShippingProfilePatch {
  requiresShipping?: boolean;
  weightGrams?: number | null;
  dimensions?: { length: number; width: number; height: number } | null;
}

/** Changes the given parts of a product's shipping profile; null when there is no such product. */
export async function updateShippingProfile(db: Drizzle, productId: string, p: ShippingProfilePatch): Promise<ShippingProfileRow | null> {
  // Not `updated_at`: the public product (edge-cached) does not show the shipping profile, so it did not change.
  const sets: SQL[] = [];
  if (p.requiresShipping !== undefined) sets.push(sql`requires_shipping = ${p.requiresShipping}`);
  if (p.weightGrams !== undefined) sets.push(sql`weight_grams = ${p.weightGrams}`);
  if (p.dimensions !== undefined) {
    const d = p.dimensions;
    sets.push(sql`length_mm = ${d?.length ?? null}, width_mm = ${d?.width ?? null}, height_mm = ${d?.height ?? null}`);
  }
  if (!sets.length) return shippingProfile(db, productId);
  const res = await db.execute<ShippingProfileRow>(sql`
    UPDATE products SET ${sql.join(sets, sql`, `)} WHERE id = ${productId}
    RETURNING id, sku, currency, status::text AS status, requires_shipping, weight_grams, length_mm, width_mm, height_mm`);
  return res.rows[0] ?? null;
}
