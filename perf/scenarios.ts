/**
 * Benchmark scenarios. Each one says which worker it loads, how request i looks
 * (a shared counter across connections, so choices are deterministic), and which
 * SQL the worker would run for request i on a cache miss (the raw-SQL baseline).
 *
 * Adding a scenario (login, order create, webhook intake, guarded vs unguarded…):
 * append to SCENARIOS; use `method`/`headers`/`body` for writes, `prepare` for
 * fixtures (users, tokens), `recordSql` around the repo function for the baseline,
 * and `compareTo` to get an extra ratio against another scenario of the same run.
 */
import { categoryList, productDetail, productPage, searchPage } from "../src/services/catalog.service.ts";
import { type RecordedQuery, recordSql } from "./lib/sql.ts";
import { rand, zipf } from "./lib/util.ts";
import { WRITE_SCENARIOS } from "./write-scenarios.ts";

export interface RequestSpec {
  method?: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Catalog {
  /** Active products in a fixed pseudo-random popularity order (rank 0 = most popular). */
  products: { id: string; sku: string; category: string }[];
  categories: string[];
  /** Words and 4-letter prefixes taken from product names (search matches prefixes). */
  terms: string[];
}

export interface ScenarioContext {
  catalog: Catalog;
  cursorSecret: string;
  /** Every secret the app worker got (e.g. to sign webhook deliveries). */
  secrets: Record<string, string>;
  /** The benchmark database (direct, not through the pooler), for fixtures. */
  dbUrl: string;
  /** GETs each path until the edge cache answers HIT (for the "-hit" scenarios). */
  prime(paths: string[]): Promise<void>;
}

export interface ScenarioPlan {
  request(i: number): RequestSpec;
  /** SQL the worker issues for request i when it misses the cache; omit when there is none. */
  sql?: (i: number) => RecordedQuery[];
  /** Runs after the measurement; its lines go into the report (e.g. queue consumer throughput). */
  after?: () => Promise<Record<string, string>>;
}

export interface Scenario {
  name: string;
  description: string;
  target: "hello" | "app";
  /** Part of `--smoke` (budgets in perf/budgets.json refer to these names). */
  smoke: boolean;
  /** Expected edge-cache behaviour; the report shows a hit ratio from X-Cache when set. */
  cache?: "hit" | "miss" | "mixed";
  /** Another scenario of the same run to compute an extra req/s ratio against (e.g. guarded vs unguarded). */
  compareTo?: string;
  /**
   * Also run the postgres.js floor (perf/floors/postgres.ts) next to the pg one: the driver comparison.
   * Every app scenario with SQL that is not a cache-hit scenario gets the pg floor.
   */
  driverFloor?: boolean;
  /** [vars] overrides: the scenario then runs on its own copy of the app worker with these values. */
  vars?: Record<string, string>;
  prepare(ctx: ScenarioContext): Promise<ScenarioPlan>;
}

const get = (path: string): RequestSpec => ({ path });

/** Records SQL for many inputs up front so the timed baseline loop does no query building. */
async function recordAll<T>(inputs: T[], run: (input: T) => Parameters<typeof recordSql>[0]): Promise<RecordedQuery[][]> {
  const out: RecordedQuery[][] = [];
  for (const input of inputs) out.push(await recordSql(run(input)));
  return out;
}

const productDetailHit: Scenario = {
  name: "product-detail-hit",
  description: "GET /api/v1/products/{sku} over the 100 most popular products, warmed (HIT)",
  target: "app",
  smoke: true,
  cache: "hit",
  async prepare(ctx) {
    const hot = ctx.catalog.products.slice(0, 100);
    await ctx.prime(hot.map((p) => `/api/v1/products/${p.sku}`));
    const sql = await recordAll(hot, (p) => (db) => productDetail(db, p.sku));
    return {
      request: (i) => get(`/api/v1/products/${(hot[i % hot.length] as (typeof hot)[number]).sku}`),
      sql: (i) => sql[i % sql.length] as RecordedQuery[],
    };
  },
};

const productDetailMiss: Scenario = {
  name: "product-detail-miss",
  description: "GET /api/v1/products/{sku|id} with the edge cache off (CATALOG_CACHE_TTL_SEC=0): every request is origin work (one SELECT)",
  target: "app",
  smoke: true,
  cache: "miss",
  driverFloor: true,
  // The cache key is the parsed request (ids fold to lower case), so there are only 2 × 1,200 distinct
  // keys: with the cache on, a long run would start hitting. Off, every request takes the origin path;
  // what a cache lookup costs is measured by the "-hit" scenarios.
  vars: { CATALOG_CACHE_TTL_SEC: "0" },
  async prepare(ctx) {
    const all = ctx.catalog.products;
    const bySku = await recordAll(all, (p) => (db) => productDetail(db, p.sku));
    const byId = await recordAll(all, (p) => (db) => productDetail(db, p.id));
    // Even rounds by SKU, odd rounds by id: both lookups, each one primary- or unique-key read.
    const bySkuRound = (i: number) => Math.floor(i / all.length) % 2 === 0;
    const ref = (i: number) => {
      const p = all[i % all.length] as (typeof all)[number];
      return bySkuRound(i) ? p.sku : p.id;
    };
    return {
      request: (i) => get(`/api/v1/products/${ref(i)}`),
      sql: (i) => (bySkuRound(i) ? bySku : byId)[i % all.length] as RecordedQuery[],
    };
  },
};

/** product-detail-miss on an app copy with some [vars] changed, reported relative to it (`compareTo`). */
function missVariant(name: string, description: string, vars: Record<string, string>): Scenario {
  return {
    name,
    description,
    target: "app",
    smoke: false,
    cache: "miss",
    compareTo: productDetailMiss.name,
    vars: { ...productDetailMiss.vars, ...vars },
    prepare: (ctx) => productDetailMiss.prepare(ctx),
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "hello",
    description: "Baseline (a): hello-world worker on the same workerd, direct socket",
    target: "hello",
    smoke: true,
    prepare: async () => ({ request: () => get("/") }),
  },
  {
    name: "app-live",
    description: "GET /health/live: the app's full middleware stack and access log, no cache, no database",
    target: "app",
    smoke: true,
    prepare: async () => ({ request: () => get("/health/live") }),
  },
  {
    name: "catalog-list-hit",
    description: "GET /api/v1/products (first page), warmed: every request is an edge-cache HIT",
    target: "app",
    smoke: true,
    cache: "hit",
    async prepare(ctx) {
      await ctx.prime(["/api/v1/products"]);
      const [sql] = await recordAll([{}], (q) => (db) => productPage(db, ctx.cursorSecret, q));
      return { request: () => get("/api/v1/products"), sql: () => sql as RecordedQuery[] };
    },
  },
  productDetailHit,
  productDetailMiss,
  missVariant(
    "product-detail-miss-unguarded",
    "product-detail-miss with the public-read rate limit off: what the per-IP limiter costs on origin work",
    { RATE_LIMIT_OVERRIDES: "public-read=off" },
  ),
  missVariant(
    "product-detail-miss-ungated",
    "product-detail-miss with the load-shedding gate off (SHED_MAX_INFLIGHT=0): what the gate and its slow-signal sync cost on origin work",
    { SHED_MAX_INFLIGHT: "0" },
  ),
  {
    name: "search-miss",
    description: "GET /api/v1/search?q=<two terms>&limit=<1..50>, distinct per request: full-text search, MISS",
    target: "app",
    smoke: true,
    cache: "miss",
    driverFloor: true,
    async prepare(ctx) {
      const t = ctx.catalog.terms;
      const variant = (i: number) => ({
        q: `${t[i % t.length]} ${t[Math.floor(i / t.length) % t.length]}`,
        limit: 1 + (Math.floor(i / (t.length * t.length)) % 50),
      });
      // The SQL baseline cycles over the first 2,048 variants (same statement, different parameters).
      const sql = await recordAll(
        Array.from({ length: 2048 }, (_, i) => variant(i)),
        (v) => (db) => searchPage(db, ctx.cursorSecret, v),
      );
      return {
        request: (i) => {
          const v = variant(i);
          return get(`/api/v1/search?q=${encodeURIComponent(v.q)}&limit=${v.limit}`);
        },
        sql: (i) => sql[i % sql.length] as RecordedQuery[],
      };
    },
  },
  {
    name: "mixed-browse",
    description:
      "Weighted storefront mix, Zipf popularity, cache starts cold: 45% detail, 20% category page, 15% search, 10% home, 10% categories",
    target: "app",
    smoke: true,
    cache: "mixed",
    async prepare(ctx) {
      const { products, categories, terms } = ctx.catalog;
      const pickProduct = zipf(products.length, 1.0);
      const pickCategory = zipf(categories.length, 1.0);
      const pickTerm = zipf(terms.length, 1.0);
      // Every distinct request of the mix, with its SQL recorded once.
      const detail = await recordAll(products, (p) => (db) => productDetail(db, p.sku));
      const catPage = await recordAll(
        categories.flatMap((c) => [{ category: c }, { category: c, in_stock: true }]),
        (q) => (db) => productPage(db, ctx.cursorSecret, q),
      );
      const search = await recordAll(terms, (q) => (db) => searchPage(db, ctx.cursorSecret, { q }));
      const [home] = await recordAll([{}], (q) => (db) => productPage(db, ctx.cursorSecret, q));
      const [cats] = await recordAll([0], () => (db) => categoryList(db));
      const plan = (i: number): { req: RequestSpec; sql: RecordedQuery[] } => {
        const kind = rand(1, i);
        const u = rand(2, i);
        if (kind < 0.45) {
          const k = pickProduct(u);
          return { req: get(`/api/v1/products/${products[k]?.sku}`), sql: detail[k] as RecordedQuery[] };
        }
        if (kind < 0.65) {
          const k = pickCategory(u);
          const inStock = rand(3, i) < 0.25;
          const path = `/api/v1/products?category=${categories[k]}${inStock ? "&in_stock=true" : ""}`;
          return { req: get(path), sql: catPage[k * 2 + (inStock ? 1 : 0)] as RecordedQuery[] };
        }
        if (kind < 0.8) {
          const k = pickTerm(u);
          return { req: get(`/api/v1/search?q=${encodeURIComponent(terms[k] as string)}`), sql: search[k] as RecordedQuery[] };
        }
        if (kind < 0.9) return { req: get("/api/v1/products"), sql: home as RecordedQuery[] };
        return { req: get("/api/v1/categories"), sql: cats as RecordedQuery[] };
      };
      return { request: (i) => plan(i).req, sql: (i) => plan(i).sql };
    },
  },
  ...WRITE_SCENARIOS,
];
