/**
 * Invalidation of the edge-cached catalogue after a write.
 * 1. Local (synchronous with the write's response): a catalogue generation number is
 *    part of every cache key; bumping it makes the next read in this location a MISS.
 * 2. Global (background): when CLOUDFLARE_ZONE_ID and CLOUDFLARE_API_TOKEN are set, purge
 *    by Cache-Tag through the zone API, retried with jittered backoff; failures are logged.
 * Each isolate memoises the generation it read for CATALOG_GENERATION_MEMO_MS (a hit then needs no
 * Cache API call for it); a write in this isolate replaces the memo at once and empties the isolate tier.
 */
import type { Config } from "../config.ts";
import { backoffDelay } from "../lib/backoff.ts";
import { bumpGeneration, currentGeneration, hasGeneration } from "../lib/cache-generation.ts";
import { clearIsolateCache } from "../lib/isolate-cache.ts";
import type { Logger } from "../lib/logger.ts";
import { sleep } from "../lib/timeout.ts";

const YEAR = 31_536_000;

/** Origins whose generation this isolate remembers (a deployment has a handful; the bound is for odd Host headers). */
const MEMO_ORIGINS = 64;
const memo = new Map<string, { gen: string; at: number }>();
/** Counts this isolate's bumps (twice each: before and after the put): a read that overlapped one is not memoised. */
let bumps = 0;

/** `at`: when the lookup that found `gen` started, so the memo never outlives a write by more than its window. */
function remember(origin: string, gen: string, at: number): void {
  memo.delete(origin);
  memo.set(origin, { gen, at });
  if (memo.size > MEMO_ORIGINS) memo.delete(memo.keys().next().value as string);
}

/** The generation this isolate read (or wrote) at most `memoMs` ago, without any I/O; undefined when there is none. */
export function memoisedCatalogGeneration(origin: string, memoMs: number): string | undefined {
  if (memoMs <= 0) return undefined;
  const m = memo.get(origin);
  return m && Date.now() - m.at < memoMs ? m.gen : undefined;
}

/** The catalogue's generation for this origin (part of every catalogue cache key), memoised for `memoMs`. */
export async function catalogGeneration(origin: string, memoMs = 0): Promise<string> {
  const known = memoisedCatalogGeneration(origin, memoMs);
  if (known !== undefined) return known;
  const seen = bumps;
  const started = Date.now();
  const gen = await currentGeneration(origin, "catalog", YEAR);
  // A bump in this isolate while we waited may have stored a newer generation: never memoise over it.
  if (memoMs > 0 && seen === bumps) remember(origin, gen, started);
  return gen;
}

/**
 * Whether this location can answer catalogue reads from cache while the database is down: this isolate
 * knows the catalogue generation, or the Cache API holds one (a catalogue read was cached here). Never creates one.
 */
export async function catalogCachedHere(origin: string): Promise<boolean> {
  if (memo.has(origin)) return true;
  try {
    return await hasGeneration(origin, "catalog");
  } catch {
    return false;
  }
}

/** A new generation for this origin: the next read in this location misses; in this isolate at once (memo and L1). */
export async function bumpCatalogGeneration(origin: string): Promise<string> {
  bumps++;
  const gen = await bumpGeneration(origin, "catalog", YEAR);
  bumps++;
  remember(origin, gen, Date.now());
  clearIsolateCache();
  return gen;
}

/** Purges tags through the zone API (30 tags per call), 3 attempts each, 5 s timeout per attempt. */
export async function purgeTags(
  cfg: Config,
  log: Logger,
  tags: string[],
  opts: { attempts?: number; baseDelayMs?: number } = {},
): Promise<boolean> {
  if (!cfg.CLOUDFLARE_ZONE_ID || !cfg.CLOUDFLARE_API_TOKEN || tags.length === 0) return false;
  const attempts = opts.attempts ?? 3;
  const base = opts.baseDelayMs ?? 250;
  const unique = [...new Set(tags)];
  let allOk = true;
  for (let i = 0; i < unique.length; i += 30) {
    const chunk = unique.slice(i, i + 30);
    let ok = false;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts && !ok; attempt++) {
      try {
        const res = await fetch(`${cfg.CLOUDFLARE_API_BASE}/zones/${cfg.CLOUDFLARE_ZONE_ID}/purge_cache`, {
          method: "POST",
          headers: { Authorization: `Bearer ${cfg.CLOUDFLARE_API_TOKEN}`, "Content-Type": "application/json" },
          body: JSON.stringify({ tags: chunk }),
          signal: AbortSignal.timeout(5000),
        });
        ok = res.ok;
        lastError = ok ? "" : `HTTP ${res.status}`;
        await res.body?.cancel();
        // 4xx other than 429 will not get better by retrying.
        if (!ok && res.status < 500 && res.status !== 429) break;
      } catch (err) {
        lastError = err instanceof Error ? err.name : "error";
      }
      if (!ok && attempt < attempts) await sleep(backoffDelay(attempt, base));
    }
    if (!ok) {
      allOk = false;
      log.error("cache purge by tag failed", { component: "cache", tags: chunk, error: lastError });
    }
  }
  return allOk;
}
