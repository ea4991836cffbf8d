/**
 * Cache-aside for public GET reads in the Cache API (per data centre).
 * Key: the catalogue generation + the canonical request. The route's one normaliser (src/schemas/catalog.ts)
 * parses the request with the route's own schemas; the canonical request is built from the parsed values
 * (defaults applied, parameters sorted, one encoding), and the handler reads the same parsed values. So a
 * key can only ever hold the answer to the request it names. A request the schemas refuse has no key: it
 * is never looked up nor stored, and the route answers 400. A fresh entry is a HIT; within the
 * stale-while-revalidate window it is served as STALE while one background request for the canonical
 * request (never the client's URL) refreshes it; errors are never stored.
 * Clients get `Cache-Control` with s-maxage/SWR, a strong ETag and 304s.
 * Two tiers: the isolate's memory (L1, src/lib/isolate-cache.ts: bytes + kept headers, a few seconds, LRU
 * by bytes) in front of the Cache API (L2), under the same key. A MISS is stored in both, an L2 HIT is
 * promoted to L1. L1 serves only HITs (fresh by the origin's stored-at); anything older goes to L2, which
 * handles STALE and the refresh. With the generation memoised, an L1 HIT makes no Cache API call.
 */
import type { HonoRequest, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { b64url } from "../lib/encoding.ts";
import { l1Delete, l1Get, l1Put } from "../lib/isolate-cache.ts";
import type { CanonicalRead, ReadInput, ReadNormaliser } from "../schemas/catalog.ts";
import { catalogGeneration, memoisedCatalogGeneration } from "../services/cache-invalidation.ts";

const STORED_AT = "x-toko-stored-at";
const KEPT_HEADERS = ["content-type", "etag", "cache-tag", "content-language"];
/** Marks the internal revalidation request; random per isolate so clients cannot forge it. */
let revalidateToken: string | undefined;
const refreshing = new Set<string>();

export interface EdgeCacheOptions {
  /** The route's path as registered (`/api/v1/products/:idOrSku`): the canonical request fills in its params. */
  path: string;
  /** The route's one normaliser (`catalogReads` in src/schemas/catalog.ts). */
  normalise: ReadNormaliser;
}

/**
 * The request exactly as the route's validators see it: Hono's shaping (hono/validator), one value → a
 * string, a repeated parameter → an array, built with Object.fromEntries (so `__proto__` is a key, not a prototype).
 */
export function readInput(req: HonoRequest): ReadInput {
  const query = Object.fromEntries(Object.entries(req.queries()).map(([k, vs]) => [k, vs.length === 1 ? (vs[0] as string) : vs]));
  return { param: req.param() as Record<string, string>, query };
}

/** Path and query of a canonical read: params filled in, parameters sorted by name, one encoding. */
export function canonicalRequest(path: string, read: CanonicalRead): string {
  const filled = path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(read.param[name] ?? ""));
  const pairs = Object.entries(read.query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const qs = new URLSearchParams(pairs).toString();
  return qs ? `${filled}?${qs}` : filled;
}

export function cacheKey(origin: string, canonical: string, generation = "0"): string {
  return `${origin}/__edge-cache/v2/${generation}${canonical}`;
}

/** RFC 9110 If-None-Match: weak comparison, list or `*`. */
export function etagMatches(header: string | undefined, etag: string | null): boolean {
  if (!header || !etag) return false;
  if (header.trim() === "*") return true;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => bare(t) === bare(etag));
}

/** The stored headers a response carries (KEPT_HEADERS), as pairs: what both tiers keep. */
function keptHeaders(h: Headers): [string, string][] {
  const kept: [string, string][] = [];
  for (const name of KEPT_HEADERS) {
    const v = h.get(name);
    if (v) kept.push([name, v]);
  }
  return kept;
}

async function strongEtag(body: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return `"${b64url(digest.slice(0, 18))}"`;
}

export function edgeCache(opts: EdgeCacheOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    const cfg = c.get("config");
    const ttl = cfg.CATALOG_CACHE_TTL_SEC;
    const swr = cfg.CATALOG_CACHE_SWR_SEC;
    const publicCacheControl = `public, max-age=${Math.min(cfg.CATALOG_BROWSER_TTL_SEC, ttl)}, s-maxage=${ttl}, stale-while-revalidate=${swr}`;
    // Invalid input has no key: never looked up, never stored; the route's validator answers 400.
    const read = opts.normalise(readInput(c.req));
    if (!read) return next();
    const canonical = canonicalRequest(opts.path, read);
    const cache = caches.default;
    const url = new URL(c.req.url);
    // The catalogue generation is part of the key: a write bumps it, so the next read here misses.
    // Memoised per isolate for CATALOG_GENERATION_MEMO_MS (no await at all when known).
    const memoMs = cfg.CATALOG_GENERATION_MEMO_MS;
    const generation = ttl > 0 ? (memoisedCatalogGeneration(url.origin, memoMs) ?? (await catalogGeneration(url.origin, memoMs))) : "0";
    const key = cacheKey(url.origin, canonical, generation);
    const isRevalidation = revalidateToken !== undefined && c.req.header("x-toko-revalidate") === revalidateToken;
    const l1MaxBytes = ttl > 0 ? cfg.CATALOG_L1_MAX_BYTES : 0;

    const serve = (kept: [string, string][], body: ArrayBuffer | ReadableStream | null, status: "HIT" | "STALE" | "MISS", age: number) => {
      const headers = new Headers(kept);
      headers.set("Cache-Control", publicCacheControl);
      headers.set("Age", String(Math.max(0, Math.floor(age))));
      headers.set("X-Cache", status);
      if (etagMatches(c.req.header("if-none-match"), headers.get("etag"))) {
        headers.delete("content-type");
        return new Response(null, { status: 304, headers });
      }
      return new Response(c.req.method === "HEAD" ? null : body, { status: 200, headers });
    };

    if (ttl > 0 && !isRevalidation) {
      // L1: only a fresh entry (by the origin's stored-at) is served here; older ones are L2's to judge.
      if (l1MaxBytes > 0) {
        const now = Date.now();
        const e = l1Get(key, cfg.CATALOG_L1_TTL_SEC * 1000, now);
        if (e) {
          const age = (now - e.storedAt) / 1000;
          if (age <= ttl) {
            c.set("cacheTier", "l1");
            return serve(e.headers, e.body, "HIT", age);
          }
          l1Delete(key);
        }
      }
      const hit = await cache.match(key);
      if (hit) {
        const storedAt = Number(hit.headers.get(STORED_AT) ?? 0);
        const age = (Date.now() - storedAt) / 1000;
        const kept = keptHeaders(hit.headers);
        if (age <= ttl) {
          c.set("cacheTier", "l2");
          if (l1MaxBytes === 0) return serve(kept, hit.body, "HIT", age);
          // Promoted: the next reads in this isolate are served from memory.
          const body = await hit.arrayBuffer();
          l1Put(key, body, kept, storedAt, l1MaxBytes, Date.now());
          return serve(kept, body, "HIT", age);
        }
        if (age <= ttl + swr) {
          if (!refreshing.has(key)) {
            refreshing.add(key);
            revalidateToken ??= crypto.randomUUID();
            // The canonical request, never the client's URL: what it stores is the answer to this key.
            const req = new Request(`${url.origin}${canonical}`, { headers: { "x-toko-revalidate": revalidateToken } });
            const done = c
              .get("selfFetch")(req)
              .then((r) => r.body?.cancel());
            c.executionCtx.waitUntil(done.catch(() => {}).finally(() => refreshing.delete(key)));
          }
          c.set("cacheTier", "l2");
          return serve(kept, hit.body, "STALE", age);
        }
      }
    }

    await next();
    const res = c.res;
    if (res.status !== 200 || ttl === 0) return;
    const body = await res.arrayBuffer();
    const stored = new Headers({ "content-type": res.headers.get("content-type") ?? "application/json" });
    stored.set("etag", await strongEtag(body));
    const tags = c.get("cacheTags");
    if (tags.length) stored.set("cache-tag", [...new Set(tags)].join(","));
    const storedAt = Date.now();
    stored.set(STORED_AT, String(storedAt));
    // Kept for the whole SWR window; freshness is judged from STORED_AT above.
    stored.set("cache-control", `public, max-age=${ttl + swr}`);
    const put = cache.put(key, new Response(body, { status: 200, headers: stored }));
    c.executionCtx.waitUntil(put.catch((err) => c.get("log").warn("edge cache put failed", { component: "cache", error: String(err) })));
    const kept = keptHeaders(stored);
    if (l1MaxBytes > 0) l1Put(key, body, kept, storedAt, l1MaxBytes, storedAt);
    c.res = serve(kept, body, "MISS", 0);
  };
}
