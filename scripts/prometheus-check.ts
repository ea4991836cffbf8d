/**
 * `npm run prometheus:check` (CI): the alerting side of issue 16, checked with promtool (Debian's
 * `prometheus` package; .ci/run fetches it without installing or starting a server, or set PROMTOOL).
 *  1. `promtool check rules` on deploy/prometheus/rules/*.yml (and `check config` on prometheus.yml);
 *  2. `promtool test rules` on deploy/prometheus/tests/*.yml;
 *  3. the tests bite: each alert's threshold is moved in a copy of the rules and the tests must fail;
 *  4. `promtool check metrics` on what /metrics and /metrics/edge render (the real renderers, fed
 *     sample figures: test/metrics.endpoint.test.ts runs them against Postgres in workerd);
 *  5. every metric a rule or a Grafana Prometheus panel reads is one those endpoints expose.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "../src/config.ts";
import type { Drizzle } from "../src/db/client.ts";
import { createLogger } from "../src/lib/logger.ts";
import { collectEdgeMetrics } from "../src/services/edge-metrics.service.ts";
import { collectStateMetrics } from "../src/services/ops-metrics.service.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const RULES = join(root, "deploy/prometheus/rules");
const TESTS = join(root, "deploy/prometheus/tests");
const DASHBOARDS = join(root, "deploy/grafana/dashboards");

/** Each alert's threshold, moved: the unit tests must notice every one. */
const MUTATIONS: [RegExp, string, string][] = [
  [/(percentile="95"\} >) 0\.2$/m, "$1 0.25", "reads p95 threshold"],
  [/(percentile="99"\} >) 0\.5$/m, "$1 0.6", "reads p99 threshold"],
  [/(toko:error_ratio:window >) 0\.001$/m, "$1 0.002", "error-rate threshold"],
  [/(toko:catalog_cache_hit_ratio:window <) 0\.9$/m, "$1 0.8", "cache hit-ratio threshold"],
  [/(toko_webhook_backlog >) 1000$/m, "$1 2000", "webhook backlog threshold"],
  [/(toko_webhook_backlog_oldest_age_seconds >) 300$/m, "$1 600", "oldest webhook threshold"],
  [/(delta\(toko_dlq_size\[15m\]\) >) 0$/m, "$1 5", "DLQ growth threshold"],
  [/(expr: toko_breaker_open == 1\n\s+for:) 1m/m, "$1 5m", "breaker open duration"],
  [/(toko:order_error_ratio:window >) 0\.005$/m, "$1 0.01", "order error-rate threshold"],
  [/(event="guard_unavailable"\}\) >) 20$/m, "$1 40", "degraded-guards threshold"],
];

function promtool(): string {
  const candidates = [process.env.PROMTOOL, "promtool"].filter((c): c is string => Boolean(c));
  for (const c of candidates) if (spawnSync(c, ["--version"]).status === 0) return c;
  console.error("promtool not found: set PROMTOOL, or see docs/ops/alerts.md (apt-get download prometheus && dpkg -x …)");
  process.exit(1);
}

const tool = promtool();
const yml = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .map((f) => join(dir, f));
const run = (args: string[], input?: string) => spawnSync(tool, args, { input, encoding: "utf8" });
let failed = 0;
const report = (ok: boolean, what: string, detail = "") => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || !detail ? "" : `\n${detail}`}`);
  if (!ok) failed++;
};

// 1, 2 — the rules are valid and their tests pass.
for (const [args, what] of [
  [["check", "rules", ...yml(RULES)], "promtool check rules"],
  [["test", "rules", ...yml(TESTS)], "promtool test rules"],
] as const) {
  const r = run([...args]);
  report(
    r.status === 0,
    `${what} (${r.stdout.match(/SUCCESS: \d+ rules found/)?.[0] ?? r.stdout.trim().split("\n").pop()})`,
    r.stdout + r.stderr,
  );
}

// 3 — a moved threshold fails the tests (in a copy: rules/ and tests/ side by side, as the tests reference them).
const scratch = mkdtempSync(join(tmpdir(), "toko-promtool-"));
try {
  cpSync(join(root, "deploy/prometheus"), scratch, { recursive: true });
  for (const file of yml(RULES)) {
    const original = readFileSync(file, "utf8");
    const copy = join(scratch, "rules", file.slice(RULES.length + 1));
    for (const [pattern, replacement, what] of MUTATIONS) {
      if (!pattern.test(original)) {
        if (file.endsWith("toko.rules.yml")) report(false, `mutation "${what}" no longer matches ${file}`);
        continue;
      }
      writeFileSync(copy, original.replace(pattern, replacement));
      const r = spawnSync(tool, ["test", "rules", ...yml(join(scratch, "tests"))], { encoding: "utf8" });
      report(r.status !== 0, `the rule tests catch a moved ${what}`);
    }
    writeFileSync(copy, original);
  }
  // The scrape configuration Prometheus is given (its token file pointed at a scratch one).
  const token = join(scratch, "token");
  writeFileSync(token, "x".repeat(40));
  const config = join(scratch, "prometheus.yml");
  writeFileSync(config, readFileSync(config, "utf8").replaceAll("/etc/prometheus/toko-metrics-token", token));
  const r = run(["check", "config", config]);
  report(r.status === 0, "promtool check config deploy/prometheus/prometheus.yml", r.stdout + r.stderr);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// 4 — what the endpoints render passes promtool's parser and linter.
const cfg = configSchema.parse({
  ENVIRONMENT: "production",
  PAYMENT_PROVIDER: "stripe",
  STRIPE_SECRET_KEY: "sk_live_0123456789abcdefghijklmnopqrstuvwxyz",
  STRIPE_WEBHOOK_SECRETS: "whsec_0123456789abcdefghijklmnopqrstuv",
  CURSOR_SECRET: "x".repeat(48),
  JWT_SECRET: "y".repeat(48),
  RELEASE: "0123456789abcdef0123456789abcdef01234567",
  METRICS_TOKEN: "z".repeat(40),
  METRICS_DATASET: "toko_edge_production",
  ANALYTICS_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  ANALYTICS_API_TOKEN: "analytics-read-token-0123456789",
  SHIPPING_RATE_SECRET: "s".repeat(48),
  SHIPPING_CARRIER: "fedex",
  FEDEX_CLIENT_ID: "fedex-client-id",
  FEDEX_CLIENT_SECRET: "fedex-client-secret",
  FEDEX_ACCOUNT_NUMBER: "740561073",
  SHIPPING_ORIGIN_POSTAL_CODE: "38125",
});
const log = createLogger("error");
const figures = {
  orders: { PENDING: 12, PAID: 340, CANCELLED: 41 },
  webhook_backlog: 3,
  webhook_backlog_oldest_sec: 42.5,
  dead_letters: { "toko-payment-events-production": 2, 'toko-outbound-"production"-dlq': 1 },
  outbox_unpublished: 5,
  outbox_oldest_unpublished_sec: 1.25,
  reports_last_refresh: 1_796_000_000.5,
  endpoint_ids: ["0b8f6c1e-1111-4222-8333-444455556666"],
};
const db = { execute: async () => ({ rows: [figures] }) } as unknown as Drizzle;
const breakers = {
  idFromName: (name: string) => name,
  get: (name: string) => ({
    status: async () => ({ state: name.startsWith("webhook:") ? "open" : "closed", failures: 5, openedAt: 1_796_000_000_000 }),
  }),
} as unknown as Env["CIRCUIT_BREAKER"];
const sqlApi = (async (_url: unknown, init?: RequestInit) => {
  const body = String(init?.body);
  const data = body.includes("GROUP BY route")
    ? [
        {
          route: "/api/v1/products/:idOrSku",
          method: "GET",
          requests: "900",
          errors_5xx: "0",
          errors_4xx: "12",
          cache_hits: "850",
          cache_misses: "50",
          p50_ms: 2,
          p95_ms: 30,
          p99_ms: 95,
        },
        {
          route: "/api/v1/orders",
          method: "POST",
          requests: "20",
          errors_5xx: "1",
          errors_4xx: "2",
          cache_hits: "0",
          cache_misses: "0",
          p50_ms: 70,
          p95_ms: 150,
          p99_ms: "nan",
        },
      ]
    : body.includes("blob1 = 'event'")
      ? [
          { event: "rate_limited", detail: "login-ip", events: 3 },
          { event: "breaker_opened", detail: 'webhook:"quoted"\\path', events: 1 },
        ]
      : [{ requests: "950", p50_ms: 2, p95_ms: 31, p99_ms: 120 }];
  return Response.json({ meta: [], data, rows: data.length });
}) as typeof fetch;

const exposition: Record<string, string> = {
  "/metrics": await collectStateMetrics({ db: async () => db, cfg, log, breakers }),
  "/metrics (Postgres away)": await collectStateMetrics({
    db: async () => {
      throw new Error("connection refused");
    },
    cfg,
    log,
    breakers,
  }),
  "/metrics/edge": await collectEdgeMetrics(cfg, log, sqlApi),
  "/metrics/edge (not configured)": await collectEdgeMetrics({ ...cfg, ANALYTICS_API_TOKEN: undefined }, log, sqlApi),
};
for (const [what, text] of Object.entries(exposition)) {
  const r = run(["check", "metrics"], text);
  report(r.status === 0, `promtool check metrics: ${what}`, r.stdout + r.stderr);
}

// 5 — rules and dashboards read only metrics that exist.
const exposed = new Set(Object.values(exposition).flatMap((t) => [...t.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] as string)));
const recorded = new Set<string>();
const referenced = new Map<string, string>();
for (const file of yml(RULES)) {
  const text = readFileSync(file, "utf8").replace(/^\s*#.*$/gm, "");
  for (const m of text.matchAll(/- record: (\S+)/g)) recorded.add(m[1] as string);
  for (const m of text.matchAll(/\b(toko_[a-z0-9_]+)/g)) referenced.set(m[1] as string, file.slice(root.length));
}
for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json"))) {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (!node || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    if (typeof o.expr === "string") {
      for (const m of o.expr.matchAll(/\b(toko_[a-z0-9_]+|toko:[a-z0-9_:]+)/g))
        referenced.set(m[1] as string, `deploy/grafana/dashboards/${file}`);
    }
    Object.values(o).forEach(walk);
  };
  walk(JSON.parse(readFileSync(join(DASHBOARDS, file), "utf8")));
}
const unknown = [...referenced].filter(([name]) => !exposed.has(name) && !recorded.has(name));
report(
  unknown.length === 0,
  `every metric read by a rule or a dashboard is exposed (${referenced.size} names)`,
  unknown.map(([n, f]) => `  ${n} (${f})`).join("\n"),
);

console.log(execFileSync(tool, ["--version"], { encoding: "utf8" }).split("\n")[0]);
if (failed) {
  console.error(`${failed} check(s) failed`);
  process.exit(1);
}
