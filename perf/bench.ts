/**
 * `npm run bench` / `npm run bench:smoke` — load benchmark of the worker on workerd.
 * See perf/README.md for what is measured and how to read the ratios.
 *
 *   node perf/bench.ts [--smoke] [--duration 10] [--connections 50] [--warmup 1] [--rounds 5]
 *                      [--only name[,name]] [--var NAME=value] [--no-floors] [--postgres-prepare false]
 *                      [--profile]
 *
 * --profile: instead of ratios, a V8 CPU profile of the app in workerd while each selected
 * scenario runs for --duration seconds (unminified bundle; perf/lib/profile.ts): where the
 * isolate's time goes, by module and function, written to perf/results/profile-*.md.
 *
 * One run = one fresh database (dropped at exit), one pgbouncer, one workerd with the
 * app, a hello-world worker and the floor workers (perf/floors/). Each scenario is measured
 * in `rounds` slices interleaved with slices of its baselines (hello, raw SQL, floors), so
 * machine noise hits both sides of a ratio.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { createFreshDatabase, dropDatabase, redact, runMigrations, withClient } from "../scripts/lib/db.ts";
import { seedCatalog } from "../scripts/lib/seed.ts";
import { buildFloors, DRIVER_LABEL, FLOOR_DRIVERS, type FloorDriver, floorTable, loadFloor } from "./lib/floors.ts";
import { clientIp, type LoadResult, runHttp, runSql, Tally } from "./lib/load.ts";
import { startPooler } from "./lib/pgbouncer.ts";
import { profileWhile, renderSummary, saveProfile, summarise } from "./lib/profile.ts";
import { type Budgets, checkBudgets, hitRatio, type Row, renderTable, writeResults } from "./lib/report.ts";
import { buildBundle, ROOT, readWorkerConfig, startRuntime } from "./lib/runtime.ts";
import { renderTargets } from "./lib/targets.ts";
import { rand, round, sleep } from "./lib/util.ts";
import { type Catalog, SCENARIOS, type Scenario } from "./scenarios.ts";

const t0 = Date.now();
const { values: args } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    duration: { type: "string" },
    connections: { type: "string" },
    warmup: { type: "string" },
    rounds: { type: "string" },
    clients: { type: "string" },
    only: { type: "string", multiple: true },
    var: { type: "string", multiple: true },
    floors: { type: "boolean", default: true },
    "postgres-prepare": { type: "string", default: "true" },
    profile: { type: "boolean", default: false },
  },
  allowNegative: true,
});
const smoke = args.smoke === true;
const duration = Number(args.duration ?? (smoke ? 3 : 10));
const connections = Number(args.connections ?? 50);
const warmup = Number(args.warmup ?? (smoke ? 0.5 : 1));
const rounds = Math.max(1, Number(args.rounds ?? (smoke ? 3 : 5)));
// --var NAME=value overrides a wrangler.toml [vars] entry (experiments: LOG_LEVEL=warn, CATALOG_CACHE_TTL_SEC=0…).
const varOverrides = Object.fromEntries((args.var ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const only = args.only?.flatMap((s) => s.split(",").map((x) => x.trim()));
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`Node ${process.versions.node} is too old: wrangler needs >= 22.12 (run through npm run / npx).`);
  process.exit(2);
}
for (const name of only ?? []) {
  if (!SCENARIOS.some((s) => s.name === name)) {
    console.error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    process.exit(2);
  }
}
const hello = SCENARIOS.find((s) => s.target === "hello");
if (!hello) throw new Error("scenarios.ts must define the hello baseline");
const selected = SCENARIOS.filter((s) => s !== hello && (only ? only.includes(s.name) : !smoke || s.smoke));
const log = (m: string) => console.log(`[bench] ${m}`);
/**
 * Simulated client IPs (CF-Connecting-IP) for app traffic, in bursts of 8 (lib/load.ts): even at
 * 5k req/s each IP stays at 150 req/min, below the public-read limit, so guards run but never refuse.
 */
const CLIENTS = Number(args.clients ?? 2000);
/**
 * Floors (perf/floors/): for each scenario that reaches the database (SQL, not a cache-hit scenario), the
 * same requests' statements run by a bare worker in the same workerd with `pg`, and with postgres.js for
 * the scenarios marked `driverFloor`. A floor's request i runs the statements of the plan's sql(i) for
 * i < FLOOR_TABLE, then wraps around.
 */
const profiling = args.profile === true;
const withFloors = args.floors !== false && !profiling;
const postgresPrepare = args["postgres-prepare"] === "false" ? "false" : "true";
const floorBindings: Record<FloorDriver, Record<string, string>> = { pg: {}, postgres: { POSTGRES_PREPARE: postgresPrepare } };
const FLOOR_TABLE = 4096;
const floorsOf = (s: Scenario): FloorDriver[] =>
  !withFloors || s.target !== "app" || s.cache === "hit" ? [] : FLOOR_DRIVERS.filter((d) => d === "pg" || s.driverFloor);

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanup() {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => console.error(`[bench] cleanup: ${err}`));
}
// Ctrl-C or a CI timeout: still stop pgbouncer/workerd and drop the database.
process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
process.once("SIGTERM", () => void cleanup().finally(() => process.exit(143)));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function loadCatalog(url: string): Promise<Catalog> {
  return withClient(url, async (c) => {
    const products = (
      await c.query<{ id: string; sku: string; category: string }>(
        `SELECT p.id, p.sku, coalesce(c.slug, '') AS category FROM products p
         LEFT JOIN categories c ON c.id = p.category_id WHERE p.status = 'active' ORDER BY p.sku`,
      )
    ).rows;
    // Popularity order: a fixed pseudo-random permutation, so "popular" is not "newest".
    const order = products.map((p, i) => ({ p, k: rand(7, i) })).sort((a, b) => a.k - b.k);
    const categories = (await c.query<{ slug: string }>("SELECT slug FROM categories ORDER BY slug")).rows.map((r) => r.slug);
    const words = (
      await c.query<{ w: string }>(
        `SELECT DISTINCT w FROM products, regexp_split_to_table(lower(name), '[^a-z]+') AS w WHERE length(w) >= 3 ORDER BY w`,
      )
    ).rows.map((r) => r.w);
    const prefixes = words.filter((w) => w.length >= 6).map((w) => w.slice(0, 4));
    // Deduplicated: a prefix can equal a word (sand/sandal), and a repeated term would repeat URLs.
    return { products: order.map((o) => o.p), categories, terms: [...new Set([...words, ...prefixes])] };
  });
}

try {
  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
  const cursorSecret = crypto.randomUUID() + crypto.randomUUID(); // 72 chars, fresh per run
  log(`${smoke ? "smoke" : "full"} run: hello + ${selected.map((s) => s.name).join(", ") || "nothing else"}`);
  const dbReady = (async () => {
    const url = await createFreshDatabase(serverUrl, "toko_bench");
    cleanups.push(() => dropDatabase(url));
    await runMigrations(url);
    const seeded = await seedCatalog(url);
    const pgVersion = await withClient(url, async (c) => (await c.query("SHOW server_version")).rows[0].server_version as string);
    return { url, seeded, pgVersion };
  })();
  const [bundle, config, db, floors] = await Promise.all([
    buildBundle({ minify: !profiling }),
    readWorkerConfig(),
    dbReady,
    withFloors ? buildFloors() : undefined,
  ]);
  Object.assign(config.vars, varOverrides);
  log(`bundle built in ${bundle.buildMs} ms; database ${redact(db.url)} seeded (${db.seeded.products} products)`);
  const pooler = await startPooler(db.url, log);
  cleanups.push(() => pooler.stop());
  if (!pooler.pooled) console.warn(`\n!!! ${pooler.label}\n`);
  // Scenarios with [vars] overrides get their own copy of the app worker, one per distinct set.
  const variants = [...new Set(selected.filter((s) => s.vars).map((s) => JSON.stringify(s.vars)))];
  const workerOf = (s: Scenario) =>
    s.target === "hello" ? "hello" : s.vars ? `app~${variants.indexOf(JSON.stringify(s.vars)) + 1}` : "app";
  const inspectorPort = profiling ? await freePort() : undefined;
  const runtime = await startRuntime({
    ...(inspectorPort ? { inspectorPort } : {}),
    bundlePath: bundle.path,
    config,
    dbUrl: pooler.url,
    cursorSecret,
    variants: variants.map((v) => JSON.parse(v) as Record<string, string>),
    ...(floors
      ? {
          floors: Object.fromEntries(FLOOR_DRIVERS.map((d) => [`floor-${d}`, { path: floors.paths[d], bindings: floorBindings[d] }])),
        }
      : {}),
  });
  cleanups.push(() => runtime.dispose());
  const catalog = await loadCatalog(db.url);

  const urlOf = (worker: string) => runtime.urls.get(worker) as URL;
  let primed = 0;
  const primeOn = (base: URL) => async (paths: string[]) => {
    for (const path of paths) {
      let hit = false;
      for (let attempt = 0; attempt < 20 && !hit; attempt++) {
        const res = await fetch(new URL(path, base), { headers: { "cf-connecting-ip": clientIp(CLIENTS + primed++) } });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`priming ${path}: HTTP ${res.status}`);
        hit = res.headers.get("x-cache") === "HIT";
        if (!hit) await sleep(attempt ? 25 : 0); // the cache put runs in waitUntil, after the response
      }
      if (!hit) {
        // Do not stall on a broken cache: measure anyway, the hit-ratio budget reports it.
        console.warn(`[bench] priming: ${path} never answered X-Cache: HIT; skipping the rest of the priming`);
        return;
      }
    }
  };
  const helloPlan = await hello.prepare({ catalog, cursorSecret, dbUrl: db.url, secrets: runtime.secrets, prime: primeOn(urlOf("hello")) });
  const pid = runtime.workerdPid;
  const helloRun = (seconds: number, t: Tally) =>
    runHttp({ base: urlOf("hello"), connections, seconds, next: helloPlan.request, workerdPid: pid }, t);
  const helloAll = new Tally(); // every hello slice of the run: the "hello" row
  const rows: Row[] = [];
  const extraNotes: Record<string, string> = {};
  const driverLines: string[] = [];
  const slice = duration / rounds;

  if (!selected.length) await helloRun(duration, helloAll);
  const profiles: string[] = [];
  if (inspectorPort) {
    // The baseline's own profile: what the runtime costs per request before any of our code.
    const t = new Tally();
    const cpu = await profileWhile(inspectorPort, "hello", () => helloRun(duration, t));
    const r = t.result();
    const summary = renderSummary(`hello (${Math.round(r.rps)} req/s while profiled)`, summarise(cpu, bundle.path, r.requests, 5));
    console.log(`\n${summary}`);
    profiles.push(summary);
  }
  for (const scenario of selected) {
    const base = urlOf(workerOf(scenario));
    const clients = scenario.target === "app" ? CLIENTS : undefined;
    if (scenario.target === "app") await runtime.purgeCache(); // every scenario starts from a cold cache
    const plan = await scenario.prepare({ catalog, cursorSecret, dbUrl: db.url, secrets: runtime.secrets, prime: primeOn(base) });
    const [worker, sql, pairedHello] = [new Tally(), new Tally(), new Tally()];
    if (warmup > 0) {
      const warm = new Tally();
      await runHttp({ base, connections, seconds: warmup, next: plan.request, clients }, warm);
      worker.next = warm.next; // continue the sequence: "miss" URLs must not repeat
    }
    if (inspectorPort) {
      const cpu = await profileWhile(inspectorPort, workerOf(scenario), async () => {
        await runHttp({ base, connections, seconds: duration, next: plan.request, clients }, worker);
      });
      const r = worker.result();
      const summary = renderSummary(
        `${scenario.name} (${Math.round(r.rps)} req/s while profiled, ${r.errors} errors, X-Cache ${JSON.stringify(r.cache)})`,
        summarise(cpu, bundle.path, r.requests),
      );
      console.log(`\n${summary}`);
      profiles.push(summary);
      mkdirSync(`${ROOT}perf/results`, { recursive: true });
      saveProfile(`${ROOT}perf/results/profile-${scenario.name}.cpuprofile`, cpu);
      continue;
    }
    // The floors get the statements of requests 0 … FLOOR_TABLE-1 (untimed), then the same warm-up as the app.
    const drivers = plan.sql ? floorsOf(scenario) : [];
    const floor = new Map(drivers.map((d) => [d, new Tally()]));
    const floorTab = plan.sql && drivers.length ? floorTable(plan.sql, FLOOR_TABLE) : undefined;
    const floorRun = (d: FloorDriver, seconds: number, t: Tally, cpu = true) =>
      runHttp({ base: urlOf(`floor-${d}`), connections, seconds, next: (i) => ({ path: `/${i}` }), workerdPid: cpu ? pid : undefined }, t);
    for (const [d, t] of floor) {
      await loadFloor(urlOf(`floor-${d}`), floorTab as NonNullable<typeof floorTab>);
      if (warmup > 0) {
        const warm = new Tally();
        await floorRun(d, warmup, warm, false);
        t.next = warm.next;
      }
    }
    const pool = new pg.Pool({ connectionString: pooler.url, max: connections });
    pool.on("error", () => {}); // idle client dropped by the pooler at shutdown
    for (let r = 0; r < rounds; r++) {
      await helloRun(slice / 2, pairedHello); // hello is fast: half a slice gives plenty of samples
      await runHttp({ base, connections, seconds: slice, next: plan.request, workerdPid: pid, clients }, worker);
      if (plan.sql) await runSql({ pool, connections, seconds: slice, next: plan.sql }, sql);
      for (const [d, t] of floor) await floorRun(d, slice, t);
    }
    await pool.end().catch(() => {});
    if (plan.after) {
      const notes = await plan.after();
      for (const [k, v] of Object.entries(notes)) {
        extraNotes[`${scenario.name}: ${k}`] = v;
        log(`${scenario.name}: ${k}: ${v}`);
      }
    }
    helloAll.absorb(pairedHello);
    const w = worker.result();
    const h = pairedHello.result();
    const s = plan.sql ? sql.result() : undefined;
    const workerRow: Row = {
      scenario: scenario.name,
      kind: "worker",
      result: w,
      rpsVsHello: w.rps / h.rps,
      rpsVsSql: s ? w.rps / s.rps : undefined,
      p99VsHello: w.p99 / h.p99,
      hitRatio: scenario.cache ? hitRatio(w) : undefined,
      errorRate: w.errors / Math.max(1, w.requests),
      pairedHello: { rps: h.rps, p99: h.p99 },
    };
    rows.push(workerRow);
    if (s) rows.push({ scenario: scenario.name, kind: "raw-sql", result: s, errorRate: s.errors / Math.max(1, s.requests) });
    const fl = Object.fromEntries([...floor].map(([d, t]) => [d, t.result()])) as Partial<Record<FloorDriver, LoadResult>>;
    const pgFloor = fl.pg;
    if (pgFloor) workerRow.rpsVsFloor = w.rps / pgFloor.rps;
    for (const [d, f] of Object.entries(fl) as [FloorDriver, LoadResult][]) {
      rows.push({
        scenario: scenario.name,
        kind: `floor-${d}`,
        result: f,
        errorRate: f.errors / Math.max(1, f.requests),
        ...(d !== "pg" && pgFloor ? { rpsVsFloor: f.rps / pgFloor.rps } : {}),
      });
    }
    const fpj = fl.postgres;
    if (pgFloor && fpj && floorTab) {
      const n = floorTab.order.reduce((a, k) => a + (floorTab.requests[k]?.length ?? 0), 0) / floorTab.order.length;
      const ms = (r: LoadResult) => (r.cpuMsPerReq === undefined ? "?" : r.cpuMsPerReq.toFixed(2));
      const line =
        `pg vs postgres.js: ${Math.round(pgFloor.rps)} vs ${Math.round(fpj.rps)} req/s, ${ms(pgFloor)} vs ${ms(fpj)} ms CPU per connect+query ` +
        `(${scenario.name}: connect, ${round(n, 1)} statement(s), close; p50 ${round(pgFloor.p50, 1)} vs ${round(fpj.p50, 1)} ms; errors ${pgFloor.errors} vs ${fpj.errors})`;
      driverLines.push(line);
      extraNotes[`driver (${scenario.name})`] = line;
    }
    log(
      `${scenario.name}: ${Math.round(w.rps)} req/s (${(w.rps / h.rps).toFixed(3)}× hello)` +
        (s ? `, raw SQL ${Math.round(s.rps)} req/s` : "") +
        (Object.keys(fl).length
          ? `, floor ${Object.entries(fl)
              .map(([d, f]) => `${DRIVER_LABEL[d as FloorDriver]} ${Math.round(f.rps)} req/s`)
              .join(", ")}`
          : ""),
    );
  }
  if (profiling) {
    const file = `perf/results/profile-${new Date(t0).toISOString().replace(/[:.]/g, "-")}.md`;
    const head = `# CPU profile of the app in workerd (${new Date(t0).toISOString()})\n\n${runtime.label}; unminified bundle; ${connections} connections, ${duration} s per scenario after ${warmup} s warm-up; V8 sampling profiler every 200 µs over the inspector. Open perf/results/profile-<scenario>.cpuprofile in Chrome DevTools for the flame chart.\n`;
    writeFileSync(`${ROOT}${file}`, [head, ...profiles].join("\n"));
    log(`profile: ${file}`);
    await cleanup();
    process.exit(0);
  }
  const helloResult = helloAll.result();
  rows.unshift({
    scenario: hello.name,
    kind: "worker",
    result: helloResult,
    errorRate: helloResult.errors / Math.max(1, helloResult.requests),
  });
  for (const row of rows) {
    const to = SCENARIOS.find((s) => s.name === row.scenario)?.compareTo;
    const other = rows.find((r) => r.kind === "worker" && r.scenario === to);
    if (row.kind === "worker" && to && other) row.compare = { to, rpsRatio: row.result.rps / other.result.rps };
  }

  const cpu = cpus();
  const meta: Record<string, string> = {
    started: new Date(t0).toISOString(),
    mode: smoke ? "smoke" : "full",
    runtime: runtime.label,
    ...extraNotes,
    ...(Object.keys(varOverrides).length ? { vars: `overridden: ${JSON.stringify(varOverrides)}` } : {}),
    pooler: pooler.label,
    ...(floors
      ? {
          floors: `bare workers in the same workerd (pg ${floors.versions.pg}, postgres.js ${floors.versions.postgres} with prepare: ${postgresPrepare}; esbuild, ${floors.buildMs} ms), Hyperdrive binding → the same pooler; per request: connect, the statements of the scenario's request i (loaded once, looked up by index), close after the response`,
        }
      : {}),
    database: `PostgreSQL ${db.pgVersion}, fresh database ${new URL(db.url).pathname.slice(1)} (${db.seeded.products} products), dropped at exit`,
    bundle: `${(bundle.rawBytes / 1024).toFixed(1)} KiB minified, ${(bundle.gzipBytes / 1024).toFixed(1)} KiB gzip (wrangler deploy --dry-run --minify)`,
    load: `autocannon, ${connections} connections from ${CLIENTS} simulated client IPs (bursts of 8), ${duration} s per scenario in ${rounds} slices after ${warmup} s warm-up; each slice paired with ${(slice / 2).toFixed(2)} s of hello and ${slice.toFixed(2)} s of raw SQL (pg.Pool max ${connections}, same pooler)`,
    machine: `${cpu.length} × ${cpu[0]?.model ?? "cpu"}, Node ${process.versions.node}; load generator, workerd, pooler and Postgres share these cores`,
    cpu: pid
      ? "workerd CPU ms/req = workerd process user+sys time (/proc) ÷ responses: an approximation (workerd does not report per-request CPU locally)"
      : "workerd pid not found: no CPU figure",
  };
  const header = Object.entries(meta).map(([k, v]) => `${k.padEnd(8)}: ${v}`);
  console.log(`\n${header.join("\n")}\n\n${renderTable(rows)}\n`);
  console.log("÷ hello uses the hello slices interleaved with that scenario; the hello row aggregates all of them.");
  if (rows.some((r) => r.rpsVsFloor !== undefined))
    console.log(
      "÷ floor (pg): req/s against a bare worker running the same statements with pg in this workerd (postgres.js row: ÷ the pg floor).",
    );
  for (const r of rows.filter((x) => x.compare))
    console.log(`${r.scenario}: ${r.compare?.rpsRatio.toFixed(2)}× the req/s of ${r.compare?.to}`);
  for (const line of driverLines) console.log(line);
  console.log(
    `\nissue 13 targets (informational; docs/performance.md explains the ones not met):\n${renderTargets(rows, bundle.gzipBytes).join("\n")}`,
  );
  if (runtime.logs.samples.length)
    console.log(`\nworker warn/error log lines (first ${runtime.logs.samples.length}):\n${runtime.logs.samples.join("\n")}`);

  const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8")) as Budgets;
  const failures = checkBudgets(rows, budgets, { throughput: pooler.pooled });
  if (!pooler.pooled) console.warn(`\n!!! ${pooler.label}\n!!! throughput budgets skipped; only errors and hit ratios are checked`);
  const elapsedSec = Math.round((Date.now() - t0) / 100) / 10;
  const stamp = writeResults({
    dir: `${ROOT}perf/results`,
    meta,
    rows,
    failures,
    extra: { elapsedSec, workerLogs: runtime.logs, targets: renderTargets(rows, bundle.gzipBytes) },
  });
  log(`results: perf/results/${stamp}.{json,md}; total ${elapsedSec} s`);
  if (failures.length) {
    console.error(
      `\n${smoke ? "SMOKE FAILED" : "budget check (informational in a full run)"}: ${failures.length} problem(s) against perf/budgets.json`,
    );
    for (const f of failures) console.error(f.startsWith("  ") ? `    ${f.trim()}` : `  ✗ ${f}`);
    if (smoke) process.exitCode = 1;
  } else console.log(`budgets: all within perf/budgets.json${smoke ? " — SMOKE PASSED" : ""}`);
} catch (err) {
  console.error("[bench] failed:", err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 2;
} finally {
  await cleanup();
  // A CLI: do not wait on stray handles (keep-alive sockets, timers) once results are written.
  process.exit(process.exitCode ?? 0);
}
