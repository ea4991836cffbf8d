/**
 * Issue 18, item 1: stale-if-error. When the origin fails (Postgres unreachable), a public catalogue read
 * is answered from the last good copy in either cache tier, if it is at most TTL + CATALOG_STALE_IF_ERROR_SEC
 * old, as `X-Cache: STALE-IF-ERROR` with `Warning`, `Age` and a log line; otherwise the 503 stands.
 * `/health/ready` is `degraded` (200) while this location can serve the catalogue from cache, `down` (503) otherwise.
 *
 * Every test runs on its own origin (its own catalogue generation and keys), with a 1 s TTL and no SWR window,
 * so a copy primed and then waited on for 1.1 s is past TTL + SWR: only stale-if-error may serve it.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import { l1Peek } from "../src/lib/isolate-cache.ts";
import { cacheKey } from "../src/middleware/edge-cache.ts";
import { memoisedCatalogGeneration } from "../src/services/cache-invalidation.ts";
import { uniqueSuffix } from "./helpers.ts";

const DEAD_PG = "postgres://postgres:postgres@127.0.0.1:1/x";
const SHORT = { CATALOG_CACHE_TTL_SEC: "1", CATALOG_CACHE_SWR_SEC: "0", LOG_LEVEL: "info" };
const up = (vars: Record<string, string> = {}) => ({ ...env, ...SHORT, ...vars }) as Env;
const down = (vars: Record<string, string> = {}) =>
  ({
    ...env,
    ...SHORT,
    HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, connectionString: DEAD_PG, host: "127.0.0.1", port: 1, database: "x" },
    HEALTH_DB_TIMEOUT_MS: "1000",
    ...vars,
  }) as unknown as Env;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  res: Response;
  body: string;
  /** Parsed JSON log lines written while it ran. */
  logs: Record<string, unknown>[];
}

function client() {
  const origin = `https://sie-${uniqueSuffix()}.test`;
  const send = async (path: string, bindings: Env, init?: RequestInit): Promise<Sent> => {
    const logs: Record<string, unknown>[] = [];
    const collect = (line: unknown) => {
      try {
        logs.push(JSON.parse(String(line)) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    };
    const spies = ["log", "warn", "error"].map((m) => vi.spyOn(console, m as "log").mockImplementation(collect));
    const ctx = createExecutionContext();
    try {
      const res = await worker.fetch(new Request(`${origin}${path}`, init), bindings, ctx);
      await waitOnExecutionContext(ctx);
      return { res, body: await res.text(), logs };
    } finally {
      for (const s of spies) s.mockRestore();
    }
  };
  return { origin, send };
}

afterEach(() => vi.restoreAllMocks());

const LIST = "/api/v1/products?limit=3&sort=newest";

describe("stale-if-error: the origin fails, the last good copy answers", () => {
  it("from L1 (same isolate): 200, same body and ETag, X-Cache STALE-IF-ERROR, Warning, Age, no-store, a log line", async () => {
    const { send } = client();
    const primed = await send(LIST, up());
    expect(primed.res.status).toBe(200);
    expect(primed.res.headers.get("x-cache")).toBe("MISS");
    await sleep(1100);
    const stale = await send(LIST, down());
    expect(stale.res.status).toBe(200);
    expect(stale.res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
    expect(stale.body).toBe(primed.body);
    expect(stale.res.headers.get("etag")).toBe(primed.res.headers.get("etag"));
    expect(stale.res.headers.get("warning")).toBe('111 - "Revalidation Failed"');
    expect(Number(stale.res.headers.get("age"))).toBeGreaterThanOrEqual(1);
    expect(stale.res.headers.get("cache-control")).toBe("no-store");
    expect(stale.res.headers.get("content-type")).toMatch(/application\/json/);
    const line = stale.logs.find((l) => l.msg === "origin failed: serving stale-if-error");
    expect(line).toMatchObject({ component: "cache", tier: "l1", origin_status: 503 });
    const access = stale.logs.find((l) => l.msg === "request");
    expect(access).toMatchObject({ status: 200, cache_tier: "l1" });
  });

  it("from L2 (no L1): the Cache API copy, kept for TTL + max(SWR, CATALOG_STALE_IF_ERROR_SEC)", async () => {
    const { origin, send } = client();
    const noL1 = { CATALOG_L1_MAX_BYTES: "0" };
    const primed = await send(LIST, up(noL1));
    expect(primed.res.headers.get("x-cache")).toBe("MISS");
    const gen = memoisedCatalogGeneration(origin, 1000);
    expect(gen).toBeDefined();
    const stored = await caches.default.match(cacheKey(origin, LIST, gen));
    expect(stored?.headers.get("cache-control")).toBe(`public, max-age=${1 + 86_400}`);
    await stored?.body?.cancel();
    await sleep(1100);
    const stale = await send(LIST, down(noL1));
    expect(stale.res.status).toBe(200);
    expect(stale.res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
    expect(stale.body).toBe(primed.body);
    expect(stale.logs.find((l) => l.msg === "origin failed: serving stale-if-error")).toMatchObject({ tier: "l2" });
  });

  it("L1 alone is enough: the Cache API entry gone, the isolate's copy still answers", async () => {
    const { origin, send } = client();
    const primed = await send(LIST, up());
    const gen = memoisedCatalogGeneration(origin, 1000);
    expect(await caches.default.delete(cacheKey(origin, LIST, gen))).toBe(true);
    // Past the L1 residency too (CATALOG_L1_TTL_SEC is at least 1 s): kept, not served as a HIT.
    await sleep(1100);
    expect(l1Peek(cacheKey(origin, LIST, gen))).toBeDefined();
    const stale = await send(LIST, down());
    expect(stale.res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
    expect(stale.body).toBe(primed.body);
  });

  it("If-None-Match with the stale ETag is a 304; HEAD has no body", async () => {
    const { send } = client();
    const primed = await send(LIST, up());
    const etag = primed.res.headers.get("etag") as string;
    await sleep(1100);
    const notModified = await send(LIST, down(), { headers: { "If-None-Match": etag } });
    expect(notModified.res.status).toBe(304);
    expect(notModified.res.headers.get("x-cache")).toBe("STALE-IF-ERROR");
    const head = await send(LIST, down(), { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("one product and search too", async () => {
    const { send } = client();
    const list = JSON.parse((await send(LIST, up())).body) as { data: { id: string }[] };
    const id = list.data[0]?.id as string;
    const one = await send(`/api/v1/products/${id}`, up());
    const search = await send("/api/v1/search?q=demo", up());
    expect([one.res.status, search.res.status]).toEqual([200, 200]);
    await sleep(1100);
    const oneStale = await send(`/api/v1/products/${id}`, down());
    const searchStale = await send("/api/v1/search?q=demo", down());
    expect([oneStale.res.headers.get("x-cache"), searchStale.res.headers.get("x-cache")]).toEqual(["STALE-IF-ERROR", "STALE-IF-ERROR"]);
    expect(oneStale.body).toBe(one.body);
  });
});

describe("stale-if-error: when the 503 stands", () => {
  it("nothing was ever cached for that read", async () => {
    const { send } = client();
    const r = await send(`/api/v1/products?limit=4&min_price=${Math.floor(Math.random() * 1e6)}`, down());
    expect(r.res.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ code: "database_unavailable" });
    expect(Number(r.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("the copy is older than TTL + CATALOG_STALE_IF_ERROR_SEC", async () => {
    const { send } = client();
    const sie = { CATALOG_STALE_IF_ERROR_SEC: "1" };
    expect((await send(LIST, up(sie))).res.status).toBe(200);
    await sleep(2100);
    const r = await send(LIST, down(sie));
    expect(r.res.status).toBe(503);
    expect(r.res.headers.get("x-cache")).toBeNull();
  });

  it("CATALOG_STALE_IF_ERROR_SEC=0 switches it off", async () => {
    const { send } = client();
    const off = { CATALOG_STALE_IF_ERROR_SEC: "0" };
    expect((await send(LIST, up(off))).res.status).toBe(200);
    await sleep(1100);
    const r = await send(LIST, down(off));
    expect(r.res.status).toBe(503);
  });

  it("a 4xx is never replaced by a stale copy, and the database back means fresh answers again", async () => {
    const { send } = client();
    expect((await send(LIST, up())).res.status).toBe(200);
    await sleep(1100);
    const bad = await send("/api/v1/products?limit=0", down());
    expect(bad.res.status).toBe(400);
    const back = await send(LIST, up());
    expect(back.res.status).toBe(200);
    expect(back.res.headers.get("x-cache")).toBe("MISS");
    expect(back.res.headers.get("warning")).toBeNull();
  });
});

describe("/health/ready: degraded vs down", () => {
  it("down (503, readiness: down) when this location has no catalogue cached", async () => {
    const { send } = client();
    const r = await send("/health/ready", down());
    expect(r.res.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ code: "service_unavailable", readiness: "down", checks: { database: "down" } });
    expect(r.res.headers.get("retry-after")).toBe("5");
  });

  it("degraded (200 with a body) once a catalogue read was cached here; down again with stale-if-error off", async () => {
    const { send } = client();
    expect((await send(LIST, up())).res.status).toBe(200);
    const r = await send("/health/ready", down());
    expect(r.res.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: "degraded", checks: { database: "down", catalog: "stale-if-error" } });
    expect(r.res.headers.get("cache-control")).toBe("no-store");
    expect(r.logs.find((l) => l.msg === "readiness: database unreachable")).toMatchObject({ readiness: "degraded" });
    const off = await send("/health/ready", down({ CATALOG_STALE_IF_ERROR_SEC: "0" }));
    expect(off.res.status).toBe(503);
  });

  it("ok when the database answers", async () => {
    const { send } = client();
    const r = await send("/health/ready", up());
    expect(r.res.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: "ok" });
  });
});
