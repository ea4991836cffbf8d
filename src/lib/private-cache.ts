/**
 * A short edge cache for private, per-principal reads (an order). The key holds the
 * resource id, a per-resource generation and the principal, so a HIT was authorised
 * when it was stored and a change (generation bump) makes the next read miss.
 * Responses to the client say `private`: no shared cache downstream may keep them.
 */
import { bumpGeneration, currentGeneration } from "./cache-generation.ts";

const BASE = "/__edge-cache/v1/private";

const DAY = 86_400;

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

export function putPrivate(key: string, body: string, ttlSec: number): Promise<void> {
  return caches.default.put(
    key,
    new Response(body, { headers: { "content-type": "application/json", "cache-control": `public, max-age=${ttlSec}` } }),
  );
}
