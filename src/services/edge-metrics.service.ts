/**
 * `GET /metrics/edge`: the request and event data points in Analytics Engine, aggregated over the last
 * EDGE_METRICS_WINDOW_SEC through the SQL API and exposed as Prometheus gauges, so the service-level
 * alerts (latency, errors, cache hit ratio, order errors) are Prometheus rules like the rest
 * (deploy/prometheus/rules/toko.rules.yml). Sampled, like everything Analytics Engine stores: counts
 * are `SUM(_sample_interval)` and quantiles are weighted by it. The queries are the panels' queries
 * of docs/ops/metrics.md over a fixed window. Cached per isolate for EDGE_METRICS_CACHE_SEC.
 */
import type { Config } from "../config.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { type MetricFamily, renderExposition } from "../lib/prometheus.ts";
import { withTimeout } from "../lib/timeout.ts";

const SQL_TIMEOUT_MS = 8000;
/** Percentile label value, quantile level, column. (`quantile` is a label only summaries may carry: promtool.) */
const QUANTILES = [
  ["50", "0.5", "p50_ms"],
  ["95", "0.95", "p95_ms"],
  ["99", "0.99", "p99_ms"],
] as const;

const quantileColumns = QUANTILES.map(([, q, col]) => `quantileExactWeighted(${q})(double1, _sample_interval) AS ${col}`).join(",\n  ");

/** The SQL of each query; the dataset name and window are validated by the config schema (no quoting needed). */
export function edgeQueries(dataset: string, windowSec: number) {
  const since = `timestamp > NOW() - INTERVAL '${windowSec}' SECOND`;
  return {
    routes: `SELECT blob2 AS route, blob3 AS method,
  SUM(_sample_interval) AS requests,
  sumIf(_sample_interval, double2 >= 500) AS errors_5xx,
  sumIf(_sample_interval, double2 >= 400 AND double2 < 500) AS errors_4xx,
  sumIf(_sample_interval, blob5 = 'HIT' OR blob5 = 'STALE') AS cache_hits,
  sumIf(_sample_interval, blob5 = 'MISS') AS cache_misses,
  ${quantileColumns}
FROM ${dataset}
WHERE blob1 = 'request' AND ${since}
GROUP BY route, method
ORDER BY requests DESC
LIMIT 300
FORMAT JSON`,
    reads: `SELECT SUM(_sample_interval) AS requests,
  ${quantileColumns}
FROM ${dataset}
WHERE blob1 = 'request' AND (blob3 = 'GET' OR blob3 = 'HEAD') AND blob2 LIKE '/api/v1/%' AND ${since}
FORMAT JSON`,
    events: `SELECT blob2 AS event, blob3 AS detail, SUM(_sample_interval * double1) AS events
FROM ${dataset}
WHERE blob1 = 'event' AND ${since}
GROUP BY event, detail
ORDER BY events DESC
LIMIT 500
FORMAT JSON`,
  };
}

type Row = Record<string, string | number | null>;

async function runSql(cfg: Config, sqlText: string, fetcher: typeof fetch): Promise<Row[]> {
  const url = `${cfg.CLOUDFLARE_API_BASE}/accounts/${cfg.ANALYTICS_ACCOUNT_ID}/analytics_engine/sql`;
  const res = await withTimeout(
    fetcher(url, { method: "POST", headers: { Authorization: `Bearer ${cfg.ANALYTICS_API_TOKEN}` }, body: sqlText }),
    SQL_TIMEOUT_MS,
    "Analytics Engine SQL API",
  );
  if (!res.ok) throw new Error(`Analytics Engine SQL API answered ${res.status}`);
  const body = (await res.json()) as { data?: Row[] };
  if (!Array.isArray(body.data)) throw new Error("Analytics Engine SQL API: no data in the answer");
  return body.data;
}

/** ClickHouse quotes 64-bit integers in JSON; a quantile over no rows is NaN or null: such samples are left out. */
const num = (v: unknown): number | null => {
  const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : null;
};

const gauge = (name: string, help: string, samples: MetricFamily["samples"]): MetricFamily => ({ name, help, type: "gauge", samples });

function samples(rows: Row[], labels: (r: Row) => Record<string, string>, value: (r: Row) => number | null): MetricFamily["samples"] {
  return rows.flatMap((r) => {
    const v = value(r);
    return v === null ? [] : [{ labels: labels(r), value: v }];
  });
}

function render(cfg: Config, up: boolean, data: { routes: Row[]; reads: Row[]; events: Row[] }): string {
  const w = String(cfg.EDGE_METRICS_WINDOW_SEC);
  const rl = (r: Row) => ({ route: String(r.route ?? ""), method: String(r.method ?? "") });
  const seconds = (col: string) => (r: Row) => {
    const ms = num(r[col]);
    return ms === null ? null : ms / 1000;
  };
  const families: MetricFamily[] = [
    gauge("toko_edge_up", "1 when the Analytics Engine SQL API answered every query of this scrape, else 0 (figures absent).", [
      { value: up ? 1 : 0 },
    ]),
    gauge("toko_edge_window_seconds", "The window every toko_edge_* figure covers (EDGE_METRICS_WINDOW_SEC, up to now).", [
      { value: cfg.EDGE_METRICS_WINDOW_SEC },
    ]),
    gauge(
      "toko_edge_requests",
      `Requests in the window, per route template and method (sampled; window ${w} s).`,
      samples(data.routes, rl, (r) => num(r.requests)),
    ),
    gauge(
      "toko_edge_requests_5xx",
      "Requests answered 5xx in the window, per route and method.",
      samples(data.routes, rl, (r) => num(r.errors_5xx)),
    ),
    gauge(
      "toko_edge_requests_4xx",
      "Requests answered 4xx in the window, per route and method.",
      samples(data.routes, rl, (r) => num(r.errors_4xx)),
    ),
    gauge(
      "toko_edge_cache_hits",
      "Requests answered from an edge cache (X-Cache HIT or STALE) in the window.",
      samples(data.routes, rl, (r) => num(r.cache_hits)),
    ),
    gauge(
      "toko_edge_cache_misses",
      "Cacheable requests that missed (X-Cache MISS) in the window.",
      samples(data.routes, rl, (r) => num(r.cache_misses)),
    ),
    gauge(
      "toko_edge_request_duration_seconds",
      "Request duration percentiles (50, 95, 99) in the window, per route and method (weighted by the sample interval).",
      QUANTILES.flatMap(([percentile, , col]) => samples(data.routes, (r) => ({ ...rl(r), percentile }), seconds(col))),
    ),
    gauge(
      "toko_edge_read_requests",
      "API reads (GET and HEAD under /api/v1/) in the window.",
      samples(
        data.reads,
        () => ({}),
        (r) => num(r.requests),
      ),
    ),
    gauge(
      "toko_edge_read_duration_seconds",
      "Duration percentiles (50, 95, 99) of API reads (GET and HEAD under /api/v1/) in the window: the latency objective.",
      QUANTILES.flatMap(([percentile, , col]) => samples(data.reads, () => ({ percentile }), seconds(col))),
    ),
    gauge(
      "toko_edge_events",
      "Business events in the window (orders, payments, webhooks, queues, breakers, refusals, lockouts), per event and detail.",
      samples(
        data.events,
        (r) => ({ event: String(r.event ?? ""), detail: String(r.detail ?? "") }),
        (r) => num(r.events),
      ),
    ),
  ];
  return renderExposition(families);
}

export async function collectEdgeMetrics(cfg: Config, log: Logger, fetcher: typeof fetch = fetch): Promise<string> {
  const empty = { routes: [], reads: [], events: [] };
  if (!cfg.ANALYTICS_API_TOKEN || !cfg.ANALYTICS_ACCOUNT_ID || !cfg.METRICS_DATASET) return render(cfg, false, empty);
  const q = edgeQueries(cfg.METRICS_DATASET, cfg.EDGE_METRICS_WINDOW_SEC);
  try {
    const [routes, reads, events] = await Promise.all([
      runSql(cfg, q.routes, fetcher),
      runSql(cfg, q.reads, fetcher),
      runSql(cfg, q.events, fetcher),
    ]);
    return render(cfg, true, { routes, reads, events });
  } catch (err) {
    log.error("edge metrics: the Analytics Engine SQL API failed", { component: "metrics", ...errorFields(err) });
    return render(cfg, false, empty);
  }
}

const memo = new WeakMap<object, { at: number; text: string }>();

/** Cached per isolate (per env object `key`) for EDGE_METRICS_CACHE_SEC; a failed read is not cached. */
export async function edgeMetrics(key: object, cfg: Config, log: Logger): Promise<string> {
  const hit = memo.get(key);
  if (hit && Date.now() - hit.at < cfg.EDGE_METRICS_CACHE_SEC * 1000) return hit.text;
  const at = Date.now();
  const text = await collectEdgeMetrics(cfg, log);
  if (text.includes("\ntoko_edge_up 1\n")) memo.set(key, { at, text });
  return text;
}
