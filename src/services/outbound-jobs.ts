/**
 * The scheduled jobs of the outbound pipeline, spread into JOBS (src/services/jobs.service.ts): the
 * relay's safety net (every minute; a request's commit kicks it at once), the sweep of lost queue
 * messages, and the retention of the delivery log and notifications.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import type { Logger } from "../lib/logger.ts";
import { outboundQueues, purgeOutbound, sweepOutbound } from "./outbound-maintenance.service.ts";
import { relayOutbox } from "./outbox-relay.service.ts";

interface OutboundJobContext {
  db: Drizzle;
  cfg: Config;
  log: Logger;
  env: Env;
  deadline: number;
}

export const OUTBOUND_JOBS = {
  "outbox-relay": {
    description:
      "Publishes unpublished outbox rows to the outbox queue in id order (FOR UPDATE SKIP LOCKED, so it runs safely next to the post-commit kicks), then marks them published.",
    run: async ({ db, cfg, env, deadline }: OutboundJobContext) => {
      const r = await relayOutbox(db, env.OUTBOX_EVENTS, { batchSize: cfg.JOB_BATCH_SIZE, deadline });
      return { published: r.published, batches: r.batches };
    },
  },
  "outbound-sweep": {
    description:
      "Queues again webhook deliveries due and notifications pending for OUTBOUND_SWEEP_AFTER_SEC whose queue message was lost (at most once per that interval).",
    run: ({ db, cfg, env }: OutboundJobContext) =>
      sweepOutbound(db, outboundQueues(env), { afterSec: cfg.OUTBOUND_SWEEP_AFTER_SEC, batchSize: cfg.JOB_BATCH_SIZE }),
  },
  "outbound-retention": {
    description:
      "Deletes webhook messages (with their deliveries and attempts) and finished notifications older than OUTBOUND_LOG_RETENTION_SEC.",
    run: ({ db, cfg, deadline }: OutboundJobContext) =>
      purgeOutbound(db, { retentionSec: cfg.OUTBOUND_LOG_RETENTION_SEC, batchSize: cfg.JOB_BATCH_SIZE, deadline }),
  },
};
