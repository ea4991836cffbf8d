/**
 * The isolate-memory tier (L1) of the public catalogue cache, in front of the Cache API (L2).
 * Module scope: one per isolate, shared by every request (and every env object) it serves.
 * Bounded by bytes (least recently used evicted first) and by a short residency TTL; the limits are
 * passed in at call time from the request's config, so no setting is captured here.
 * Keys are the L2 keys (generation + canonical request), so a generation bump makes every entry
 * unreachable at once; `clearIsolateCache()` also frees them.
 */
export interface L1Entry {
  /** The stored body; never handed out to be consumed (a Response copies it). */
  readonly body: ArrayBuffer;
  /** The kept headers (content-type, etag, cache-tag…), as stored in L2; never mutated. */
  readonly headers: [string, string][];
  /** When the origin produced it (ms): Age and freshness against CATALOG_CACHE_TTL_SEC. */
  readonly storedAt: number;
  /** When it entered this tier (ms): residency against CATALOG_L1_TTL_SEC. */
  readonly insertedAt: number;
  readonly size: number;
}

/** Bookkeeping per entry beyond body, headers and key (Map slot, objects, numbers): a rough constant. */
const OVERHEAD = 128;
/** Insertion order is recency order: a hit moves its entry to the end, eviction takes from the front. */
const entries = new Map<string, L1Entry>();
let total = 0;

function drop(key: string, e: L1Entry): void {
  entries.delete(key);
  total -= e.size;
}

/**
 * The entry if it entered this tier at most `ttlMs` ago. Marks it most recently used. An older entry is
 * not served but kept (until evicted or replaced): it is the last good copy stale-if-error may serve.
 */
export function l1Get(key: string, ttlMs: number, now: number): L1Entry | undefined {
  const e = entries.get(key);
  if (!e) return undefined;
  if (now - e.insertedAt > ttlMs) return undefined;
  entries.delete(key);
  entries.set(key, e);
  return e;
}

/** The entry however long it has been in this tier (stale-if-error: the origin failed); not marked used. */
export function l1Peek(key: string): L1Entry | undefined {
  return entries.get(key);
}

/** Forgets one entry. */
export function l1Delete(key: string): void {
  const e = entries.get(key);
  if (e) drop(key, e);
}

/** Stores an entry, then evicts least recently used entries until the tier fits in `maxBytes`. */
export function l1Put(key: string, body: ArrayBuffer, headers: [string, string][], storedAt: number, maxBytes: number, now: number): void {
  let size = OVERHEAD + key.length * 2 + body.byteLength;
  for (const [name, value] of headers) size += (name.length + value.length) * 2;
  const old = entries.get(key);
  if (old) drop(key, old);
  if (size > maxBytes) return;
  entries.set(key, { body, headers, storedAt, insertedAt: now, size });
  total += size;
  for (const [k, e] of entries) {
    if (total <= maxBytes) break;
    drop(k, e);
  }
}

/** Empties the tier (a catalogue write in this isolate; tests). */
export function clearIsolateCache(): void {
  entries.clear();
  total = 0;
}

/** Entries and bytes held (tests, debugging). */
export function isolateCacheStats(): { entries: number; bytes: number } {
  return { entries: entries.size, bytes: total };
}
