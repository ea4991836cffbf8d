/**
 * A short edge cache for private, per-principal reads (an order). The key holds the
 * resource id, a per-resource generation and the principal, so a HIT was authorised
 * when it was stored and a change (generation bump) makes the next read miss. Stored
 * entries carry their Cache-Tags, so a zone purge by tag reaches every location.
 * Responses to the client say `private`: no shared cache downstream may keep them.
 */
import { bumpGeneration, currentGeneration } from "./cache-generation.ts";

/** v2: entries carry Cache-Tag and ids are lower case; nothing stored under v1 is ever read. */
const BASE = "/__edge-cache/v2/private";

const DAY = 86_400;

/** The one spelling of an order as a cached resource: uuids are case-insensitive, so `ABC…` and `abc…` are one entry. */
export function orderResource(id: string): string {
  return `orders/${id.toLowerCase()}`;
}

export function resourceGeneration(origin: string, resource: string): Promise<string> {
  return currentGeneration(origin, `private/${resource}`, DAY);
}

export function bumpResourceGeneration(origin: string, resource: string): Promise<string> {
  return bumpGeneration(origin, `private/${resource}`, DAY);
}

export function privateKey(origin: string, resource: string, generation: string, principal: string): string {
  return `${origin}${BASE}/${resource}/${generation}/${encodeURIComponent(principal)}`;
}

export async function getPrivate(key: string): Promise<string | null> {
  const hit = await caches.default.match(key);
  return hit ? hit.text() : null;
}

export function putPrivate(key: string, body: string, ttlSec: number, tags: string[] = []): Promise<void> {
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": `public, max-age=${ttlSec}` };
  if (tags.length) headers["cache-tag"] = tags.join(",");
  return caches.default.put(key, new Response(body, { headers }));
}
