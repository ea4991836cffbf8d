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
 * Stale-if-error: entries are kept (L2 for TTL + max(SWR, CATALOG_STALE_IF_ERROR_SEC); L1 until evicted)
 * though judged fresh by their own stored-at, so when the origin answers a 5xx (database down or slow,
 * shed) the newest copy from either tier at most TTL + CATALOG_STALE_IF_ERROR_SEC old is served instead,
 * as `X-Cache: STALE-IF-ERROR` with `Warning` and `Age`, a log line and a `stale_if_error` event.
 */
import type { HonoRequest, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import type { Config } from "../config.ts";
import { b64url } from "../lib/encoding.ts";
import { l1Get, l1Peek, l1Put } from "../lib/isolate-cache.ts";
import { countEvent } from "../lib/metrics.ts";
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

const cacheControls = new WeakMap<Config, string>();
/** The public `Cache-Control` of a catalogue read under `cfg` (built once per config). */
function cacheControlOf(cfg: Config): string {
  let v = cacheControls.get(cfg);
  if (v === undefined) {
    const ttl = cfg.CATALOG_CACHE_TTL_SEC;
    v = `public, max-age=${Math.min(cfg.CATALOG_BROWSER_TTL_SEC, ttl)}, s-maxage=${ttl}, stale-while-revalidate=${cfg.CATALOG_CACHE_SWR_SEC}`;
    cacheControls.set(cfg, v);
  }
  return v;
}

/**
 * What a cached read answers: the kept headers, Cache-Control, Age, X-Cache (then `extra`, e.g. the hot
 * lane's decoration); a 304 without content-type on a matching If-None-Match; no body for HEAD. Built as
 * one list of pairs handed to the Response: each Headers call crosses into the runtime, and this runs per hit.
 */
function cachedResponse(
  kept: [string, string][],
  body: ArrayBuffer | ReadableStream | null,
  status: "HIT" | "STALE" | "MISS" | "STALE-IF-ERROR",
  age: number,
  cacheControl: string,
  method: string,
  ifNoneMatch: string | undefined | null,
  extra: [string, string][] = [],
): Response {
  let etag: string | null = null;
  for (const [name, value] of kept) if (name === "etag") etag = value;
  const notModified = etagMatches(ifNoneMatch ?? undefined, etag);
  const pairs: [string, string][] = [];
  for (const pair of kept) if (!notModified || pair[0] !== "content-type") pairs.push(pair);
  pairs.push(["cache-control", cacheControl], ["age", String(Math.max(0, Math.floor(age)))], ["x-cache", status]);
  for (const pair of extra) pairs.push(pair);
  if (notModified) return new Response(null, { status: 304, headers: pairs });
  return new Response(method === "HEAD" ? null : body, { status: 200, headers: pairs });
}

/*
 * The hot lane (src/index.ts runs it before the Hono app): an L1 HIT answered without the middleware
 * chain. It serves only what the full path has already served the same way in this isolate:
 *  - the URL (path + query string, exactly as received) maps to its canonical read only after the full
 *    path validated it (query rules, the route's normaliser) and served it from L1 (`aliases`);
 *  - the headers the outer middleware adds (security headers, CORS for that `Origin`, Vary…) are copied
 *    from a response of the full path for the same config and `Origin` (`decorations`);
 *  - the entry, its freshness, ETag/304 and HEAD are judged exactly as by the middleware (same key,
 *    same generation memo, same `cachedResponse`).
 * Anything unknown (a new URL, a new Origin, no memoised generation, a revalidation request) takes the
 * full path. test/edge-cache.hot-lane.test.ts compares both paths header by header.
 */
const ALIASES_MAX = 20_000;
/** A URL the full path has served from L1: its canonical read, and the route and path its access line names. */
interface Alias {
  canonical: string;
  route: string;
  path: string;
}
const aliases = new Map<string, Alias>();
const DECORATED_ORIGINS_MAX = 64;
const decorations = new WeakMap<Config, Map<string, [string, string][]>>();
/** Headers the edge cache itself sets (or that are per request): never part of a decoration. */
const OWN_HEADERS = new Set([...KEPT_HEADERS, "cache-control", "age", "x-cache", "x-request-id", "content-length", "date"]);

function rememberAlias(pathAndQuery: string, alias: Alias): void {
  if (aliases.has(pathAndQuery)) return;
  if (aliases.size >= ALIASES_MAX) aliases.delete(aliases.keys().next().value as string);
  aliases.set(pathAndQuery, alias);
}

/** Called by the request context for a response the full path served from L1: what the outer middleware added. */
export function rememberDecoration(cfg: Config, origin: string | undefined, res: Response): void {
  let byOrigin = decorations.get(cfg);
  if (!byOrigin) {
    byOrigin = new Map();
    decorations.set(cfg, byOrigin);
  }
  const key = origin ?? "";
  if (byOrigin.has(key) || byOrigin.size >= DECORATED_ORIGINS_MAX) return;
  const pairs: [string, string][] = [];
  for (const [name, value] of res.headers) if (!OWN_HEADERS.has(name)) pairs.push([name, value]);
  byOrigin.set(key, pairs);
}

export interface HotHit {
  response: Response;
  /** The registered route and the request path, as the full path's access line names them. */
  route: string;
  path: string;
}

/** An L1 HIT for `req` under `cfg` without the middleware chain, or undefined (take the full path). */
export function hotLaneHit(req: Request, cfg: Config, requestId: (header: string | null) => string): HotHit | undefined {
  const method = req.method;
  if (method !== "GET" && method !== "HEAD") return undefined;
  const ttl = cfg.CATALOG_CACHE_TTL_SEC;
  if (ttl === 0 || cfg.CATALOG_L1_MAX_BYTES === 0 || !cfg.CATALOG_HOT_LANE) return undefined;
  const url = new URL(req.url);
  const alias = aliases.get(url.pathname + url.search);
  if (!alias) return undefined;
  const headers = req.headers;
  const decoration = decorations.get(cfg)?.get(headers.get("origin") ?? "");
  if (!decoration || headers.has("x-toko-revalidate")) return undefined;
  const generation = memoisedCatalogGeneration(url.origin, cfg.CATALOG_GENERATION_MEMO_MS);
  if (generation === undefined) return undefined;
  const key = cacheKey(url.origin, alias.canonical, generation);
  const now = Date.now();
  const e = l1Get(key, cfg.CATALOG_L1_TTL_SEC * 1000, now);
  if (!e) return undefined;
  const age = (now - e.storedAt) / 1000;
  if (age > ttl) return undefined; // the full path drops it and asks L2
  const response = cachedResponse(e.headers, e.body, "HIT", age, cacheControlOf(cfg), method, headers.get("if-none-match"), [
    ...decoration,
    ["x-request-id", requestId(headers.get("x-request-id"))],
  ]);
  return { response, route: alias.route, path: alias.path };
}

/** Warning (RFC 9111 §5.5, obsoleted but still read by clients and CDNs) on a stale-if-error answer. */
const STALE_IF_ERROR_WARNING = '111 - "Revalidation Failed"';

/** Forgets the hot lane's URL and decoration memory (tests). */
export function clearHotLane(): void {
  aliases.clear();
}

export function edgeCache(opts: EdgeCacheOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    const cfg = c.get("config");
    const ttl = cfg.CATALOG_CACHE_TTL_SEC;
    const swr = cfg.CATALOG_CACHE_SWR_SEC;
    const url = new URL(c.req.url);
    const publicCacheControl = cacheControlOf(cfg);
    // Invalid input has no key: never looked up, never stored; the route's validator answers 400.
    const read = opts.normalise(readInput(c.req));
    if (!read) return next();
    const canonical = canonicalRequest(opts.path, read);
    const cache = caches.default;
    // The catalogue generation is part of the key: a write bumps it, so the next read here misses.
    // Memoised per isolate for CATALOG_GENERATION_MEMO_MS (no await at all when known).
    const memoMs = cfg.CATALOG_GENERATION_MEMO_MS;
    const generation = ttl > 0 ? (memoisedCatalogGeneration(url.origin, memoMs) ?? (await catalogGeneration(url.origin, memoMs))) : "0";
    const key = cacheKey(url.origin, canonical, generation);
    const isRevalidation = revalidateToken !== undefined && c.req.header("x-toko-revalidate") === revalidateToken;
    const l1MaxBytes = ttl > 0 ? cfg.CATALOG_L1_MAX_BYTES : 0;

    const serve = (kept: [string, string][], body: ArrayBuffer | ReadableStream | null, status: "HIT" | "STALE" | "MISS", age: number) =>
      cachedResponse(kept, body, status, age, publicCacheControl, c.req.method, c.req.header("if-none-match"));
    const staleIfError = ttl > 0 && !isRevalidation ? cfg.CATALOG_STALE_IF_ERROR_SEC : 0;
    /** An L2 entry too old to serve unless the origin fails (past TTL + SWR). */
    let lastGoodL2: Response | undefined;

    if (ttl > 0 && !isRevalidation) {
      // L1: only a fresh entry (by the origin's stored-at) is served here; older ones are L2's to judge.
      if (l1MaxBytes > 0) {
        const now = Date.now();
        const e = l1Get(key, cfg.CATALOG_L1_TTL_SEC * 1000, now);
        if (e) {
          const age = (now - e.storedAt) / 1000;
          if (age <= ttl) {
            c.set("cacheTier", "l1");
            // This URL is now known to name `canonical`: its next L1 hits may take the hot lane.
            rememberAlias(url.pathname + url.search, { canonical, route: opts.path, path: c.req.path });
            return serve(e.headers, e.body, "HIT", age);
          }
          // Too old to serve, but kept: it is a last good copy for stale-if-error. L2 judges it now.
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
        if (staleIfError > 0 && age <= ttl + staleIfError) lastGoodL2 = hit;
        else await hit.body?.cancel();
      }
    }

    await next();
    const res = c.res;
    if (res.status >= 500 && staleIfError > 0) {
      const stale = await lastGoodCopy(key, lastGoodL2, ttl + staleIfError);
      if (stale) {
        const age = (Date.now() - stale.storedAt) / 1000;
        await res.body?.cancel();
        c.set("cacheTier", stale.tier);
        c.get("log").warn("origin failed: serving stale-if-error", {
          component: "cache",
          tier: stale.tier,
          age_sec: Math.floor(age),
          origin_status: res.status,
          origin_error: (c.error as { code?: string } | undefined)?.code ?? c.error?.name,
        });
        countEvent("stale_if_error", { detail: stale.tier, detail2: String(res.status) });
        c.error = undefined;
        // no-store: a downstream cache must not keep an old copy past the outage.
        c.res = cachedResponse(stale.kept, stale.body, "STALE-IF-ERROR", age, "no-store", c.req.method, c.req.header("if-none-match"), [
          ["warning", STALE_IF_ERROR_WARNING],
        ]);
        return;
      }
    }
    await lastGoodL2?.body?.cancel();
    if (res.status !== 200 || ttl === 0) return;
    const body = await res.arrayBuffer();
    const stored = new Headers({ "content-type": res.headers.get("content-type") ?? "application/json" });
    stored.set("etag", await strongEtag(body));
    const tags = c.get("cacheTags");
    if (tags.length) stored.set("cache-tag", [...new Set(tags)].join(","));
    const storedAt = Date.now();
    stored.set(STORED_AT, String(storedAt));
    // Kept for the SWR window or the stale-if-error one, whichever is longer; freshness is judged from STORED_AT above.
    stored.set("cache-control", `public, max-age=${ttl + Math.max(swr, cfg.CATALOG_STALE_IF_ERROR_SEC)}`);
    const put = cache.put(key, new Response(body, { status: 200, headers: stored }));
    c.executionCtx.waitUntil(put.catch((err) => c.get("log").warn("edge cache put failed", { component: "cache", error: String(err) })));
    const kept = keptHeaders(stored);
    if (l1MaxBytes > 0) l1Put(key, body, kept, storedAt, l1MaxBytes, storedAt);
    c.res = serve(kept, body, "MISS", 0);
  };
}

interface LastGood {
  kept: [string, string][];
  body: ArrayBuffer | ReadableStream | null;
  storedAt: number;
  tier: "l1" | "l2";
}

/** The newest copy of `key` in either tier at most `maxAgeSec` old (by its stored-at), or undefined. */
async function lastGoodCopy(key: string, l2: Response | undefined, maxAgeSec: number): Promise<LastGood | undefined> {
  const now = Date.now();
  const l1 = l1Peek(key);
  const l2StoredAt = l2 ? Number(l2.headers.get(STORED_AT) ?? 0) : 0;
  let best: LastGood | undefined;
  if (l1 && (!l2 || l1.storedAt >= l2StoredAt)) {
    await l2?.body?.cancel();
    best = { kept: l1.headers, body: l1.body, storedAt: l1.storedAt, tier: "l1" };
  } else if (l2) {
    best = { kept: keptHeaders(l2.headers), body: l2.body, storedAt: l2StoredAt, tier: "l2" };
  }
  if (!best || (now - best.storedAt) / 1000 > maxAgeSec) {
    if (best?.body instanceof ReadableStream) await best.body.cancel();
    return undefined;
  }
  return best;
}
