/// <reference types="vite/client" />
/**
 * Issue 16, items 1, 3 and 7 kept together: the dashboards (deploy/grafana/dashboards), the alert rules
 * (deploy/prometheus/rules), the schema and panel queries documented in docs/ops/metrics.md, the
 * service levels (docs/ops/slo.md) and the runbooks (docs/ops/) must name each other correctly.
 */
import { describe, expect, it } from "vitest";
import { METRIC_EVENTS } from "../src/lib/metrics.ts";

const dashboards = import.meta.glob<{ title: string; panels: Panel[]; templating: { list: { name: string }[] } }>(
  "../deploy/grafana/dashboards/*.json",
  { eager: true, import: "default" },
);
const docs = import.meta.glob<string>("../docs/ops/*.md", { eager: true, query: "?raw", import: "default" });
const rules = Object.values(
  import.meta.glob<string>("../deploy/prometheus/rules/*.yml", { eager: true, query: "?raw", import: "default" }),
).join("\n");
const metricsDoc = docs["../docs/ops/metrics.md"] ?? "";
const sloDoc = docs["../docs/ops/slo.md"] ?? "";

interface Panel {
  title: string;
  datasource: { type: string };
  targets: { query?: string; expr?: string }[];
}
const boards = Object.entries(dashboards).map(([file, d]) => ({ file: file.replace("../", ""), ...d }));
const panels = boards.flatMap((b) => b.panels.map((p) => ({ board: b.title, ...p })));
const sqlPanels = panels.filter((p) => p.datasource.type === "vertamedia-clickhouse-datasource");

/** Each alert of the rules file: name, runbook, dashboard ("Board: Panel"). */
const alerts = [...rules.matchAll(/- alert: (\w+)[\s\S]*?runbook: (\S+)\s+dashboard: "([^"]+)"/g)].map((m) => ({
  name: m[1] as string,
  runbook: m[2] as string,
  dashboard: m[3] as string,
}));

describe("dashboards", () => {
  it("the six the issue lists, each with the datasource and dataset variables", () => {
    expect(boards.map((b) => b.title).sort()).toEqual(
      [
        "Toko / API latency and errors by route",
        "Toko / Breakers",
        "Toko / Cache hit ratio",
        "Toko / Checkout and payments",
        "Toko / Overview",
        "Toko / Webhooks and queues",
      ].sort(),
    );
    for (const b of boards) expect(b.templating.list.map((v) => v.name)).toEqual(["prometheus", "analytics", "dataset", "bucket"]);
  });

  it("Analytics Engine queries read only the schema's fields, the $dataset variable and known event names", () => {
    expect(sqlPanels.length).toBeGreaterThanOrEqual(15);
    for (const p of sqlPanels) {
      const q = p.targets[0]?.query ?? "";
      expect(q, p.title).toMatch(/FROM \$dataset\n/);
      expect(q, p.title).toMatch(/blob1 = '(request|event)'/);
      expect(q, p.title).toContain("toUInt32(timestamp) >= intDiv($__from, 1000)");
      for (const [, field] of q.matchAll(/\b(blob\d+|double\d+|index\d+)\b/g)) {
        expect(["blob1", "blob2", "blob3", "blob4", "blob5", "blob6", "blob7", "blob8", "blob9", "blob10", "double1", "double2"]).toContain(
          field,
        );
      }
      if (/blob1 = 'event'/.test(q)) {
        const named = [...q.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as string).filter((s) => s.includes("_") && !s.includes("-"));
        for (const e of named) expect(METRIC_EVENTS as readonly string[], `${p.title}: ${e}`).toContain(e);
      }
    }
  });

  it("every event kind has a panel", () => {
    const all = sqlPanels.map((p) => p.targets[0]?.query ?? "").join("\n");
    for (const e of METRIC_EVENTS) expect(all, e).toContain(`'${e}'`);
  });

  it("every panel's query is documented, verbatim, in docs/ops/metrics.md", () => {
    for (const p of panels) for (const t of p.targets) expect(metricsDoc, `${p.board} / ${p.title}`).toContain(t.query ?? t.expr ?? "");
  });
});

describe("alerts, service levels and runbooks", () => {
  it("every alert names an existing runbook and an existing dashboard panel", () => {
    expect(alerts.length).toBe(16);
    const titles = new Set(panels.map((p) => `${p.board}: ${p.title}`));
    for (const a of alerts) {
      expect(docs[`../${a.runbook}`], `${a.name}: ${a.runbook}`).toBeTruthy();
      expect(titles.has(a.dashboard), `${a.name}: ${a.dashboard}`).toBe(true);
    }
  });

  it("docs/ops/slo.md maps every promise to its panel and alert, and every runbook names its alert or panel", () => {
    for (const a of alerts) expect(sloDoc, a.name).toContain(a.name);
    for (const promise of ["200 ms", "500 ms", "0.1 %", "90 %", "1,000", "5 min", "0.5 %"]) expect(sloDoc).toContain(promise);
    const runbooks = [
      "deploy-and-rollback",
      "secret-rotation",
      "dlq-triage",
      "payment-provider-down",
      "database-down-or-slow",
      "queue-backlog",
      "cache-purge",
      "credential-stuffing",
      "restore-from-backup",
    ];
    for (const r of runbooks) {
      const text = docs[`../docs/ops/${r}.md`];
      expect(text, r).toBeTruthy();
      expect(text, `${r} names what sends the operator there`).toMatch(/\*\*(Alert|Alerts|Panel|Panels)\*\*/);
      expect(text, `${r} gives commands`).toMatch(/```bash/);
    }
  });
});
