/**
 * `GET /metrics`: what is exact and global, read from Postgres (one statement) and the circuit
 * breakers' Durable Objects, never from per-isolate counters (those live in Analytics Engine). Cached
 * per isolate for METRICS_CACHE_SEC. Postgres away is a figure
 * (`toko_database_up 0`), not a failed scrape, so its own alert can say what is wrong.
 * Every metric and the alert that reads it: docs/ops/metrics.md.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { readStateFigures, type StateFigures } from "../db/ops-metrics.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { type MetricFamily, renderExposition } from "../lib/prometheus.ts";
import { withTimeout } from "../lib/timeout.ts";
import { ORDER_STATUSES } from "../schemas/orders.ts";
import { carrierBreakerName, carrierFromConfig } from "./shipping.service.ts";

/** Breakers read per scrape at most (one Durable Object call each, in parallel). */
export const MAX_BREAKERS = 100;

export interface StateDeps {
  db: () => Promise<Drizzle>;
  cfg: Config;
  log: Logger;
  breakers: Env["CIRCUIT_BREAKER"];
}

interface BreakerReading {
  name: string;
  state: "closed" | "open" | "half_open" | null;
  openedAt: number;
}

async function readBreakers(deps: StateDeps, endpointIds: string[]): Promise<BreakerReading[]> {
  const shipping = await carrierBreakerName(carrierFromConfig(deps.cfg));
  const names = [`payments:${deps.cfg.PAYMENT_PROVIDER}`, shipping, ...endpointIds.map((id) => `webhook:${id}`)].slice(0, MAX_BREAKERS);
  return Promise.all(
    names.map(async (name) => {
      try {
        const stub = deps.breakers.get(deps.breakers.idFromName(name));
        const s = await withTimeout(stub.status(), deps.cfg.GUARD_TIMEOUT_MS * 4, "circuit breaker");
        return { name, state: s.state, openedAt: s.openedAt };
      } catch (err) {
        deps.log.warn("metrics: circuit breaker unreadable", { component: "metrics", breaker: name, ...errorFields(err) });
        return { name, state: null, openedAt: 0 };
      }
    }),
  );
}

const gauge = (name: string, help: string, samples: MetricFamily["samples"]): MetricFamily => ({ name, help, type: "gauge", samples });

function families(cfg: Config, figures: StateFigures | null, breakers: BreakerReading[], generatedAt: number): MetricFamily[] {
  const out: MetricFamily[] = [
    gauge("toko_build_info", "The running build (always 1): release is the git commit.", [
      { labels: { release: cfg.RELEASE, environment: cfg.ENVIRONMENT, payment_provider: cfg.PAYMENT_PROVIDER }, value: 1 },
    ]),
    gauge(
      "toko_database_up",
      "1 when Postgres answered this scrape's query, 0 when it did not (the figures read from it are then absent).",
      [{ value: figures ? 1 : 0 }],
    ),
  ];
  if (figures) {
    const dlq = Object.entries(figures.dead_letters);
    out.push(
      gauge(
        "toko_orders",
        "Orders by status (exact, every order ever placed).",
        ORDER_STATUSES.map((status) => ({ labels: { status }, value: figures.orders[status] ?? 0 })),
      ),
      gauge("toko_webhook_backlog", "Payment webhook events stored and not applied yet (status RECEIVED).", [
        { value: figures.webhook_backlog },
      ]),
      gauge("toko_webhook_backlog_oldest_age_seconds", "Age of the oldest payment webhook event not applied yet (0 when none).", [
        { value: figures.webhook_backlog_oldest_sec ?? 0 },
      ]),
      gauge("toko_dlq_size", "Dead letters waiting for an operator (status DEAD), all queues.", [
        { value: dlq.reduce((n, [, v]) => n + v, 0) },
      ]),
      gauge(
        "toko_dlq_size_by_queue",
        "Dead letters waiting for an operator, per source queue (queues with none are absent).",
        dlq.map(([queue, value]) => ({ labels: { queue }, value })),
      ),
      gauge("toko_outbox_unpublished", "Outbox rows (order and payment events) not published yet.", [
        { value: figures.outbox_unpublished },
      ]),
      gauge("toko_outbox_lag_seconds", "Age of the oldest unpublished outbox row (0 when everything is published).", [
        { value: figures.outbox_oldest_unpublished_sec ?? 0 },
      ]),
    );
    if (figures.reports_last_refresh !== null) {
      out.push(
        gauge("toko_reports_last_refresh_timestamp_seconds", "When the sales report views last finished refreshing (unix time).", [
          { value: figures.reports_last_refresh },
        ]),
      );
    }
  }
  const readable = breakers.filter((b) => b.state !== null);
  out.push(
    gauge(
      "toko_breaker_open",
      "1 while a circuit breaker is open or half-open (calls refused or probing), 0 when closed. payments:<provider>, shipping:<carrier>:<account>, webhook:<endpoint id>.",
      readable.map((b) => ({ labels: { breaker: b.name }, value: b.state === "closed" ? 0 : 1 })),
    ),
    gauge(
      "toko_breaker_opened_timestamp_seconds",
      "When an open or half-open breaker last opened (unix time).",
      readable.filter((b) => b.state !== "closed").map((b) => ({ labels: { breaker: b.name }, value: b.openedAt / 1000 })),
    ),
    gauge("toko_breakers_unreadable", "Circuit breakers whose Durable Object did not answer this scrape.", [
      { value: breakers.length - readable.length },
    ]),
    gauge("toko_metrics_generated_timestamp_seconds", "When these figures were read (they are cached for METRICS_CACHE_SEC).", [
      { value: generatedAt / 1000 },
    ]),
  );
  return out;
}

/** Reads everything once and renders the exposition text. */
export async function collectStateMetrics(deps: StateDeps): Promise<string> {
  let figures: StateFigures | null = null;
  try {
    figures = await readStateFigures(await deps.db(), MAX_BREAKERS);
  } catch (err) {
    deps.log.error("metrics: Postgres did not answer", { component: "metrics", ...errorFields(err) });
  }
  const breakers = await readBreakers(deps, figures?.endpoint_ids ?? []);
  return renderExposition(families(deps.cfg, figures, breakers, Date.now()));
}

const memo = new WeakMap<object, { at: number; text: string }>();

/**
 * The exposition text, read at most once per METRICS_CACHE_SEC per isolate (per env object `key`):
 * scrapes from several Prometheus replicas share one read. Only finished text is kept: a promise made
 * by one request must not be awaited by another (Workers ties I/O to its request).
 */
export async function stateMetrics(key: object, deps: StateDeps): Promise<string> {
  const hit = memo.get(key);
  if (hit && Date.now() - hit.at < deps.cfg.METRICS_CACHE_SEC * 1000) return hit.text;
  const at = Date.now();
  const text = await collectStateMetrics(deps);
  memo.set(key, { at, text });
  return text;
}
