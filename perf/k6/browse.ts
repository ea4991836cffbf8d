/**
 * Public catalogue browsing at a steady arrival rate, with the read SLO as thresholds.
 *
 *   k6 run -e BASE_URL=https://staging.example.com -e RATE=100 -e DURATION=5m perf/k6/browse.ts
 *
 * Mix (same shape as the local `mixed-browse` scenario): 45 % product detail, 20 % category
 * page, 15 % search, 10 % home page, 10 % category list; Zipf popularity so the edge cache
 * sees realistic hits and misses. X-Cache is counted into the `edge_cache_hit` rate.
 */
import { check, sleep } from "k6";
import http from "k6/http";
import { Rate } from "k6/metrics";
import type { Options } from "k6/options";
import { BASE_URL, jsonOf, num, READ_SLO, tagged, zipf } from "./common.ts";

const RATE = num("RATE", 50);

export const options: Options = {
  scenarios: {
    browse: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: __ENV.DURATION || "2m",
      preAllocatedVUs: num("PRE_VUS", Math.max(10, RATE)),
      maxVUs: num("MAX_VUS", RATE * 4),
    },
  },
  thresholds: {
    http_req_failed: READ_SLO.failed,
    http_req_duration: READ_SLO.duration,
    checks: ["rate>0.999"],
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const edgeCacheHit = new Rate("edge_cache_hit");

interface Catalogue {
  skus: string[];
  categories: string[];
  terms: string[];
}

/** Discovers real SKUs and categories from the API itself (no fixtures to keep in sync). */
export function setup(): Catalogue {
  const skus: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < num("DISCOVER_PAGES", 10); page++) {
    const url: string = `${BASE_URL}/api/v1/products?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body = jsonOf<{ data: { sku: string }[]; next_cursor: string | null }>(http.get(url, tagged("read", "setup")));
    if (!body) break;
    for (const p of body.data) skus.push(p.sku);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  const cats = jsonOf<{ data: { slug: string }[] }>(http.get(`${BASE_URL}/api/v1/categories`, tagged("read", "setup")));
  if (!skus.length || !cats) throw new Error(`no catalogue found at ${BASE_URL}: is BASE_URL right and the database seeded?`);
  const terms = (__ENV.SEARCH_TERMS || "laptop,coffee,black,pro,sneaker,tea,lamp,eco,head,jacket,smart,kettle,book,robot,serum").split(",");
  return { skus, categories: cats.data.map((c) => c.slug), terms };
}

let pick: { sku: () => number; cat: () => number; term: () => number } | undefined;

export default function browse(cat: Catalogue): void {
  pick ??= { sku: zipf(cat.skus.length), cat: zipf(cat.categories.length), term: zipf(cat.terms.length) };
  const r = Math.random();
  let res: ReturnType<typeof http.get>;
  if (r < 0.45) {
    res = http.get(`${BASE_URL}/api/v1/products/${cat.skus[pick.sku()]}`, tagged("read", "product detail"));
  } else if (r < 0.65) {
    const inStock = Math.random() < 0.25 ? "&in_stock=true" : "";
    res = http.get(`${BASE_URL}/api/v1/products?category=${cat.categories[pick.cat()]}${inStock}`, tagged("read", "category page"));
  } else if (r < 0.8) {
    res = http.get(`${BASE_URL}/api/v1/search?q=${encodeURIComponent(cat.terms[pick.term()] ?? "pro")}`, tagged("read", "search"));
  } else if (r < 0.9) {
    res = http.get(`${BASE_URL}/api/v1/products`, tagged("read", "home"));
  } else {
    res = http.get(`${BASE_URL}/api/v1/categories`, tagged("read", "categories"));
  }
  const xCache = res.headers["X-Cache"];
  if (xCache) edgeCacheHit.add(xCache === "HIT" || xCache === "STALE");
  check(res, {
    "status 200": (x) => x.status === 200,
    "json body": (x) => String(x.headers["Content-Type"] ?? "").includes("json"),
  });
  // Arrival-rate executor paces iterations; a tiny think time only spreads connection reuse.
  sleep(Math.random() * 0.05);
}
