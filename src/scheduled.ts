/** Cron Triggers: the cron expression picks the jobs (src/services/jobs.service.ts SCHEDULE). */
import { loadConfig } from "./config.ts";
import { createDatabase, databaseOptions } from "./db/client.ts";
import { createLogger, errorFields } from "./lib/logger.ts";
import { runScheduled } from "./services/jobs.service.ts";

export async function handleScheduled(cron: string, env: Env): Promise<void> {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, { component: "jobs", cron });
  const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
  try {
    await runScheduled(cron, { db: () => db.orm(), cfg, log, env });
  } catch (err) {
    log.error("scheduled run failed", errorFields(err));
    throw err;
  } finally {
    await db.close();
  }
}
