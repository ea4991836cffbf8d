/** Defect: tables that only grow. The retention job deletes what is past retention, in batches, and nothing else. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runCron, sql, uniqueSuffix } from "./helpers.ts";

/** Batches of 2, so five old rows take several batches in one run. */
const bindings = { ...env, JOB_BATCH_SIZE: "2" } as Env;

const runRetention = () => runCron("17 3 * * *", bindings);

const exists = async (table: string, column: string, value: string) =>
  (await sql(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [value])).length === 1;

describe("retention job", () => {
  it("deletes idle login counters, finished webhook events and published outbox rows past retention — and keeps everything else", async () => {
    const run = uniqueSuffix();
    const throttle = async (name: string, lastFailure: string, lockedUntil: string | null) => {
      await sql("INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) VALUES ($1, 3, now() - $2::interval, $3)", [
        `ip:${run}-${name}`,
        lastFailure,
        lockedUntil,
      ]);
      return `ip:${run}-${name}`;
    };
    const oldIdle = await Promise.all([1, 2, 3, 4, 5].map((i) => throttle(`old${i}`, "2 days", null)));
    const oldButLocked = await throttle("locked", "2 days", new Date(Date.now() + 3_600_000).toISOString());
    const recent = await throttle("recent", "1 hour", null);

    const event = async (name: string, status: string, age: string) => {
      const id = `evt_ret_${run}_${name}`;
      await sql(
        `INSERT INTO webhook_events (provider, event_id, type, payload, status, received_at, processed_at)
         VALUES ('sandbox', $1, 'payment.succeeded', '{}'::jsonb, $2::webhook_event_status, now() - $3::interval,
                 CASE WHEN $2 IN ('PROCESSED', 'IGNORED') THEN now() - $3::interval END)`,
        [id, status, age],
      );
      return id;
    };
    const oldProcessed = await event("processed", "PROCESSED", "31 days");
    const oldIgnored = await event("ignored", "IGNORED", "31 days");
    const oldReceived = await event("received", "RECEIVED", "31 days");
    const oldFailed = await event("failed", "FAILED", "31 days");
    const recentProcessed = await event("recent", "PROCESSED", "1 day");

    const outbox = async (publishedAgo: string | null) => {
      const aggregate = crypto.randomUUID();
      await sql(
        `INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at, published_at)
         VALUES ('order', $1, 'order.created', '{}'::jsonb, now() - interval '30 days', now() - $2::interval)`,
        [aggregate, publishedAgo],
      );
      return aggregate;
    };
    const oldPublished = await outbox("8 days");
    const unpublished = await outbox(null);
    const recentPublished = await outbox("1 day");

    await runRetention();

    for (const key of oldIdle) expect(await exists("login_throttle", "key", key)).toBe(false);
    expect(await exists("login_throttle", "key", oldButLocked)).toBe(true);
    expect(await exists("login_throttle", "key", recent)).toBe(true);
    expect(await exists("webhook_events", "event_id", oldProcessed)).toBe(false);
    expect(await exists("webhook_events", "event_id", oldIgnored)).toBe(false);
    expect(await exists("webhook_events", "event_id", oldReceived)).toBe(true);
    expect(await exists("webhook_events", "event_id", oldFailed)).toBe(true);
    expect(await exists("webhook_events", "event_id", recentProcessed)).toBe(true);
    expect(await exists("outbox", "aggregate_id", oldPublished)).toBe(false);
    expect(await exists("outbox", "aggregate_id", unpublished)).toBe(true);
    expect(await exists("outbox", "aggregate_id", recentPublished)).toBe(true);
  });

  it("refuses a webhook retention shorter than the providers' 72 h retry window (a late retry would be processed twice)", async () => {
    const { loadConfig, ConfigError } = await import("../src/config.ts");
    expect(() => loadConfig({ ...env, WEBHOOK_EVENT_RETENTION_SEC: "3600" } as Env)).toThrow(ConfigError);
  });
});
