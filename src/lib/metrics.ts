/**
 * Metrics on Workers Analytics Engine (the `METRICS` dataset binding): one data point per request,
 * written with the access-log line (src/middleware/request-context.ts, both lanes), and one per
 * business event, written where the event happens (`countEvent`). The positional schema, which
 * index, blob and double holds what, is documented in docs/ops/metrics.md with the SQL of every
 * panel: change both together and bump SCHEMA_VERSION.
 *
 * A write never blocks (writeDataPoint is fire-and-forget, nothing is awaited) and never throws:
 * a broken or missing binding costs a metric, never a request.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** blob10 of every point: queries can tell schema versions apart. */
export const SCHEMA_VERSION = "1";

/** Every business event, as written in blob2 (and the index) of an event point. */
export const METRIC_EVENTS = [
  "order_created",
  "order_expired",
  "order_cancelled",
  "payment_settled",
  "payment_failed",
  "payment_anomaly",
  "webhook_received",
  "webhook_rejected",
  "webhook_duplicate",
  "queue_retry",
  "queue_dead_lettered",
  "breaker_opened",
  "breaker_closed",
  "rate_limited",
  "login_lockout",
  "shipping_fallback",
  "stale_if_error",
  "shed",
  "guard_unavailable",
] as const;
export type MetricEvent = (typeof METRIC_EVENTS)[number];

/** What wrote an event point (blob8): an HTTP request, a queue batch, a Cron Trigger, a Durable Object. */
export type MetricSource = "http" | "queue" | "cron" | "do";

/** Analytics Engine accepts 250 points per invocation; past this many, points are dropped, never the work. */
export const MAX_POINTS_PER_INVOCATION = 200;
/** Longest blob kept (the dataset accepts 16 KB per point; labels are short). */
const MAX_BLOB = 128;
/** An index is at most 96 bytes; ours are ASCII. */
const MAX_INDEX = 96;

export interface MetricsContext {
  dataset: AnalyticsEngineDataset | undefined;
  /** Git commit of the running build (blob9). */
  release: string;
  /** Cloudflare location (`request.cf.colo`), "-" when unknown (blob7). */
  colo: string;
  source: MetricSource;
}

interface Scope extends MetricsContext {
  points: number;
}

/**
 * The invocation's metrics context, set at the three entries (fetch, queue, scheduled), so code that
 * counts an event needs no binding passed down to it. Each `run` has its own store: nothing is shared
 * between requests, and outside a scope (unit tests calling a service directly) countEvent does nothing.
 */
const current = new AsyncLocalStorage<Scope>();

/** Runs `fn` with `ctx` as the metrics context of everything it calls (awaited or not). */
export function withMetrics<T>(ctx: MetricsContext, fn: () => T): T {
  return current.run({ ...ctx, points: 0 }, fn);
}

const blob = (v: string | number | undefined | null): string => (v === undefined || v === null ? "" : String(v).slice(0, MAX_BLOB));

function write(scope: Scope, point: AnalyticsEngineDataPoint): void {
  if (!scope.dataset || scope.points >= MAX_POINTS_PER_INVOCATION) return;
  scope.points++;
  try {
    scope.dataset.writeDataPoint(point);
  } catch {
    // A metric is never worth a failed request, job or message.
  }
}

export interface EventFields {
  /** blob3: what the event is about (policy, provider, queue, breaker, anomaly kind…), low cardinality only. */
  detail?: string | undefined;
  /** blob4: a second label (reason, outcome), low cardinality only. */
  detail2?: string | undefined;
  /** double1: how many events this point stands for (default 1). */
  count?: number;
}

function eventPoint(ctx: MetricsContext, event: MetricEvent, f: EventFields): AnalyticsEngineDataPoint {
  return {
    indexes: [event],
    blobs: ["event", event, blob(f.detail), blob(f.detail2), "", "", blob(ctx.colo), ctx.source, blob(ctx.release), SCHEMA_VERSION],
    doubles: [f.count ?? 1, 0],
  };
}

/** Counts a business event in the current invocation's dataset; a no-op outside a metrics context or for a count of 0. */
export function countEvent(event: MetricEvent, fields: EventFields = {}): void {
  const scope = current.getStore();
  if (!scope || fields.count === 0) return;
  write(scope, eventPoint(scope, event, fields));
}

/** Counts an event with an explicit context: for code that runs outside any invocation scope (Durable Objects). */
export function writeEvent(ctx: MetricsContext, event: MetricEvent, fields: EventFields = {}): void {
  if (fields.count === 0) return;
  write({ ...ctx, points: 0 }, eventPoint(ctx, event, fields));
}

export interface RequestPoint {
  method: string;
  /** The route template (`/api/v1/products/:idOrSku`), never the raw path: bounded cardinality. */
  route: string;
  status: number;
  durationMs: number;
  /** X-Cache of the response (HIT, STALE, MISS, BYPASS), if any. */
  cache: string | undefined;
  /** Which tier of the public cache answered (l1, l2), if any. */
  cacheTier: string | undefined;
  /** "hot" when the hot lane answered, "app" otherwise. */
  lane: "hot" | "app";
}

/** The request's data point: one writeDataPoint, nothing awaited (the hot lane calls this too). */
export function writeRequestPoint(ctx: Omit<MetricsContext, "source">, r: RequestPoint): void {
  if (!ctx.dataset) return;
  try {
    ctx.dataset.writeDataPoint({
      indexes: [`${r.method} ${r.route}`.slice(0, MAX_INDEX)],
      blobs: [
        "request",
        blob(r.route),
        r.method,
        String(r.status),
        blob(r.cache),
        blob(r.cacheTier),
        blob(ctx.colo),
        r.lane,
        blob(ctx.release),
        SCHEMA_VERSION,
      ],
      doubles: [r.durationMs, r.status],
    });
  } catch {
    // Never fail the request it measures.
  }
}

/** The Cloudflare location that ran a request (`request.cf.colo`), "-" when unknown (tests, local). */
export function coloOf(req: Request): string {
  const colo = (req.cf as { colo?: unknown } | undefined)?.colo;
  return typeof colo === "string" ? colo : "-";
}
