/**
 * Identical quotes within SHIPPING_QUOTE_CACHE_SEC are answered from the Cache API (per location), so a
 * storefront re-rendering its cart does not call the carrier each time. The key is a hash of the carrier,
 * the origin, the normalised destination and the items (src/shipping/address.ts); the entry holds the rates
 * only, never the address (whose recipient name and phone are not part of the key: another customer
 * shipping to the same door gets the same rates, and their own address back).
 */
import type { ShippingRate } from "../schemas/shipping.ts";

const BASE = "/__shipping-quotes/v1";

export interface CachedQuote {
  currency: string;
  rates: ShippingRate[];
}

export function quoteKey(origin: string, carrier: string, hash: string): string {
  return `${origin}${BASE}/${carrier}/${hash}`;
}

export async function cachedQuote(key: string): Promise<CachedQuote | null> {
  const hit = await caches.default.match(key);
  return hit ? ((await hit.json()) as CachedQuote) : null;
}

export function storeQuote(key: string, quote: CachedQuote, ttlSec: number): Promise<void> {
  return caches.default.put(
    key,
    new Response(JSON.stringify(quote), { headers: { "content-type": "application/json", "cache-control": `public, max-age=${ttlSec}` } }),
  );
}
