/**
 * A short edge cache for private, per-principal reads (an order). The key holds the
 * resource id, a per-resource generation and the principal, so a HIT was authorised
 * when it was stored and a change (generation bump) makes the next read miss.
 * Responses to the client say `private`: no shared cache downstream may keep them.
 */
const BASE = "/__edge-cache/v1/private";

function genKey(origin: string, resource: string): string {
  return `${origin}${BASE}/${resource}/generation`;
}

/** A missing generation (first read, or evicted) becomes a new one, never an old value. */
export async function resourceGeneration(origin: string, resource: string): Promise<string> {
  const hit = await caches.default.match(genKey(origin, resource));
  return hit ? hit.text() : bumpResourceGeneration(origin, resource);
}

export async function bumpResourceGeneration(origin: string, resource: string): Promise<string> {
  const gen = `${Date.now().toString(36)}${crypto.randomUUID().slice(0, 8)}`;
  await caches.default.put(genKey(origin, resource), new Response(gen, { headers: { "cache-control": "public, max-age=86400" } }));
  return gen;
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
