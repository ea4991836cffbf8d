/**
 * The worker's non-HTTP entries, observed in one place (src/index.ts wraps `queue` and `scheduled`):
 * a metrics context for the events counted inside (src/lib/metrics.ts), queue retries and dead-letter
 * arrivals counted per batch for every consumer, and unhandled errors reported to Sentry (then rethrown,
 * so the platform still retries the batch or marks the Cron run failed).
 */
import { type Config, loadConfig } from "../config.ts";
import { countEvent, type MetricsContext, withMetrics } from "../lib/metrics.ts";
import { reportError } from "../lib/sentry.ts";

/** The config if it loads (a bad one is reported by the handlers themselves), for release and Sentry. */
function configOf(env: Env): Config | undefined {
  try {
    return loadConfig(env);
  } catch {
    return undefined;
  }
}

function metricsContext(env: Env, cfg: Config | undefined, source: MetricsContext["source"]): MetricsContext {
  return { dataset: env.METRICS, release: cfg?.RELEASE ?? "dev", colo: "-", source };
}

function report(err: unknown, cfg: Config | undefined, ctx: ExecutionContext, source: "queue" | "cron", tags: Record<string, string>) {
  if (!cfg?.SENTRY_DSN) return;
  // A failed cron run lists every job that failed: one report each, so they group by their own stacks.
  const errors = err instanceof AggregateError ? err.errors : [err];
  for (const e of errors) {
    reportError(e, {
      dsn: cfg.SENTRY_DSN,
      release: cfg.RELEASE,
      environment: cfg.ENVIRONMENT,
      waitUntil: (p) => ctx.waitUntil(p),
      source,
      tags,
    });
  }
}

type Outcome = "ack" | "retry";

/**
 * The batch as the consumer sees it, with every ack and retry remembered (and passed on): how many
 * messages went back to the queue is then known for any consumer, without touching its code.
 */
function observeBatch(batch: MessageBatch<unknown>) {
  const outcome = new Map<string, Outcome>();
  const messages = batch.messages.map(
    (m): Message<unknown> => ({
      get id() {
        return m.id;
      },
      get timestamp() {
        return m.timestamp;
      },
      get body() {
        return m.body;
      },
      get attempts() {
        return m.attempts;
      },
      ack() {
        outcome.set(m.id, "ack");
        m.ack();
      },
      retry(options) {
        outcome.set(m.id, "retry");
        m.retry(options);
      },
    }),
  );
  const observed: MessageBatch<unknown> = {
    messages,
    queue: batch.queue,
    metadata: batch.metadata,
    retryAll(options) {
      for (const m of batch.messages) outcome.set(m.id, "retry");
      batch.retryAll(options);
    },
    ackAll() {
      for (const m of batch.messages) outcome.set(m.id, "ack");
      batch.ackAll();
    },
  };
  /** Messages that go back to the queue: retried, or (when the handler threw) never settled either way. */
  const retried = (threw: boolean) => batch.messages.filter((m) => outcome.get(m.id) === "retry" || (threw && !outcome.has(m.id))).length;
  return { observed, retried };
}

const DEAD_LETTER_QUEUE = /-dlq$/;

export function observeQueue(
  handler: (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>,
): (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void> {
  return async (batch, env, ctx) => {
    const cfg = configOf(env);
    const metrics = metricsContext(env, cfg, "queue");
    const { observed, retried } = observeBatch(batch);
    let threw = false;
    try {
      await withMetrics(metrics, () => handler(observed, env, ctx));
    } catch (err) {
      threw = true;
      report(err, cfg, ctx, "queue", { queue: batch.queue });
      throw err;
    } finally {
      withMetrics(metrics, () => {
        countEvent("queue_retry", { detail: batch.queue, count: retried(threw) });
        // A message reaches a dead-letter queue once, on its first delivery there (the DLQ consumer's own
        // retries come back with attempts > 1).
        if (DEAD_LETTER_QUEUE.test(batch.queue)) {
          countEvent("queue_dead_lettered", { detail: batch.queue, count: batch.messages.filter((m) => m.attempts <= 1).length });
        }
      });
    }
  };
}

export function observeScheduled(
  handler: (controller: ScheduledController, env: Env, ctx: ExecutionContext) => Promise<void>,
): (controller: ScheduledController, env: Env, ctx: ExecutionContext) => Promise<void> {
  return async (controller, env, ctx) => {
    const cfg = configOf(env);
    try {
      await withMetrics(metricsContext(env, cfg, "cron"), () => handler(controller, env, ctx));
    } catch (err) {
      report(err, cfg, ctx, "cron", { cron: controller.cron });
      throw err;
    }
  };
}
