/**
 * Scheduled work. One table of named jobs; Cron Triggers (`[triggers] crons` in wrangler.toml)
 * map to job names in SCHEDULE; `scheduled()` in src/index.ts and
 * `POST /api/v1/admin/jobs/{name}/run` both go through runJob(). Every job is idempotent (safe
 * to run twice, or concurrently), bounded per run (JOB_BATCH_SIZE, JOB_TIME_BUDGET_MS: the next
 * run continues) and logs one line with its counts.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { deleteExpiredBatch, type RetainedTable } from "../db/retention.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
import { ApiError } from "../lib/problem.ts";
import { invalidateOrders } from "./order-cache.service.ts";
import { expireOrders } from "./orders.service.ts";
import { OUTBOUND_JOBS } from "./outbound-jobs.ts";
import { intentCloser, paymentProvider, retryPendingRefunds } from "./payments.service.ts";
import { refreshReports } from "./reports.service.ts";
import { sweepWebhookEvents } from "./webhooks.service.ts";

type Counts = Record<string, number>;

/** What a job run needs from its caller (the Cron Trigger, or the admin route). */
export interface JobDeps {
  db: () => Promise<Drizzle>;
  cfg: Config;
  log: Logger;
  /** Bindings: the payment-events queue (the sweeper), the circuit breakers (provider calls). */
  env: Env;
}

interface JobContext extends Omit<JobDeps, "db"> {
  db: Drizzle;
  deadline: number;
}

/** Provider calls from a job: through the same breaker/timeout/retries as the API; no webhooks sent. */
function paymentDeps(ctx: JobContext) {
  return { db: ctx.db, env: ctx.env, cfg: ctx.cfg, log: ctx.log, provider: paymentProvider(ctx.cfg, { origin: "", log: ctx.log }) };
}

interface Job {
  description: string;
  run(ctx: JobContext): Promise<Counts>;
}

/** Deletes in batches until nothing is left, the deadline passes, or a batch comes back short. */
async function purge(ctx: JobContext, table: RetainedTable, retentionSec: number): Promise<number> {
  let total = 0;
  while (Date.now() < ctx.deadline) {
    const n = await deleteExpiredBatch(ctx.db, table, retentionSec, ctx.cfg.JOB_BATCH_SIZE);
    total += n;
    if (n < ctx.cfg.JOB_BATCH_SIZE) break;
  }
  return total;
}

export const JOBS = {
  "order-expiry": {
    description: "Cancels unpaid PENDING orders past expires_at and restocks them (not while a payment is in flight).",
    run: async (ctx) => {
      const { db, cfg, log, deadline } = ctx;
      const { expired_ids, ...counts } = await expireOrders(db, {
        inFlightSec: cfg.PAYMENT_IN_FLIGHT_MAX_SEC,
        batchSize: cfg.JOB_BATCH_SIZE,
        deadline,
        // An idle open intent is closed at its provider before its order is cancelled.
        closeIntent: intentCloser(paymentDeps(ctx)),
        log,
      });
      countEvent("order_expired", { count: counts.expired });
      await invalidateOrders(cfg, log, expired_ids);
      return counts;
    },
  },
  "webhook-sweep": {
    description:
      "Queues again the webhook events still RECEIVED WEBHOOK_SWEEP_AFTER_SEC after they arrived (their message was lost), at most once per that interval: the final safety net of the payment-events queue.",
    run: ({ db, cfg, log, env, deadline }) =>
      sweepWebhookEvents(db, env.PAYMENT_EVENTS, log, { afterSec: cfg.WEBHOOK_SWEEP_AFTER_SEC, batchSize: cfg.JOB_BATCH_SIZE, deadline }),
  },
  "refund-retry": {
    description:
      "Refunds surplus captures whose refund the provider refused or did not answer (payment_anomalies with refund_status pending).",
    run: (ctx) => retryPendingRefunds(paymentDeps(ctx), { batchSize: ctx.cfg.JOB_BATCH_SIZE, deadline: ctx.deadline }),
  },
  "reports-refresh": {
    description:
      "Refreshes the sales report views (daily_sales, product_sales_daily) CONCURRENTLY, so reads go on; skipped while another refresh runs (advisory lock). Scheduled at MV_REFRESH_SCHEDULE.",
    run: async ({ env, cfg, log }) => {
      const done = await refreshReports({ env, cfg, log }, "job");
      return { refreshed: done ? 1 : 0, skipped: done ? 0 : 1, refresh_ms: done?.duration_ms ?? 0 };
    },
  },
  retention: {
    description: "Deletes idle login counters, finished webhook events and published outbox rows past their retention.",
    run: async (ctx) => ({
      login_throttle: await purge(ctx, "login_throttle", ctx.cfg.LOGIN_THROTTLE_RETENTION_SEC),
      webhook_events: await purge(ctx, "webhook_events", ctx.cfg.WEBHOOK_EVENT_RETENTION_SEC),
      outbox: await purge(ctx, "outbox", ctx.cfg.OUTBOX_RETENTION_SEC),
    }),
  },
  ...OUTBOUND_JOBS,
} satisfies Record<string, Job>;

export type JobName = keyof typeof JOBS;
export const JOB_NAMES = Object.keys(JOBS) as [JobName, ...JobName[]];

/**
 * Cron expression → jobs, with the report refresh at MV_REFRESH_SCHEDULE added by scheduleFor().
 * Together they must list exactly the crons of every environment in wrangler.toml (checked by
 * scripts/check-crons.ts in `npm run lint`).
 */
export const SCHEDULE: Record<string, JobName[]> = {
  // outbox-relay last: it publishes what the jobs before it wrote (expired orders, refunds).
  "* * * * *": ["webhook-sweep", "refund-retry", "order-expiry", "outbound-sweep", "outbox-relay"],
  "17 3 * * *": ["retention", "outbound-retention"],
};

/** The schedule of a deployment: SCHEDULE plus reports-refresh at its configured cron. */
export function scheduleFor(cfg: Pick<Config, "MV_REFRESH_SCHEDULE">): Record<string, JobName[]> {
  const cron = cfg.MV_REFRESH_SCHEDULE;
  return { ...SCHEDULE, [cron]: [...(SCHEDULE[cron] ?? []), "reports-refresh"] };
}

export interface JobResult {
  job: JobName;
  counts: Counts;
  duration_ms: number;
}

export async function runJob(name: string, deps: JobDeps, trigger: string) {
  if (!Object.hasOwn(JOBS, name)) throw new ApiError("not_found", `No job is called '${name}' (known: ${JOB_NAMES.join(", ")}).`);
  const job = name as JobName;
  const started = Date.now();
  try {
    const counts = await JOBS[job].run({
      db: await deps.db(),
      cfg: deps.cfg,
      log: deps.log,
      env: deps.env,
      deadline: started + deps.cfg.JOB_TIME_BUDGET_MS,
    });
    const result: JobResult = { job, counts, duration_ms: Date.now() - started };
    deps.log.info("job finished", { component: "jobs", trigger, ...result });
    return result;
  } catch (err) {
    deps.log.error("job failed", { component: "jobs", job, trigger, duration_ms: Date.now() - started, ...errorFields(err) });
    throw err;
  }
}

/**
 * The jobs of one cron expression, one after another (each bounded by its own time budget). A
 * failing job does not stop the others; the invocation still fails afterwards, so the Cron
 * Trigger's history shows it.
 */
export async function runScheduled(cron: string, deps: JobDeps): Promise<JobResult[]> {
  const names = scheduleFor(deps.cfg)[cron];
  if (!names) throw new Error(`no job is scheduled for cron "${cron}"`);
  const results: JobResult[] = [];
  const failures: unknown[] = [];
  for (const name of names) {
    try {
      results.push(await runJob(name, deps, `cron ${cron}`));
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length) throw new AggregateError(failures, `${failures.length} scheduled job(s) failed`);
  return results;
}
