/**
 * Issue 11, item 2: one unauthenticated request must not blank the storefront.
 * The edge-cache key is built from the validated, parsed request (the route's one normaliser in
 * src/schemas/catalog.ts), so a key can only ever hold the answer to the request it names; invalid
 * input is a 4xx that is never looked up, never stored and never keyed onto a valid entry.
 *
 * Each test runs on its own origin: the catalogue generation and the cache keys are per origin, so
 * admin writes by other test files (which bump the generation of https://toko.test) cannot turn a
 * primed HIT into a MISS under our feet.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { expectProblem, sql, uniqueSuffix } from "./helpers.ts";

interface Page {
  data: ProductDto[];
  has_more: boolean;
  next_cursor: string | null;
}

/** A client of one origin: each request goes through the worker entry and waits for its waitUntil work. */
function client(bindings: Env = env) {
  const origin = `https://poison-${uniqueSuffix()}.test`;
  return async (path: string, init?: RequestInit): Promise<Response> => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${origin}${path}`, init), bindings, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
}

const seeded = async () => {
  const [p] = await sql<{ id: string; sku: string }>(
    "SELECT id, sku FROM products WHERE status = 'active' AND sku ~ '[A-Z]' AND sku ~ '^[A-Za-z0-9._-]+$' ORDER BY sku LIMIT 1",
  );
  const [books] = await sql<{ id: string }>("SELECT id FROM categories WHERE slug = 'books'");
  if (!p || !books) throw new Error("seed missing");
  return { ...p, booksId: books.id };
};

/** Expects a 4xx problem that carries no cache headers (it was not served from, or stored in, the cache). */
async function expectUncachedProblem(res: Response, what: string) {
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers.get("content-type"), what).toBe("application/problem+json");
  expect(res.headers.get("x-cache"), what).toBeNull();
  expect(res.headers.get("cache-control"), what).toBe("no-store");
  await res.body?.cancel();
}

afterEach(() => vi.restoreAllMocks());

describe("edge cache poisoning (issue 11, item 2)", () => {
  it("category=%20 does not blank the product list (attacker first, cold cache)", async () => {
    const get = client();
    await expectUncachedProblem(await get("/api/v1/products?category=%20"), "category=%20");
    await expectUncachedProblem(await get("/api/v1/products?limit=20&category=+"), "category=+");
    await expectUncachedProblem(await get("/api/v1/products?category="), "category=");
    await expectUncachedProblem(await get("/api/v1/products?category=books&category=%20"), "repeated category");
    const res = await get("/api/v1/products");
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    expect(page.data).toHaveLength(20);
    expect(page.has_more).toBe(true);
    const books = (await (await get("/api/v1/products?category=books")).json()) as Page;
    expect(books.data).toHaveLength(20);
    expect(books.data.every((p) => p.category?.slug === "books")).toBe(true);
  });

  it("category=%00 is a 400, never a 500: NUL never reaches Postgres", async () => {
    const get = client();
    for (const qs of ["category=%00", "category=books%00", "category=%00books", "currency=US%00", "cursor=%00"]) {
      const p = await expectProblem(await get(`/api/v1/products?${qs}`), 400);
      expect(p.errors?.[0]?.in, qs).toBe("query");
    }
    for (const qs of ["q=%00", "q=laptop%00", "q=lap%00top"]) {
      const p = await expectProblem(await get(`/api/v1/search?${qs}`), 400, "validation_error");
      expect(p.errors?.[0]?.field, qs).toBe("q");
    }
    await expectProblem(await get("/api/v1/products/TOKO%00"), 400, "validation_error");
  });

  it("category=a%0d%0ab is a 400, never a 500 from copying it into the Cache-Tag header", async () => {
    const get = client();
    for (const qs of ["category=a%0d%0ab", "category=a%0ab", "category=a%0d%0aSet-Cookie:%20x=1", "category=a,b", "category=a%09b"]) {
      const p = await expectProblem(await get(`/api/v1/products?${qs}`), 400, "validation_error");
      expect(
        p.errors?.map((e) => e.field),
        qs,
      ).toEqual(["category"]);
    }
  });

  it("invalid input is never cached and never keyed onto a valid entry", async () => {
    const get = client();
    const normal = await get("/api/v1/products");
    expect(normal.headers.get("x-cache")).toBe("MISS");
    const body = await normal.text();
    expect((await get("/api/v1/products")).headers.get("x-cache")).toBe("HIT");
    // Each of these used to share the key of /api/v1/products (trimmed and empty values dropped, repeats folded).
    for (const qs of ["category=%20", "category=", "limit=%2020", "limit=20&limit=20", "limit=20&limit=%20", "cursor=%20", "x="]) {
      for (let i = 0; i < 2; i++) await expectUncachedProblem(await get(`/api/v1/products?${qs}`), qs);
    }
    const after = await get("/api/v1/products");
    expect(after.headers.get("x-cache")).toBe("HIT");
    expect(await after.text()).toBe(body);
  });

  it("SWR refresh uses the normalised request, never the client's URL", async () => {
    const { id } = await seeded();
    // TTL 1 s, long SWR window: after a second every read of the entry is STALE and triggers one refresh.
    // LOG_LEVEL info: the access log shows the path of each request, the background refresh's included.
    const get = client({
      ...env,
      CATALOG_CACHE_TTL_SEC: "1",
      CATALOG_CACHE_SWR_SEC: "300",
      CATALOG_BROWSER_TTL_SEC: "1",
      LOG_LEVEL: "info",
    });
    const detail = await get(`/api/v1/products/${id}`);
    expect(detail.headers.get("x-cache")).toBe("MISS");
    const detailBody = await detail.text();
    const primed = await get("/api/v1/products?currency=USD&in_stock=true");
    expect(primed.headers.get("x-cache")).toBe("MISS");
    const body = await primed.text();
    const all = await get("/api/v1/products");
    const allBody = await all.text();
    await new Promise((r) => setTimeout(r, 1100));

    // Attackers' spellings, now stale: each is refused (and refreshes nothing) or is the same request.
    await expectUncachedProblem(await get("/api/v1/products?category=%20"), "category=%20");
    await expectUncachedProblem(await get("/api/v1/products?currency=USD&in_stock=true&currency=EUR"), "repeated currency");
    const variant = await get("/api/v1/products?in_stock=1&limit=020&currency=USD&");
    expect(variant.headers.get("x-cache")).toBe("STALE");
    expect(await variant.text()).toBe(body);

    // The client spells the id in upper case; the refresh asks for the canonical (lower-case) path.
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(JSON.parse(line)));
    const upper = await get(`/api/v1/products/${id.toUpperCase()}`);
    expect(upper.headers.get("x-cache")).toBe("STALE");
    expect(await upper.text()).toBe(detailBody);
    vi.restoreAllMocks();
    const paths = lines.filter((l) => l.msg === "request").map((l) => `${l.cache} ${l.path}`);
    expect(paths.sort()).toEqual([`MISS /api/v1/products/${id}`, `STALE /api/v1/products/${id.toUpperCase()}`]);
    expect((await get(`/api/v1/products/${id}`)).headers.get("x-cache")).toBe("HIT");

    // The refresh (waited for above) stored a fresh entry under the canonical key.
    const refreshed = await get("/api/v1/products?currency=USD&in_stock=true");
    expect(refreshed.headers.get("x-cache")).toBe("HIT");
    expect(((await refreshed.json()) as Page).data.every((p) => p.currency === "USD" && p.stock > 0)).toBe(true);
    const list = await get("/api/v1/products");
    expect(["HIT", "STALE"]).toContain(list.headers.get("x-cache"));
    const listPage = JSON.parse(await list.text()) as Page;
    expect(listPage.data).toHaveLength(20);
    expect(JSON.parse(allBody).data).toHaveLength(20);
  });

  it("id case variants share one entry; SKU lookups stay exact; no query parameters on a product", async () => {
    const { id, sku } = await seeded();
    const get = client();
    const byId = await get(`/api/v1/products/${id}`);
    expect(byId.headers.get("x-cache")).toBe("MISS");
    const body = await byId.text();
    const upper = await get(`/api/v1/products/${id.toUpperCase()}`);
    expect(upper.headers.get("x-cache")).toBe("HIT");
    expect(await upper.text()).toBe(body);
    // SKUs are unique as written (TOKO-1 and toko-1 may both exist): another spelling is another product.
    await expectProblem(await get(`/api/v1/products/${sku.toLowerCase()}`), 404, "not_found");
    for (const qs of ["x=1", "x=", "cursor=abc", "limit=20"]) {
      const p = await expectProblem(await get(`/api/v1/products/${sku}?${qs}`), 400, "validation_error");
      expect(p.errors?.[0]).toMatchObject({ in: "query", code: "unknown_field" });
    }
  });

  it("unknown and repeated parameters are refused on every cacheable route", async () => {
    const get = client();
    for (const path of [
      "/api/v1/categories?x=1",
      "/api/v1/categories?limit=20",
      "/api/v1/products?colour=red",
      "/api/v1/products?LIMIT=20",
      "/api/v1/search?q=laptop&x=",
      "/api/v1/search?q=laptop&q=kettle",
      "/api/v1/products?limit=20&limit=21",
      "/api/v1/products?in_stock=true&in_stock=true",
    ]) {
      const p = await expectProblem(await get(path), 400, "validation_error");
      expect(
        p.errors?.every((e) => e.in === "query"),
        path,
      ).toBe(true);
    }
  });

  it("a primed cache survives 90 query-string variants: normal clients get the same body and ETag", async () => {
    const { id, sku, booksId } = await seeded();
    const get = client();
    const N = {
      list: "/api/v1/products",
      books: "/api/v1/products?category=books",
      booksById: `/api/v1/products?category=${booksId}`,
      usdInStock: "/api/v1/products?currency=USD&in_stock=true",
      sku: `/api/v1/products/${sku}`,
      id: `/api/v1/products/${id}`,
      search: "/api/v1/search?q=laptop",
      searchTwo: "/api/v1/search?q=pro%20laptop",
      categories: "/api/v1/categories",
    } as const;
    type Normal = keyof typeof N;
    const primed = {} as Record<Normal, { body: string; etag: string }>;
    for (const [name, path] of Object.entries(N) as [Normal, string][]) {
      const miss = await get(path);
      expect(miss.status, path).toBe(200);
      expect(miss.headers.get("x-cache"), path).toBe("MISS");
      primed[name] = { body: await miss.text(), etag: miss.headers.get("etag") as string };
      const hit = await get(path);
      expect(hit.headers.get("x-cache"), path).toBe("HIT");
      expect(await hit.text(), path).toBe(primed[name].body);
    }

    const long = "a".repeat(5000);
    const fullwidth = (s: string) =>
      encodeURIComponent([...s].map((c) => String.fromCodePoint((c.codePointAt(0) as number) + 0xfee0)).join(""));
    /** `Normal` → a 200 with exactly that body; a number → that 4xx problem. */
    const variants: [string, Normal | 400 | 404][] = [
      // The product list: whitespace, empties, control bytes, repeats, unknowns, case, encodings.
      ["/api/v1/products?category=%20", 400],
      ["/api/v1/products?category=", 400],
      ["/api/v1/products?category", 400],
      ["/api/v1/products?category=+", 400],
      ["/api/v1/products?category=%00", 400],
      ["/api/v1/products?category=a%0d%0ab", 400],
      ["/api/v1/products?category=%09", 400],
      ["/api/v1/products?category=%E2%80%8B", 400], // zero-width space
      ["/api/v1/products?limit=020", "list"],
      ["/api/v1/products?limit=20", "list"],
      ["/api/v1/products?limit=20&", "list"],
      ["/api/v1/products?&&limit=20&&", "list"],
      ["/api/v1/products?", "list"],
      ["/api/v1/products?limit=%32%30", "list"],
      ["/api/v1/products?%6Cimit=20", "list"],
      ["/api/v1/products?sort=newest", "list"],
      ["/api/v1/products?sort=newest&limit=20", "list"],
      ["/api/v1/products?limit=", 400],
      ["/api/v1/products?limit=%2020", 400],
      ["/api/v1/products?limit=20+", 400],
      ["/api/v1/products?limit=20%00", 400],
      ["/api/v1/products?limit=%EF%BC%92%EF%BC%90", 400], // fullwidth "２０"
      ["/api/v1/products?limit=20&limit=20", 400],
      ["/api/v1/products?limit=20&limit=21", 400],
      ["/api/v1/products?limit=0x14", 400],
      ["/api/v1/products?limit=2e1", 400],
      ["/api/v1/products?limit=-0", 400],
      ["/api/v1/products?x=", 400],
      ["/api/v1/products?x=1", 400],
      ["/api/v1/products?LIMIT=20", 400],
      ["/api/v1/products?limit%00=20", 400],
      ["/api/v1/products?__proto__=1", 400],
      ["/api/v1/products?constructor=1", 400],
      ["/api/v1/products?cursor=", 400],
      ["/api/v1/products?cursor=%20", 400],
      ["/api/v1/products?cursor=%00", 400],
      ["/api/v1/products?cursor=null", 400],
      ["/api/v1/products?sort=", 400],
      ["/api/v1/products?sort=NEWEST", 400],
      ["/api/v1/products?sort=newest&sort=name", 400],
      [`/api/v1/products?category=${long}`, 400],
      [`/api/v1/products?cursor=${long}`, 400],
      ["/api/v1/products?category=b%D0%BEoks", 400], // Cyrillic "о"
      ["/api/v1/products?category=%EF%BD%82ooks", 400], // fullwidth "ｂ"
      // Category pages.
      ["/api/v1/products?category=BOOKS", "books"],
      ["/api/v1/products?category=Books&limit=020", "books"],
      ["/api/v1/products?limit=20&category=books&", "books"],
      ["/api/v1/products?category=books%20", 400],
      ["/api/v1/products?category=+books", 400],
      ["/api/v1/products?category=books&category=books", 400],
      ["/api/v1/products?category=books&category=toys", 400],
      ["/api/v1/products?category=books%00", 400],
      ["/api/v1/products?category=books-", 400],
      ["/api/v1/products?category=books%2F..%2Ftoys", 400],
      [`/api/v1/products?category=${booksId.toUpperCase()}`, "booksById"],
      [`/api/v1/products?category=%20${booksId}`, 400],
      // Filters with more than one spelling.
      ["/api/v1/products?in_stock=1&currency=USD", "usdInStock"],
      ["/api/v1/products?currency=USD&in_stock=true&limit=20&sort=newest", "usdInStock"],
      ["/api/v1/products?currency=usd&in_stock=true", 400],
      ["/api/v1/products?currency=USD&in_stock=TRUE", 400],
      ["/api/v1/products?currency=USD&in_stock=true&in_stock=false", 400],
      ["/api/v1/products?currency=USD%20&in_stock=true", 400],
      ["/api/v1/products?currency=%EF%BC%B5SD&in_stock=true", 400],
      // One product, by SKU and by id.
      [`/api/v1/products/${sku}?`, "sku"],
      [`/api/v1/products/${sku}?x=1`, 400],
      [`/api/v1/products/${sku}?x=`, 400],
      [`/api/v1/products/${sku}%00`, 400],
      [`/api/v1/products/${sku}%20`, 400],
      [`/api/v1/products/%20${sku}`, 400],
      [`/api/v1/products/${sku}%0d%0a`, 400],
      [`/api/v1/products/${sku.toLowerCase()}`, 404],
      [`/api/v1/products/${sku}-`, 404],
      [`/api/v1/products/${fullwidth(sku)}`, 400],
      [`/api/v1/products/${id.toUpperCase()}`, "id"],
      [`/api/v1/products/${id.slice(0, 9)}${id.slice(9).toUpperCase()}`, "id"],
      [`/api/v1/products/${id}?cursor=abc`, 400],
      [`/api/v1/products/${id}%00`, 400],
      [`/api/v1/products/${"A".repeat(300)}`, 400],
      // Search.
      ["/api/v1/search?q=LAPTOP", "search"],
      ["/api/v1/search?q=%20laptop%20", "search"],
      ["/api/v1/search?q=laptop+", "search"],
      ["/api/v1/search?q=laptop+laptop", "search"],
      ["/api/v1/search?q=Laptop%21%21", "search"],
      [`/api/v1/search?q=${fullwidth("laptop")}`, "search"], // NFKC folds fullwidth letters
      ["/api/v1/search?q=laptop&limit=020", "search"],
      ["/api/v1/search?limit=20&q=laptop&", "search"],
      ["/api/v1/search?q=pro++LAPTOP", "searchTwo"],
      ["/api/v1/search?q=laptop&q=kettle", 400],
      ["/api/v1/search?q=laptop%00", 400],
      ["/api/v1/search?q=lap%00top", 400],
      ["/api/v1/search?q=%00", 400],
      ["/api/v1/search?q=", 400],
      ["/api/v1/search?q=%20", 400],
      ["/api/v1/search?q=%21%21%21", 400],
      ["/api/v1/search?q=laptop&x=1", 400],
      ["/api/v1/search?q=laptop&cursor=", 400],
      [`/api/v1/search?q=${long}`, 400],
      // Categories.
      ["/api/v1/categories?", "categories"],
      ["/api/v1/categories?&", "categories"],
      ["/api/v1/categories?x=1", 400],
      ["/api/v1/categories?limit=20", 400],
    ];
    expect(variants.length).toBeGreaterThanOrEqual(90);

    const failures: string[] = [];
    for (const [path, expected] of variants) {
      for (let round = 0; round < 2; round++) {
        const res = await get(path);
        if (res.status >= 500) failures.push(`${path} → ${res.status} (a 5xx)`);
        if (typeof expected === "number") {
          if (res.status !== expected) failures.push(`${path} → ${res.status}, expected ${expected}`);
          else await expectUncachedProblem(res, path);
        } else if (res.status !== 200) {
          failures.push(`${path} → ${res.status}, expected the answer of ${N[expected]}`);
        } else {
          const text = await res.text();
          if (text !== primed[expected].body) failures.push(`${path} → another body than ${N[expected]}`);
          if (res.headers.get("etag") !== primed[expected].etag) failures.push(`${path} → another ETag than ${N[expected]}`);
        }
      }
    }
    expect(failures).toEqual([]);

    // What a normal client receives has not changed, and is still served from the primed entries.
    for (const [name, path] of Object.entries(N) as [Normal, string][]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-cache"), path).toBe("HIT");
      expect(res.headers.get("etag"), path).toBe(primed[name].etag);
      expect(await res.text(), path).toBe(primed[name].body);
    }
  });
});
