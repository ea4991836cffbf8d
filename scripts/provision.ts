/**
 * Creates what an environment's wrangler.toml names but Cloudflare does not have yet: its queues
 * (and the dead-letter queues' retention), its two Hyperdrive configs. Prints the plan; `--create`
 * runs it with wrangler (logged in, or CLOUDFLARE_API_TOKEN), skipping what already exists.
 *
 *   npm run provision -- --env staging
 *   DATABASE_URL=postgres://… npm run provision -- --env staging --create
 *
 * The Analytics Engine dataset needs nothing: it is created by the first write. Secrets, migrations
 * and the WAF are the next steps it prints (docs/ops/deploy.md).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { envArg, placeholders, ROOT, readEnvironment } from "./lib/environments.ts";

const argv = process.argv.slice(2);
const env = envArg(argv);
if (env !== "staging" && env !== "production") {
  console.error("usage: npm run provision -- --env staging|production [--create]   (--create needs DATABASE_URL for Hyperdrive)");
  process.exit(2);
}
const create = argv.includes("--create");
const cfg = readEnvironment(env);
const vars = cfg.vars as Record<string, string>;
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** Dead letters are kept as long as the plan allows (14 days on paid plans): the DLQ consumer may retry them for days. */
const DLQ_RETENTION_SEC = 1_209_600;

interface Step {
  what: string;
  args: string[];
  /** Text in wrangler's output meaning the thing is already there (the step is then a no-op). */
  exists?: RegExp;
  /** Shown instead of the real arguments (a connection string is a secret). */
  shown?: string;
}

const queues = [
  ...new Set([
    ...(cfg.queues.producers ?? []).map((p) => p.queue),
    ...(cfg.queues.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue ?? ""]),
  ]),
].filter((q): q is string => Boolean(q));
const dlqs = (cfg.queues.consumers ?? []).map((c) => c.dead_letter_queue).filter((q): q is string => Boolean(q));

const steps: Step[] = [
  ...queues.map((q) => ({ what: `queue ${q}`, args: ["queues", "create", q], exists: /already (exists|taken)|11009/i })),
  ...[...new Set(dlqs)].map((q) => ({
    what: `dead-letter queue ${q}: keep messages ${DLQ_RETENTION_SEC / 86_400} days`,
    args: ["queues", "update", q, "--message-retention-period-secs", String(DLQ_RETENTION_SEC)],
  })),
];
const hyperdrive = cfg.hyperdrive.filter((h) => /^0+\d{0,2}$/.test(h.id));
for (const h of hyperdrive) {
  const cached = h.binding === "HYPERDRIVE_CACHED";
  const name = `toko-${env}-${cached ? "cached" : "fresh"}`;
  const options = cached ? ["--max-age", vars.ANALYTICS_CACHE_TTL_SEC ?? "60", "--swr", "15"] : ["--caching-disabled"];
  steps.push({
    what: `Hyperdrive ${name} for ${h.binding} (${cached ? `cached ${vars.ANALYTICS_CACHE_TTL_SEC ?? 60} s: the reports` : "caching off: everything else"})`,
    args: ["hyperdrive", "create", name, `--connection-string=${process.env.DATABASE_URL ?? ""}`, ...options],
    shown: ["hyperdrive", "create", name, '--connection-string="$DATABASE_URL"', ...options].join(" "),
    exists: /already exists|2017/i,
  });
}

console.log(`${create ? "Creating" : "Plan"} for ${env} (${cfg.name}):`);
const created: string[] = [];
for (const s of steps) {
  const command = `npx wrangler ${s.shown ?? s.args.join(" ")} --env ${env}`;
  if (!create) {
    console.log(`  - ${s.what}\n      ${command}`);
    continue;
  }
  if (s.args[0] === "hyperdrive" && !process.env.DATABASE_URL) {
    console.log(`  ! ${s.what}: skipped, DATABASE_URL is not set`);
    continue;
  }
  const r = spawnSync(process.execPath, [WRANGLER, ...s.args, "--env", env], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === 0) {
    const id = /\b([0-9a-f]{32})\b/.exec(out)?.[1];
    console.log(`  + ${s.what}${id ? `: id ${id}` : ""}`);
    if (id) created.push(`${s.what.split(" ")[1]} → id = "${id}"`);
  } else if (s.exists?.test(out)) {
    console.log(`  = ${s.what}: already there`);
  } else {
    console.error(`  ! ${s.what} failed:\n${out.slice(-1500)}`);
    process.exitCode = 1;
  }
}
console.log("  - Analytics Engine dataset", cfg.analytics_engine_datasets?.[0]?.dataset, ": created by the first write, nothing to do");
if (created.length) console.log(`\nPut these ids into [[env.${env}.hyperdrive]] in wrangler.toml:\n  ${created.join("\n  ")}`);

const required = cfg.secrets?.required ?? [];
console.log(`
Next (docs/ops/deploy.md):
  1. Secrets: ${required.map((n) => `npx wrangler secret put ${n} --env ${env}`).join("\n              ")}
     Recommended: SENTRY_DSN (errors), ANALYTICS_API_TOKEN (GET /metrics/edge, the SLO alerts).
  2. Migrations: DATABASE_URL=… npm run db:migrate
  3. Check: npm run deploy:check -- --env ${env} --strict --remote
  4. Deploy: npm run deploy -- --env ${env}
  5. Edge rules: npm run waf:apply -- --env ${env} (then --apply)`);
const todo = placeholders(cfg);
if (todo.length) console.log(`\nStill placeholders in wrangler.toml for ${env}: ${todo.join("; ")}`);
