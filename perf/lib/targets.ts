/**
 * The performance targets of issue 13 (and issue 14's reports scenario), checked against one run's rows and printed under the table:
 * met (✓), not met (✗, with the figure), or not measured in this run (—). Informational: the smoke
 * budgets (perf/budgets.json) are what fails CI; these are where the hot path is meant to be.
 * docs/performance.md says, for each one not met, where the rest of the time goes (CPU profile).
 */
import type { Row } from "./report.ts";
import { round } from "./util.ts";

type Check = (r: Row) => number | undefined;

interface Target {
  scenario: string;
  what: string;
  value: Check;
  op: "≥" | "≤";
  limit: number;
  unit?: string;
}

const rps: Check = (r) => r.rpsVsHello;
const floor: Check = (r) => r.rpsVsFloor;
const cpu: Check = (r) => r.result.cpuMsPerReq;
const p99: Check = (r) => (r.pairedHello ? r.result.p99 / r.pairedHello.p99 : undefined);

export const TARGETS: Target[] = [
  { scenario: "catalog-list-hit", what: "req/s ÷ hello", value: rps, op: "≥", limit: 0.6 },
  { scenario: "catalog-list-hit", what: "p99 ÷ hello p99", value: p99, op: "≤", limit: 2 },
  { scenario: "catalog-list-hit", what: "workerd CPU ms/req", value: cpu, op: "≤", limit: 0.5 },
  { scenario: "product-detail-hit", what: "req/s ÷ hello", value: rps, op: "≥", limit: 0.6 },
  { scenario: "product-detail-hit", what: "p99 ÷ hello p99", value: p99, op: "≤", limit: 2 },
  { scenario: "product-detail-hit", what: "workerd CPU ms/req", value: cpu, op: "≤", limit: 0.5 },
  { scenario: "app-live", what: "req/s ÷ hello", value: rps, op: "≥", limit: 0.7 },
  { scenario: "product-detail-miss", what: "req/s ÷ pg floor", value: floor, op: "≥", limit: 0.5 },
  { scenario: "product-detail-miss", what: "workerd CPU ms/req", value: cpu, op: "≤", limit: 3 },
  { scenario: "search-miss", what: "req/s ÷ pg floor", value: floor, op: "≥", limit: 0.5 },
  { scenario: "search-miss", what: "workerd CPU ms/req", value: cpu, op: "≤", limit: 3 },
  { scenario: "order-create", what: "req/s ÷ pg floor", value: floor, op: "≥", limit: 0.5 },
  { scenario: "order-create", what: "req/s ÷ raw SQL (Node pool)", value: (r) => r.rpsVsSql, op: "≥", limit: 0.3 },
  { scenario: "order-create", what: "error rate", value: (r) => r.errorRate, op: "≤", limit: 0 },
  { scenario: "order-create", what: "workerd CPU ms/req", value: cpu, op: "≤", limit: 5 },
  { scenario: "reports-sales", what: "req/s ÷ raw SQL (Node pool)", value: (r) => r.rpsVsSql, op: "≥", limit: 0.5 },
  { scenario: "mixed-browse", what: "hit ratio", value: (r) => r.hitRatio, op: "≥", limit: 0.9 },
  { scenario: "mixed-browse", what: "req/s ÷ hello", value: rps, op: "≥", limit: 0.4 },
];

/** One line per target (and the bundle): ✓ met, ✗ not met, — not measured in this run. */
export function renderTargets(rows: Row[], bundleGzipBytes: number): string[] {
  const lines = TARGETS.map((t) => {
    const row = rows.find((r) => r.kind === "worker" && r.scenario === t.scenario);
    const v = row ? t.value(row) : undefined;
    const goal = `${t.op} ${t.limit}`;
    if (v === undefined || !Number.isFinite(v)) return `  —  ${t.scenario}: ${t.what} ${goal} (not measured in this run)`;
    const met = t.op === "≥" ? v >= t.limit : v <= t.limit;
    return `  ${met ? "✓" : "✗"}  ${t.scenario}: ${t.what} ${round(v, 3)} (target ${goal})`;
  });
  const mib = bundleGzipBytes / 1024 / 1024;
  lines.push(`  ${mib < 1 ? "✓" : "✗"}  bundle: ${round(bundleGzipBytes / 1024, 1)} KiB gzip (target < 1 MiB)`);
  return lines;
}
