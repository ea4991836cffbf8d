/**
 * Issue 14, refreshing the views: on demand (waits, answers with the duration), from the Cron
 * Trigger at MV_REFRESH_SCHEDULE (through the worker's real scheduled() entry), never two at once
 * (a transaction-level advisory lock: 409 for the API, a skip for the job), and reads never blocked
 * by a refresh (CONCURRENTLY).
 *
 * On the embedded Postgres (PGlite) every client shares ONE backend session: a transaction held open
 * by the test would block the worker's own connection, and advisory locks are re-entrant within that
 * one session. The tests that hold a lock from a second connection therefore run on a real Postgres
 * only; on PGlite, refreshes are serialised by the server itself (the non-overlap test runs on both).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REFRESH_LOCK_KEY } from "../src/db/reports.repo.ts";
import { api, connect, createUser, expectProblem, runCron, sql } from "./helpers.ts";
import { freshCurrencies, generateHistory, getJson, insertHistory, refreshNow } from "./reports.helpers.ts";

const admin = await createUser("ADMIN");
const REFRESH = "/api/v1/admin/reports/refresh";
const realPostgres = env.TEST_DATABASE_KIND === "postgres";

type Refresh = { id: string; trigger: string; started_at: string; finished_at: string; duration_ms: number };
const refreshesSince = (id: string) =>
  sql<Refresh>(
    `SELECT id::text, trigger, started_at::text, finished_at::text, duration_ms FROM report_refreshes WHERE id > $1::bigint ORDER BY id`,
    [id],
  );
const lastId = async () => (await sql<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM report_refreshes"))[0]?.id as string;

/** A small history in a currency of its own; its gross revenue once the views include it. */
async function newSales(seed: number) {
  const [currency] = freshCurrencies("W", 1) as [string];
  const h = generateHistory(seed, { currencies: [currency], startDay: "2022-06-01", days: 3, orders: 20 });
  await insertHistory(h);
  const gross = h.orders.filter((o) => o.paidAt !== null).reduce((s, o) => s + o.items.reduce((t, it) => t + it.qty * it.price, 0), 0);
  return { currency, gross, query: `from=2022-05-25&to=2022-06-15&currency=${currency}` };
}
const grossIn = async (query: string) =>
  (await getJson<{ totals: { gross_revenue_cents: number }[] }>(`/api/v1/admin/reports/sales?${query}`, admin)).body.totals[0]
    ?.gross_revenue_cents;

describe("refresh on demand", () => {
  it("POST waits for the refresh and answers with its time and duration; until then the views do not show new sales", async () => {
    const sales = await newSales(11);
    const inserted = Date.now();
    const before = await getJson<{ refreshed_at: string; totals: { gross_revenue_cents: number }[] }>(
      `/api/v1/admin/reports/sales?${sales.query}`,
      admin,
    );
    // Materialized: unless some other suite refreshed since the insert, the new sales are not there yet.
    if (Date.parse(before.body.refreshed_at) < inserted) expect(before.body.totals[0]?.gross_revenue_cents).toBe(0);

    const from = await lastId();
    const res = await api(REFRESH, { method: "POST", headers: admin.auth });
    if (res.status === 409)
      await refreshNow(admin); // another suite's refresh was running
    else {
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = (await res.json()) as { refreshed_at: string; started_at: string; duration_ms: number };
      expect(body.duration_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(body.refreshed_at)).toBeGreaterThanOrEqual(Date.parse(body.started_at));
      expect(Date.parse(body.started_at)).toBeGreaterThanOrEqual(inserted - 1000);
      const logged = (await refreshesSince(from)).filter((r) => r.trigger === "api");
      expect(logged.length).toBeGreaterThanOrEqual(1);
    }
    expect(await grossIn(sales.query)).toBe(sales.gross);
    const after = await getJson<{ refreshed_at: string }>(`/api/v1/admin/reports/sales?${sales.query}`, admin);
    expect(Date.parse(after.body.refreshed_at)).toBeGreaterThanOrEqual(inserted);
  });
});

describe("the scheduled refresh", () => {
  it("runs from the Cron Trigger MV_REFRESH_SCHEDULE (*/10 * * * *) through scheduled(), as job reports-refresh", async () => {
    const sales = await newSales(12);
    const from = await lastId();
    // Another suite's refresh may hold the lock at that instant: the job then skips; the next run does it.
    for (let i = 0; i < 50 && !(await refreshesSince(from)).some((r) => r.trigger === "job"); i++) {
      await runCron("*/10 * * * *");
    }
    expect((await refreshesSince(from)).some((r) => r.trigger === "job")).toBe(true);
    expect(await grossIn(sales.query)).toBe(sales.gross);
  });

  it("follows MV_REFRESH_SCHEDULE: another cron runs it, and the default cron then has no job", async () => {
    const bindings = { ...env, MV_REFRESH_SCHEDULE: "*/5 * * * *" } as Env;
    const from = await lastId();
    for (let i = 0; i < 50 && !(await refreshesSince(from)).some((r) => r.trigger === "job"); i++) await runCron("*/5 * * * *", bindings);
    expect((await refreshesSince(from)).some((r) => r.trigger === "job")).toBe(true);
    await expect(runCron("*/10 * * * *", bindings)).rejects.toThrow(/no job is scheduled/);
    const bad = { ...env, MV_REFRESH_SCHEDULE: "every ten minutes" } as Env;
    const { loadConfig, ConfigError } = await import("../src/config.ts");
    expect(() => loadConfig(bad)).toThrow(ConfigError);
  });

  it("is listed with its schedule and can be run by hand like every job", async () => {
    const { body } = await getJson<{ data: { name: string; schedules: string[] }[] }>("/api/v1/admin/jobs", admin);
    expect(body.data.find((j) => j.name === "reports-refresh")).toMatchObject({ schedules: ["*/10 * * * *"] });
    const res = await api("/api/v1/admin/jobs/reports-refresh/run", { method: "POST", headers: admin.auth });
    expect(res.status).toBe(200);
    const run = (await res.json()) as { counts: { refreshed: number; skipped: number } };
    expect(run.counts.refreshed + run.counts.skipped).toBe(1);
  });
});

describe("never two refreshes at once", () => {
  it("concurrent POSTs: each is 200 or 409, at least one refreshes, and no two refreshes ever overlapped", async () => {
    const from = await lastId();
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await api(REFRESH, { method: "POST", headers: admin.auth });
        if (res.status === 409) {
          const p = await expectProblem(res, 409, "refresh_in_progress");
          expect(p.detail).toMatch(/running/);
          expect(res.headers.get("retry-after")).toBe("5");
        } else await res.body?.cancel();
        return res.status;
      }),
    );
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    expect(statuses).toContain(200);
    expect((await refreshesSince(from)).filter((r) => r.trigger === "api").length).toBeGreaterThanOrEqual(
      statuses.filter((s) => s === 200).length,
    );
    // Every refresh on record, by every suite and trigger: the intervals are disjoint.
    const overlaps = await sql<{ a: string; b: string }>(
      `SELECT a.id::text AS a, b.id::text AS b FROM report_refreshes a JOIN report_refreshes b
         ON a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at
       WHERE a.trigger <> 'migration' AND b.trigger <> 'migration'`,
    );
    expect(overlaps).toEqual([]);
  });

  it.skipIf(!realPostgres)(
    "while another session holds the refresh lock: the API answers 409, the job skips, nothing refreshes",
    async () => {
      const holder = await connect();
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT pg_advisory_xact_lock($1::bigint)", [REFRESH_LOCK_KEY]);
        const from = await lastId();
        const res = await api(REFRESH, { method: "POST", headers: admin.auth });
        await expectProblem(res, 409, "refresh_in_progress");
        expect(res.headers.get("retry-after")).toBe("5");
        await runCron("*/10 * * * *"); // no error: a skip
        const run = await api("/api/v1/admin/jobs/reports-refresh/run", { method: "POST", headers: admin.auth });
        expect(((await run.json()) as { counts: unknown }).counts).toEqual({ refreshed: 0, skipped: 1, refresh_ms: 0 });
        expect(await refreshesSince(from)).toEqual([]);
      } finally {
        await holder.query("COMMIT").catch(() => {});
        await holder.end().catch(() => {});
      }
      // Released with the transaction: the next refresh goes through.
      await refreshNow(admin);
    },
  );

  it.skipIf(!realPostgres)(
    "reads are not blocked while the app's refresh holds its locks (CONCURRENTLY: no lock readers wait for)",
    async () => {
      // Hold the refresh at its last step: the log table is locked against its INSERT, so the worker's
      // refresh transaction stays open, both views refreshed and their locks held, until we let go.
      const blocker = await connect();
      let refreshing: Promise<Response> | undefined;
      try {
        await blocker.query("BEGIN");
        await blocker.query("LOCK TABLE report_refreshes IN SHARE MODE");
        refreshing = api(REFRESH, { method: "POST", headers: admin.auth });
        let pid: number | undefined;
        for (let i = 0; i < 100 && !pid; i++) {
          const waiting = await sql<{ pid: number }>(
            `SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'report_refreshes' AND NOT l.granted`,
          );
          pid = waiting[0]?.pid;
          if (!pid) await new Promise((r) => setTimeout(r, 20));
        }
        expect(pid, "the worker's refresh never reached its INSERT").toBeDefined();
        const held = await sql<{ relation: string; mode: string }>(
          `SELECT c.relname AS relation, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE l.pid = $1 AND l.granted AND c.relname IN ('daily_sales', 'product_sales_daily')`,
          [pid],
        );
        expect(held.map((l) => l.relation)).toEqual(expect.arrayContaining(["daily_sales", "product_sales_daily"]));
        expect(held.map((l) => l.mode)).not.toContain("AccessExclusiveLock");
        const started = Date.now();
        for (const path of ["/api/v1/admin/reports/sales", "/api/v1/admin/reports/top-products", "/api/v1/admin/reports/summary"]) {
          const res = await api(path, { headers: admin.auth });
          expect(res.status, path).toBe(200);
          await res.body?.cancel();
        }
        expect(Date.now() - started).toBeLessThan(1500); // below DB_LOCK_TIMEOUT_MS: nothing waited for a lock
      } finally {
        await blocker.query("COMMIT").catch(() => {});
        await blocker.end().catch(() => {});
      }
      const res = await refreshing;
      expect([200, 409]).toContain(res?.status);
      await res?.body?.cancel();
    },
  );
});
