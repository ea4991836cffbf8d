/**
 * Generation numbers kept in the Cache API (per location). A generation is part of the
 * cache keys of whatever it covers; bumping it makes the next read there a MISS.
 * A missing generation (first use, or evicted) becomes a new one, never an old value,
 * so an eviction can never resurrect entries stored under an earlier generation.
 */
function key(origin: string, scope: string): string {
  return `${origin}/__edge-cache/generation/${scope}`;
}

export async function currentGeneration(origin: string, scope: string, ttlSec: number): Promise<string> {
  const hit = await caches.default.match(key(origin, scope));
  return hit ? hit.text() : bumpGeneration(origin, scope, ttlSec);
}

/** Whether this location holds a generation for `scope` (read-only: never creates one). */
export async function hasGeneration(origin: string, scope: string): Promise<boolean> {
  const hit = await caches.default.match(key(origin, scope));
  await hit?.body?.cancel();
  return hit !== undefined;
}

export async function bumpGeneration(origin: string, scope: string, ttlSec: number): Promise<string> {
  const gen = `${Date.now().toString(36)}${crypto.randomUUID().slice(0, 8)}`;
  await caches.default.put(key(origin, scope), new Response(gen, { headers: { "cache-control": `public, max-age=${ttlSec}` } }));
  return gen;
}
