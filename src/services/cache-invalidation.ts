/**
 * Invalidation of the edge-cached catalogue after a write.
 * 1. Local (synchronous with the write's response): a catalogue generation number is
 *    part of every cache key; bumping it makes the next read in this location a MISS.
 * 2. Global (background): when CLOUDFLARE_ZONE_ID and CLOUDFLARE_API_TOKEN are set, purge
 *    by Cache-Tag through the zone API, retried with jittered backoff; failures are logged.
 */
import type { Config } from "../config.ts";
import { backoffDelay } from "../lib/backoff.ts";
import { bumpGeneration, currentGeneration } from "../lib/cache-generation.ts";
import type { Logger } from "../lib/logger.ts";
import { sleep } from "../lib/timeout.ts";

const YEAR = 31_536_000;

/** The catalogue's generation for this origin (part of every catalogue cache key). */
export function catalogGeneration(origin: string): Promise<string> {
  return currentGeneration(origin, "catalog", YEAR);
}

export function bumpCatalogGeneration(origin: string): Promise<string> {
  return bumpGeneration(origin, "catalog", YEAR);
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
