/**
 * `npm run deploy:check`: can each environment be deployed, and will it work once it is?
 *   - the bundle builds (`wrangler deploy --dry-run --env …`);
 *   - bindings are complete: every binding of the top level exists in the environment, every queue
 *     produced to has a consumer, every dead-letter queue has one, the crons match, the METRICS
 *     dataset is the one METRICS_DATASET names;
 *   - secrets are complete: the environment's vars plus only its `[secrets] required` (dummy values)
 *     make a valid configuration (src/config.ts), so the worker cannot answer 503 for a missing secret
 *     after a deploy that wrangler accepted; production requires METRICS_TOKEN (alerts read /metrics);
 *   - deployed environments have a route or custom domain, ENVIRONMENT matches, RELEASE is left to deploy;
 *   - placeholders still in wrangler.toml are listed (`--strict`: they fail).
 *
 *   npm run deploy:check                                   every environment (CI)
 *   npm run deploy:check -- --env production --strict      before a real deploy
 *   … --remote                                             also `wrangler secret list`: the secrets are set (needs login)
 *   DATABASE_URL=… npm run deploy:check -- --env production   also: every migration is applied
 *   … --config other.toml                                  check another file (a change before making it)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { configSchema, SECRET_NAMES } from "../src/config.ts";
import {
  DEPLOYED,
  ENVIRONMENTS,
  type EnvName,
  envArg,
  hostnames,
  label,
  placeholders,
  ROOT,
  readEnvironment,
  WRANGLER_TOML,
  type WranglerConfig,
} from "./lib/environments.ts";

const argv = process.argv.slice(2);
const only = envArg(argv);
const strict = argv.includes("--strict");
const remote = argv.includes("--remote");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/** A valid-looking value for each secret: the checks are about which are declared, not their values. */
const DUMMY: Record<string, string> = {
  CURSOR_SECRET: "c".repeat(48),
  JWT_SECRET: "j".repeat(48),
  METRICS_TOKEN: "m".repeat(48),
  STRIPE_SECRET_KEY: `sk_live_${"s".repeat(40)}`,
  STRIPE_WEBHOOK_SECRETS: `whsec_${"w".repeat(40)}`,
  SANDBOX_WEBHOOK_SECRETS: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
  RESEND_API_KEY: `re_${"r".repeat(32)}`,
  CLOUDFLARE_API_TOKEN: "t".repeat(40),
  ANALYTICS_API_TOKEN: "a".repeat(40),
  SENTRY_DSN: "https://0123456789abcdef@o1.ingest.sentry.io/1",
};
/** Secrets an environment must require beyond what its configuration refuses to start without. */
const MUST_REQUIRE: Record<string, string[]> = { production: ["METRICS_TOKEN"] };

const bindingNames = (c: WranglerConfig) =>
  new Set([
    ...c.hyperdrive.map((h) => h.binding),
    ...c.durable_objects.bindings.map((b) => b.name),
    ...(c.queues.producers ?? []).map((p) => p.binding),
    ...(c.ratelimits ?? []).map((r) => r.name),
    ...(c.analytics_engine_datasets ?? []).map((a) => a.binding),
    ...(c.kv_namespaces ?? []).map((k) => k.binding),
    ...(c.r2_buckets ?? []).map((r) => r.binding),
  ]);

function checkEnvironment(env: EnvName, top: WranglerConfig): { problems: string[]; todo: string[] } {
  const problems: string[] = [];
  const cfg = readEnvironment(env);
  const vars = cfg.vars as Record<string, string>;
  const where = env ? `[env.${env}]` : "top level";

  // The bundle builds for this environment.
  const out = mkdtempSync(join(tmpdir(), "toko-deploy-check-"));
  try {
    const args = [WRANGLER, "deploy", "--dry-run", "--config", WRANGLER_TOML, "--outdir", out, ...(env ? ["--env", env] : [])];
    const r = spawnSync(process.execPath, args, {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
    });
    if (r.status !== 0) problems.push(`wrangler deploy --dry-run failed:\n${(r.stderr || r.stdout).slice(-2000)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  // Bindings: the top level is the reference (worker-configuration.d.ts is generated from it).
  const have = bindingNames(cfg);
  for (const name of bindingNames(top)) if (!have.has(name)) problems.push(`${where} lacks the binding ${name}`);
  const consumed = new Set((cfg.queues.consumers ?? []).map((c) => c.queue));
  for (const p of cfg.queues.producers ?? [])
    if (p.queue && !consumed.has(p.queue)) problems.push(`${where}: queue ${p.queue} has no consumer`);
  for (const c of cfg.queues.consumers ?? []) {
    if (c.dead_letter_queue && !consumed.has(c.dead_letter_queue))
      problems.push(`${where}: dead-letter queue ${c.dead_letter_queue} has no consumer`);
  }
  const crons = (c: WranglerConfig) => JSON.stringify([...(c.triggers.crons ?? [])].sort());
  if (crons(cfg) !== crons(top)) problems.push(`${where}: crons ${crons(cfg)} differ from the top level's ${crons(top)}`);
  const dataset = cfg.analytics_engine_datasets?.find((a) => a.binding === "METRICS")?.dataset;
  if (vars.METRICS_DATASET !== dataset)
    problems.push(`${where}: METRICS_DATASET "${vars.METRICS_DATASET}" is not the METRICS dataset "${dataset}"`);

  // Secrets: the vars and the required secrets alone must make a valid configuration.
  const required = cfg.secrets?.required ?? [];
  for (const name of required)
    if (!SECRET_NAMES.has(name)) problems.push(`${where}: [secrets] required lists ${name}, which is not a secret of src/config.ts`);
  for (const name of MUST_REQUIRE[env ?? ""] ?? [])
    if (!required.includes(name)) problems.push(`${where}: [secrets] required must list ${name}`);
  const settings = { ...vars, ...Object.fromEntries(required.map((n) => [n, DUMMY[n] ?? "x".repeat(48)])) };
  const parsed = configSchema.safeParse(settings);
  if (!parsed.success) {
    for (const i of parsed.error.issues)
      problems.push(`${where}: with only its declared secrets the worker would refuse to serve: ${String(i.path[0])}: ${i.message}`);
  }

  if (env) {
    if (vars.ENVIRONMENT !== env) problems.push(`${where}: ENVIRONMENT is "${vars.ENVIRONMENT}", not "${env}"`);
    if ("RELEASE" in vars) problems.push(`${where}: RELEASE is set by npm run deploy (--var), not in wrangler.toml`);
    if (!hostnames(cfg).length)
      problems.push(`${where}: no route or custom domain: a deploy would reach nobody (workers.dev serves no cache)`);
    if (env === "production" && cfg.workers_dev) problems.push(`${where}: workers_dev must be false (the Cache API does nothing there)`);
  }

  if (remote && env) {
    const r = spawnSync(process.execPath, [WRANGLER, "secret", "list", "--config", WRANGLER_TOML, "--env", env, "--format", "json"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    if (r.status !== 0) problems.push(`${where}: wrangler secret list failed (wrangler login?): ${r.stderr.slice(-500)}`);
    else {
      const set = new Set((JSON.parse(r.stdout) as { name: string }[]).map((s) => s.name));
      for (const name of required)
        if (!set.has(name)) problems.push(`${where}: secret ${name} is not set (wrangler secret put ${name} --env ${env})`);
    }
  }
  return { problems, todo: env ? placeholders(cfg) : [] };
}

async function pendingMigrations(url: string): Promise<string[]> {
  const journal = JSON.parse(readFileSync(join(ROOT, "migrations/meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const applied = await client.query("SELECT count(*)::int AS n FROM public.__drizzle_migrations").catch(() => ({ rows: [{ n: 0 }] }));
    return journal.entries.slice(Number(applied.rows[0]?.n ?? 0)).map((e) => e.tag);
  } finally {
    await client.end();
  }
}

const top = readEnvironment(undefined);
const targets = only ? ENVIRONMENTS.filter((e) => (e ?? "") === only || (only === "development" && e === undefined)) : ENVIRONMENTS;
if (!targets.length) {
  console.error(`no environment "${only}" (${ENVIRONMENTS.map((e) => e ?? "development").join(", ")})`);
  process.exit(2);
}
let failed = 0;
for (const env of targets) {
  const { problems, todo } = checkEnvironment(env, top);
  const blocking = strict ? [...problems, ...todo.map((t) => `placeholder: ${t}`)] : problems;
  console.log(`${blocking.length ? "FAIL" : "ok  "} ${label(env)}${blocking.length ? "" : ": bundle, bindings, secrets, routes"}`);
  for (const p of blocking) console.log(`     - ${p}`);
  if (!strict && todo.length && (DEPLOYED as readonly string[]).includes(env ?? "")) {
    console.log(`     to replace before a real deploy (--strict fails on them): ${todo.join("; ")}`);
  }
  if (blocking.length) failed++;
}
if (process.env.DATABASE_URL && only) {
  const pending = await pendingMigrations(process.env.DATABASE_URL);
  console.log(
    `${pending.length ? "FAIL" : "ok  "} migrations: ${pending.length ? `not applied: ${pending.join(", ")} (npm run db:migrate first)` : "all applied"}`,
  );
  if (pending.length) failed++;
}
process.exit(failed ? 1 : 0);
