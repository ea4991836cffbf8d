/**
 * Turns load results into rows with same-run ratios, renders them (terminal and
 * markdown), and checks the smoke budgets. Ratios, never absolute times, are what
 * budgets compare: absolute numbers swing with machine noise, ratios much less.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { LoadResult } from "./load.ts";
import { round } from "./util.ts";

export interface Row {
  scenario: string;
  /** The app, the raw-SQL baseline (Node pg.Pool), or a floor worker (perf/floors/) with that driver. */
  kind: "worker" | "raw-sql" | "floor-pg" | "floor-postgres";
  result: LoadResult;
  rpsVsHello?: number | undefined;
  rpsVsSql?: number | undefined;
  /** req/s ÷ the pg floor's req/s (a postgres.js floor row: ÷ the pg floor too). */
  rpsVsFloor?: number | undefined;
  p99VsHello?: number | undefined;
  hitRatio?: number | undefined;
  errorRate: number;
  /** The hello slices interleaved with this scenario, which its ÷ hello ratios use. */
  pairedHello?: { rps: number; p99: number } | undefined;
  /** req/s relative to the scenario named in `compareTo`. */
  compare?: { to: string; rpsRatio: number } | undefined;
}

export interface Budget {
  minRpsVsHello?: number;
  minRpsVsSql?: number;
  /** req/s ÷ the scenario's pg floor (checked only when the floor ran). */
  minRpsVsFloor?: number;
  maxP99VsHello?: number;
  minHitRatio?: number;
  maxHitRatio?: number;
  maxErrorRate?: number;
}

export interface Budgets {
  default?: Budget;
  scenarios: Record<string, Budget>;
}

export function hitRatio(r: LoadResult): number | undefined {
  const total = Object.values(r.cache).reduce((a, b) => a + b, 0);
  if (!total) return undefined;
  return ((r.cache.HIT ?? 0) + (r.cache.STALE ?? 0)) / total;
}

const f = (n: number | undefined, d = 2) => (n === undefined || !Number.isFinite(n) ? "—" : String(round(n, d)));
const fx = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "—" : `${round(n, 2)}×`);

const HEAD = [
  "scenario",
  "req/s",
  "p50 ms",
  "p95 ms",
  "p99 ms",
  "errors",
  "req/s ÷ hello",
  "req/s ÷ raw SQL",
  "÷ floor (pg)",
  "p99 ÷ hello",
  "hit ratio",
  "workerd CPU ms/req",
];

function cells(r: Row): string[] {
  const res = r.result;
  const name =
    r.kind === "raw-sql"
      ? "  └ raw SQL (pg.Pool)"
      : r.kind === "floor-pg"
        ? "  └ floor: pg (workerd)"
        : r.kind === "floor-postgres"
          ? "  └ floor: postgres.js"
          : r.scenario;
  const errors = `${res.errors}${res.errors ? ` (${round(r.errorRate * 100, 2)}%)` : ""}`;
  return [
    name,
    f(res.rps, 0),
    f(res.p50),
    f(res.p95),
    f(res.p99),
    errors,
    fx(r.rpsVsHello),
    fx(r.rpsVsSql),
    fx(r.rpsVsFloor),
    fx(r.p99VsHello),
    r.hitRatio === undefined ? "—" : `${round(r.hitRatio * 100, 1)}%`,
    f(res.cpuMsPerReq, 3),
  ];
}

export function renderTable(rows: Row[]): string {
  const data = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, c) => Math.max(...data.map((r) => (r[c] as string).length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number))).join("  ");
  return [line(HEAD), widths.map((w) => "-".repeat(w)).join("  "), ...data.slice(1).map(line)].join("\n");
}

export function renderMarkdown(rows: Row[]): string {
  const md = (r: string[]) => `| ${r.join(" | ")} |`;
  return [md(HEAD), md(HEAD.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map((r) => md(cells(r)))].join("\n");
}

/**
 * Budget violations as readable sentences (empty when everything is within budget).
 * `throughput: false` (no pooler) keeps only errors and hit ratios: without pgbouncer the
 * DB scenarios measure Postgres connection setup, and their req/s ratios mean nothing.
 */
export function checkBudgets(rows: Row[], budgets: Budgets, opts: { throughput: boolean } = { throughput: true }): string[] {
  const failures: string[] = [];
  for (const row of rows.filter((r) => r.kind === "worker")) {
    const b: Budget = { ...budgets.default, ...budgets.scenarios[row.scenario] };
    if (!opts.throughput) {
      delete b.minRpsVsHello;
      delete b.minRpsVsSql;
      delete b.minRpsVsFloor;
      delete b.maxP99VsHello;
    }
    const fail = (what: string, got: number | undefined, op: string, limit: number) =>
      failures.push(`${row.scenario}: ${what} is ${got === undefined ? "unavailable" : round(got, 3)}, budget ${op} ${limit}`);
    if (!row.result.requests)
      failures.push(`${row.scenario}: no successful request at all (${row.result.firstError ?? "no error captured"})`);
    if (b.maxErrorRate !== undefined && !(row.errorRate <= b.maxErrorRate)) {
      fail("error rate", row.errorRate, "≤", b.maxErrorRate);
      if (row.result.firstError) failures.push(`  first error: ${row.result.firstError}`);
    }
    if (b.minRpsVsHello !== undefined && !((row.rpsVsHello ?? -1) >= b.minRpsVsHello))
      fail("req/s ÷ hello", row.rpsVsHello, "≥", b.minRpsVsHello);
    if (b.minRpsVsSql !== undefined && !((row.rpsVsSql ?? -1) >= b.minRpsVsSql)) fail("req/s ÷ raw SQL", row.rpsVsSql, "≥", b.minRpsVsSql);
    if (b.minRpsVsFloor !== undefined && row.rpsVsFloor !== undefined && !(row.rpsVsFloor >= b.minRpsVsFloor))
      fail("req/s ÷ floor (pg)", row.rpsVsFloor, "≥", b.minRpsVsFloor);
    if (b.maxP99VsHello !== undefined && !((row.p99VsHello ?? Number.POSITIVE_INFINITY) <= b.maxP99VsHello)) {
      fail("p99 ÷ hello p99", row.p99VsHello, "≤", b.maxP99VsHello);
    }
    if (b.minHitRatio !== undefined && !((row.hitRatio ?? -1) >= b.minHitRatio)) {
      fail("edge-cache hit ratio", row.hitRatio, "≥", b.minHitRatio);
      failures.push(`  X-Cache counts: ${JSON.stringify(row.result.cache)} (a broken edge cache turns HITs into MISSes)`);
    }
    if (b.maxHitRatio !== undefined && !((row.hitRatio ?? 0) <= b.maxHitRatio)) {
      fail("edge-cache hit ratio", row.hitRatio, "≤", b.maxHitRatio);
      failures.push("  a miss scenario is hitting the cache: it no longer measures the database path (cache key changed?)");
    }
  }
  return failures;
}

/** Writes perf/results/<stamp>.{json,md} and latest(.smoke).md; returns the stamp. */
export function writeResults(o: {
  dir: string;
  meta: Record<string, string>;
  rows: Row[];
  failures: string[];
  extra: Record<string, unknown>;
}): string {
  const smoke = o.meta.mode === "smoke";
  const stamp = (o.meta.started ?? new Date().toISOString()).replace(/[:.]/g, "-") + (smoke ? "-smoke" : "");
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(
    `${o.dir}/${stamp}.json`,
    `${JSON.stringify({ meta: o.meta, rows: o.rows, budgetFailures: o.failures, ...o.extra }, null, 2)}\n`,
  );
  const md = [
    `# Toko Edge benchmark — ${o.meta.started} (${o.meta.mode})`,
    "",
    ...Object.entries(o.meta).map(([k, v]) => `- **${k}**: ${v}`),
    "",
    renderMarkdown(o.rows),
    "",
    o.failures.length
      ? `**Budget check: ${o.failures.length} problem(s)**\n\n${o.failures.map((x) => `- ${x}`).join("\n")}`
      : "Budget check: all within perf/budgets.json",
    "",
  ].join("\n");
  writeFileSync(`${o.dir}/${stamp}.md`, md);
  writeFileSync(`${o.dir}/${smoke ? "latest-smoke" : "latest"}.md`, md);
  return stamp;
}
