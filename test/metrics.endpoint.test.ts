/**
 * Issue 16, item 2: `GET /metrics` (exact, global: Postgres and the breakers' Durable Objects) and
 * `GET /metrics/edge` (Analytics Engine through the SQL API), behind the METRICS_TOKEN bearer token,
 * in valid Prometheus text (the format rules promtool checks; CI also runs `promtool check metrics`
 * on the same renderers: scripts/prometheus-check.ts).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { edgeQueries } from "../src/services/edge-metrics.service.ts";
import { api, apiSettled, expectProblem, sql, uniqueSuffix } from "./helpers.ts";

const TOKEN = "metrics-token-0123456789abcdef-0123456789";
const bindings = (vars: Record<string, unknown> = {}) =>
  ({ ...env, METRICS_TOKEN: TOKEN, METRICS_CACHE_SEC: "0", ...vars }) as unknown as Env;
const scrape = (path: string, b: Env, token: string | null = TOKEN) =>
  apiSettled(path, token === null ? undefined : { headers: { Authorization: `Bearer ${token}` } }, b);

interface Family {
  type: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

/** A strict reader of the text format (what promtool rejects, this throws on). */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.trimEnd().split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const f = families.get(name) ?? { type: "", help: "", samples: [] };
      if (kind === "HELP") {
        expect(f.help, `second HELP for ${name}`).toBe("");
        f.help = rest;
      } else {
        expect(["gauge", "counter", "histogram", "summary", "untyped"]).toContain(rest);
        expect(f.type, `second TYPE for ${name}`).toBe("");
        expect(f.samples, `TYPE after samples for ${name}`).toHaveLength(0);
        f.type = rest;
      }
      families.set(name, f);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    expect(sample, `not a sample line: ${line}`).not.toBeNull();
    const [, name, , body, value] = sample as unknown as [string, string, string, string | undefined, string];
    const f = families.get(name);
    expect(f?.type, `${name} has no TYPE before its samples`).toBeTruthy();
    const labels: Record<string, string> = {};
    for (const m of (body ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g)) labels[m[1] as string] = m[2] as string;
    expect(Object.keys(labels).length, `labels of ${line}`).toBe(body ? (body.match(/="/g) ?? []).length : 0);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    expect(seen.has(key), `duplicate series ${key}`).toBe(false);
    seen.add(key);
    expect(value).toMatch(/^(-?[0-9.e+-]+|NaN|[+-]Inf)$/);
    f?.samples.push({ labels, value: Number(value) });
  }
  return families;
}

const sampleOf = (fams: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  fams.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

afterEach(() => vi.restoreAllMocks());

describe("GET /metrics: bearer token", () => {
  it("401 problem without a token, with a wrong one, and whenever METRICS_TOKEN is not configured", async () => {
    const none = await scrape("/metrics", bindings(), null);
    await expectProblem(none, 401, "unauthorized");
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="toko-metrics"');
    const wrong = await scrape("/metrics", bindings(), `${TOKEN}x`);
    await expectProblem(wrong, 401, "unauthorized");
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    await expectProblem(await scrape("/metrics", bindings(), TOKEN.slice(0, -1)), 401);
    await expectProblem(await scrape("/metrics", bindings({ METRICS_TOKEN: "" }), ""), 401);
    await expectProblem(await scrape("/metrics", bindings({ METRICS_TOKEN: "" }), TOKEN), 401);
    await expectProblem(await scrape("/metrics/edge", bindings(), null), 401);
    // Through the real entry with the suite's own config (no token): 401 too.
    await expectProblem(await api("/metrics", { headers: { Authorization: `Bearer ${TOKEN}` } }), 401);
  });

  it("a token shorter than 32 characters is a configuration error (503 naming it), never a weak lock", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const p = await expectProblem(await scrape("/metrics", bindings({ METRICS_TOKEN: "short-token" }), "short-token"), 503);
    expect(p.invalid_settings).toEqual(["METRICS_TOKEN"]);
  });
});

describe("GET /metrics: exact global state", () => {
  it("valid exposition with every family, figures that match Postgres, and the breakers' state", async () => {
    // A webhook event waiting 10 minutes, a dead letter, and an open breaker for the configured provider.
    const eventId = `evt_metrics_${uniqueSuffix()}`;
    await sql(
      "INSERT INTO webhook_events (provider, event_id, type, payload, received_at) VALUES ('sandbox', $1, 'payment.succeeded', '{}'::jsonb, now() - interval '10 minutes')",
      [eventId],
    );
    const queue = `metrics-test-${uniqueSuffix()}`;
    await sql("INSERT INTO dead_letters (queue, message_key, body, attempts) VALUES ($1, $2, '{}'::jsonb, 4)", [
      queue,
      `k-${uniqueSuffix()}`,
    ]);
    const breaker = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName("payments:sandbox"));
    await runInDurableObject(breaker, (b) => b.record(false, 1));

    const res = await scrape("/metrics", bindings({ RELEASE: "0123abc" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const fams = parseExposition(await res.text());

    expect(sampleOf(fams, "toko_build_info", { release: "0123abc", environment: "test", payment_provider: "sandbox" })).toBe(1);
    expect(sampleOf(fams, "toko_database_up")).toBe(1);
    const statuses = fams.get("toko_orders")?.samples.map((s) => s.labels.status);
    expect(statuses).toEqual(["PENDING", "PAID", "FULFILLED", "SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED"]);
    const [counts] = await sql<{ received: number; dlq: number; refreshed: number }>(
      `SELECT (SELECT count(*) FROM webhook_events WHERE status = 'RECEIVED')::int AS received,
              (SELECT count(*) FROM dead_letters WHERE status = 'DEAD' AND queue = $1)::int AS dlq,
              (SELECT extract(epoch FROM max(finished_at))::float8 FROM report_refreshes) AS refreshed`,
      [queue],
    );
    expect(sampleOf(fams, "toko_webhook_backlog")).toBeGreaterThanOrEqual(1);
    expect(sampleOf(fams, "toko_webhook_backlog")).toBeLessThanOrEqual((counts?.received ?? 0) + 5);
    expect(sampleOf(fams, "toko_webhook_backlog_oldest_age_seconds")).toBeGreaterThanOrEqual(600);
    expect(sampleOf(fams, "toko_dlq_size_by_queue", { queue })).toBe(counts?.dlq);
    expect(sampleOf(fams, "toko_dlq_size")).toBeGreaterThanOrEqual(1);
    expect(sampleOf(fams, "toko_outbox_unpublished")).toBeGreaterThanOrEqual(0);
    expect(sampleOf(fams, "toko_outbox_lag_seconds")).toBeGreaterThanOrEqual(0);
    expect(sampleOf(fams, "toko_reports_last_refresh_timestamp_seconds")).toBeCloseTo(counts?.refreshed ?? 0, 0);
    expect(sampleOf(fams, "toko_breaker_open", { breaker: "payments:sandbox" })).toBe(1);
    expect(sampleOf(fams, "toko_breaker_opened_timestamp_seconds", { breaker: "payments:sandbox" })).toBeGreaterThan(
      Date.now() / 1000 - 60,
    );
    expect(sampleOf(fams, "toko_breakers_unreadable")).toBe(0);

    await runInDurableObject(breaker, (b) => b.record(true, 1));
    const after = parseExposition(await (await scrape("/metrics", bindings())).text());
    expect(sampleOf(after, "toko_breaker_open", { breaker: "payments:sandbox" })).toBe(0);
    expect(after.get("toko_breaker_opened_timestamp_seconds")?.samples).toEqual([]);
  });

  it("Postgres away is a figure (toko_database_up 0), not a failed scrape: build and breakers still answer", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const dead = bindings({
      HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, connectionString: "postgres://postgres:postgres@127.0.0.1:1/x", port: 1 },
      DB_QUERY_TIMEOUT_MS: "3000",
    });
    const res = await scrape("/metrics", dead);
    expect(res.status).toBe(200);
    const fams = parseExposition(await res.text());
    expect(sampleOf(fams, "toko_database_up")).toBe(0);
    expect(fams.has("toko_orders")).toBe(false);
    expect(sampleOf(fams, "toko_build_info", { environment: "test" })).toBe(1);
    expect(fams.get("toko_breaker_open")?.samples.length).toBeGreaterThanOrEqual(1);
  });

  it("cached per isolate for METRICS_CACHE_SEC: a second scrape within it reads nothing again", async () => {
    const cached = bindings({ METRICS_CACHE_SEC: "60" });
    const first = parseExposition(await (await scrape("/metrics", cached)).text());
    await sql("INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, 'payment.succeeded', '{}'::jsonb)", [
      `evt_cache_${uniqueSuffix()}`,
    ]);
    await new Promise((r) => setTimeout(r, 5));
    const second = parseExposition(await (await scrape("/metrics", cached)).text());
    expect(sampleOf(second, "toko_metrics_generated_timestamp_seconds")).toBe(sampleOf(first, "toko_metrics_generated_timestamp_seconds"));
    expect(sampleOf(second, "toko_webhook_backlog")).toBe(sampleOf(first, "toko_webhook_backlog"));
    // Without the cache the next scrape reads again.
    const fresh = parseExposition(await (await scrape("/metrics", bindings())).text());
    expect(sampleOf(fresh, "toko_metrics_generated_timestamp_seconds")).toBeGreaterThan(
      sampleOf(first, "toko_metrics_generated_timestamp_seconds") ?? 0,
    );
  });
});

describe("GET /metrics/edge: Analytics Engine through the SQL API", () => {
  const ACCOUNT = "0123456789abcdef0123456789abcdef";
  const edge = (vars: Record<string, string> = {}) =>
    bindings({
      ANALYTICS_ACCOUNT_ID: ACCOUNT,
      ANALYTICS_API_TOKEN: "analytics-read-token-0123456789",
      METRICS_DATASET: "toko_edge_test",
      CLOUDFLARE_API_BASE: "https://cf-api.stub/client/v4",
      EDGE_METRICS_CACHE_SEC: "0",
      ...vars,
    });

  /** The SQL API stub: answers by which query it was sent, records what it got. */
  function stubSqlApi(status = 200) {
    const sent: { url: string; auth: string | null; body: string }[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      const body = await req.text();
      sent.push({ url: req.url, auth: req.headers.get("authorization"), body });
      if (status !== 200) return new Response("nope", { status });
      const data = body.includes("GROUP BY route")
        ? [
            {
              route: "/api/v1/products",
              method: "GET",
              requests: "1200",
              errors_5xx: "2",
              errors_4xx: "30",
              cache_hits: "1100",
              cache_misses: "90",
              p50_ms: 3.5,
              p95_ms: 41,
              p99_ms: 180,
            },
            {
              route: "/api/v1/orders",
              method: "POST",
              requests: "40",
              errors_5xx: "1",
              errors_4xx: "3",
              cache_hits: "0",
              cache_misses: "0",
              p50_ms: 80,
              p95_ms: 190,
              p99_ms: "nan",
            },
          ]
        : body.includes("blob1 = 'event'")
          ? [{ event: "order_created", detail: "checkout", events: 39 }]
          : [{ requests: "1300", p50_ms: 3.2, p95_ms: 44, p99_ms: 230 }];
      return Response.json({ meta: [], data, rows: data.length });
    });
    return sent;
  }

  it("without the SQL API configured: toko_edge_up 0, valid exposition, no call made", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    const fams = parseExposition(await (await scrape("/metrics/edge", bindings())).text());
    expect(sampleOf(fams, "toko_edge_up")).toBe(0);
    expect(spy).not.toHaveBeenCalled();
  });

  it("queries the dataset over the window with the read token, and exposes quantiles, errors, cache and events", async () => {
    const sent = stubSqlApi();
    const res = await scrape("/metrics/edge", edge({ EDGE_METRICS_WINDOW_SEC: "300" }));
    expect(res.status).toBe(200);
    const fams = parseExposition(await res.text());
    expect(sent).toHaveLength(3);
    for (const s of sent) {
      expect(s.url).toBe(`https://cf-api.stub/client/v4/accounts/${ACCOUNT}/analytics_engine/sql`);
      expect(s.auth).toBe("Bearer analytics-read-token-0123456789");
      expect(s.body).toContain("FROM toko_edge_test");
      expect(s.body).toContain("INTERVAL '300' SECOND");
    }
    expect(sent.map((s) => s.body).sort()).toEqual(Object.values(edgeQueries("toko_edge_test", 300)).sort());
    expect(sampleOf(fams, "toko_edge_up")).toBe(1);
    expect(sampleOf(fams, "toko_edge_window_seconds")).toBe(300);
    expect(sampleOf(fams, "toko_edge_requests", { route: "/api/v1/products", method: "GET" })).toBe(1200);
    expect(sampleOf(fams, "toko_edge_requests_5xx", { route: "/api/v1/orders", method: "POST" })).toBe(1);
    expect(sampleOf(fams, "toko_edge_cache_hits", { route: "/api/v1/products" })).toBe(1100);
    expect(sampleOf(fams, "toko_edge_request_duration_seconds", { route: "/api/v1/orders", percentile: "95" })).toBeCloseTo(0.19);
    // A quantile the API could not compute is left out, not exposed as a number.
    expect(sampleOf(fams, "toko_edge_request_duration_seconds", { route: "/api/v1/orders", percentile: "99" })).toBeUndefined();
    expect(sampleOf(fams, "toko_edge_read_duration_seconds", { percentile: "99" })).toBeCloseTo(0.23);
    expect(sampleOf(fams, "toko_edge_events", { event: "order_created", detail: "checkout" })).toBe(39);
  });

  it("an SQL API failure is toko_edge_up 0 (the scrape itself succeeds) and is not cached", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    stubSqlApi(500);
    const cachedEdge = edge({ EDGE_METRICS_CACHE_SEC: "600" });
    expect(sampleOf(parseExposition(await (await scrape("/metrics/edge", cachedEdge)).text()), "toko_edge_up")).toBe(0);
    vi.restoreAllMocks();
    stubSqlApi();
    expect(sampleOf(parseExposition(await (await scrape("/metrics/edge", cachedEdge)).text()), "toko_edge_up")).toBe(1);
  });
});

describe("OpenAPI", () => {
  it("documents both endpoints under their own bearer scheme (not the users' JWT)", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    };
    expect(doc.paths["/metrics"]?.get?.security).toEqual([{ metricsToken: [] }]);
    expect(doc.paths["/metrics/edge"]?.get?.tags).toEqual(["Operations"]);
    expect(doc.components.securitySchemes.metricsToken).toMatchObject({ type: "http", scheme: "bearer" });
  });
});
