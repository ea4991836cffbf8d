/**
 * Builds the worker exactly as it deploys (wrangler --dry-run --minify) and serves
 * it on workerd through Miniflare's programmatic API with direct sockets.
 *
 * Why not `wrangler dev`: its proxy layer caps hello-world at ~600 req/s here vs
 * ~13k on workerd directly, so it would measure the proxy. `unsafeDirectSockets`
 * opens a raw socket straight to the user worker, skipping Miniflare's entry
 * worker as well. A hello-world worker in the same workerd is the baseline.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Miniflare, NoOpLog, type V4WorkerOptions } from "miniflare";
import { childPids } from "./util.ts";

/** wrangler's worker options (its type is an Omit over an index signature, so the keys we read are restated). */
type SourcelessWorkerOptions = Record<string, unknown> & {
  compatibilityDate?: string;
  compatibilityFlags?: string[];
  hyperdrives?: Record<string, unknown>;
};

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT_DIR = "dist/bench";
const require = createRequire(import.meta.url);

export interface Bundle {
  path: string;
  rawBytes: number;
  gzipBytes: number;
  buildMs: number;
}

export interface WorkerConfig {
  /** Every binding wrangler would give `wrangler dev` (Durable Objects, queues, KV, hyperdrive…), minus the script. */
  options: SourcelessWorkerOptions;
  /** [vars] of the top-level environment, as strings. */
  vars: Record<string, string>;
  /** `[secrets] required` names: the harness fills each with a fresh random value. */
  secrets: string[];
}

/** The deployable bundle (minified), or an unminified one for CPU profiles (source modules stay visible). */
export async function buildBundle(opts: { minify?: boolean } = {}): Promise<Bundle> {
  const minify = opts.minify ?? true;
  const outDir = minify ? OUT_DIR : `${OUT_DIR}-unminified`;
  const started = Date.now();
  const wrangler = join(dirname(require.resolve("wrangler/package.json")), "bin/wrangler.js");
  // `--env ""` = the top-level environment (silences wrangler's multi-environment warning).
  await promisify(execFile)(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--env", "", "--outdir", outDir, ...(minify ? ["--minify"] : [])],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      maxBuffer: 16 << 20,
    },
  ).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`wrangler build failed:\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  });
  const path = `${ROOT}${outDir}/index.js`;
  const code = readFileSync(path);
  return { path, rawBytes: code.length, gzipBytes: gzipSync(code).length, buildMs: Date.now() - started };
}

/**
 * The worker's bindings as wrangler itself derives them from wrangler.toml (top-level
 * environment), so Durable Objects, queues or KV added later are bound without touching the harness.
 */
export async function readWorkerConfig(): Promise<WorkerConfig> {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.WRANGLER_LOG ??= "error"; // no "missing secrets" banner: the harness provides them
  const { unstable_readConfig, unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const cfg = unstable_readConfig({ config: `${ROOT}wrangler.toml` }, { hideWarnings: true } as never);
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.vars ?? {})) vars[k] = typeof v === "string" ? v : JSON.stringify(v);
  const required = (cfg as { secrets?: { required?: string[] } }).secrets?.required ?? [];
  return {
    options: unstable_getMiniflareWorkerOptions(cfg).workerOptions as SourcelessWorkerOptions,
    vars,
    secrets: [...new Set(["CURSOR_SECRET", ...required])],
  };
}

export interface LogStats {
  lines: number;
  byLevel: Record<string, number>;
  /** First few warn/error lines, for diagnosing errors in the table. */
  samples: string[];
}

export interface Runtime {
  /** Direct-socket URL per worker: "hello", "app", "app~<n>" for each vars variant, and each floor. */
  urls: Map<string, URL>;
  label: string;
  /** The secrets the workers got (for scenarios that sign requests, e.g. webhooks). */
  secrets: Record<string, string>;
  workerdPid: number | undefined;
  logs: LogStats;
  purgeCache(): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * One workerd: the app (plus one copy per `variants` entry, same bundle with some [vars]
 * overridden, e.g. guards off), a hello-world worker and the floor workers, each on its own direct socket.
 */
export async function startRuntime(opts: {
  bundlePath: string;
  config: WorkerConfig;
  dbUrl: string;
  cursorSecret: string;
  variants: Record<string, string>[];
  /** Floor workers (perf/floors/) by name, e.g. "floor-pg": bundle path and plain-text bindings. Each gets a HYPERDRIVE binding to `dbUrl`. */
  floors?: Record<string, { path: string; bindings?: Record<string, string> }>;
  /** Opens workerd's inspector (CPU profiles, perf/lib/profile.ts) on this port. */
  inspectorPort?: number;
  /** More ES modules beside `bundlePath` that it imports (the chaos suite's wrapper entry imports the bundle). */
  extraModules?: string[];
}): Promise<Runtime> {
  // Fresh random values, shaped as scripts/lib/dev-vars.ts shapes them (webhook secrets as whsec_<base64>);
  // CURSOR_SECRET is shared with the harness because the raw-SQL baseline runs the same service code.
  const secrets: Record<string, string> = Object.fromEntries(
    opts.config.secrets.map((name) => [
      name,
      name.endsWith("WEBHOOK_SECRETS") ? `whsec_${randomBytes(24).toString("base64")}` : randomBytes(32).toString("base64url"),
    ]),
  );
  secrets.CURSOR_SECRET = opts.cursorSecret;
  const { options } = opts.config;
  const common = { compatibilityDate: options.compatibilityDate, compatibilityFlags: options.compatibilityFlags };
  // Every Hyperdrive binding goes through the pooler (local Hyperdrive does not pool).
  const hyperdrives = Object.fromEntries(Object.keys(options.hyperdrives ?? {}).map((name) => [name, opts.dbUrl]));
  const app = (name: string, vars: Record<string, string>): V4WorkerOptions =>
    ({
      ...(options as Partial<V4WorkerOptions>),
      name,
      ...(opts.extraModules?.length
        ? {
            modulesRoot: dirname(opts.bundlePath),
            modules: [opts.bundlePath, ...opts.extraModules].map((path) => ({ type: "ESModule" as const, path })),
          }
        : { scriptPath: opts.bundlePath, modules: true }),
      modulesRules: undefined, // Miniflare 5 rejects module rules; the bundle is one ES module
      // Static assets (the admin console, [assets] in wrangler.toml) are left out: with them Miniflare puts
      // its asset router in front of the worker even on a direct socket, ≈ 0.3 ms of workerd CPU per API
      // request here (measured 2026-12-01: app-live 0.44 vs 0.13 ms). On Cloudflare that routing happens
      // before the Worker runs and is not the Worker's CPU; the API is what this harness measures.
      assets: undefined,
      cacheAPI: true,
      bindings: { ...opts.config.vars, ...vars, ...secrets },
      hyperdrives,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    }) as V4WorkerOptions;
  const floors = Object.entries(opts.floors ?? {});
  const names = ["app", ...opts.variants.map((_, i) => `app~${i + 1}`), ...floors.map(([name]) => name)];
  const logs: LogStats = { lines: 0, byLevel: {}, samples: [] };
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
      cf: false, // no network here; Request.cf is irrelevant on direct sockets anyway
      log: new NoOpLog(),
      // The app writes one JSON access-log line per request (LOG_LEVEL from wrangler.toml): that cost
      // stays in the measurement, but lines are only counted here, not printed.
      handleStructuredLogs: (l) => {
        logs.lines++;
        logs.byLevel[l.level] = (logs.byLevel[l.level] ?? 0) + 1;
        if ((l.level === "error" || l.level === "warn") && logs.samples.length < 5) logs.samples.push(l.message.slice(0, 400));
      },
      workers: [
        app("app", {}),
        // A queue may have one consumer: copies produce into the app's queues but leave consuming to it.
        ...opts.variants.map((vars, i) => ({ ...app(`app~${i + 1}`, vars), queueConsumers: undefined })),
        {
          name: "hello",
          modules: true,
          script: `export default { fetch() { return new Response("hello world", { headers: { "content-type": "text/plain" } }); } };`,
          ...common,
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        },
        // The floors: bare workers with one Hyperdrive binding through the same pooler as the app's.
        ...floors.map(([name, floor]) => ({
          name,
          scriptPath: floor.path,
          bindings: floor.bindings ?? {},
          modules: true,
          ...common,
          hyperdrives: { HYPERDRIVE: opts.dbUrl },
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        })),
      ],
    }),
  );
  try {
    await mf.ready;
  } catch (err) {
    await mf.dispose().catch(() => {}); // else its loopback server keeps the process alive
    throw err;
  }
  const urls = new Map<string, URL>();
  for (const name of [...names, "hello"]) urls.set(name, await mf.unsafeGetDirectURL(name));
  const workerd = require(require.resolve("workerd/package.json", { paths: [require.resolve("miniflare")] })).version as string;
  const miniflare = require("miniflare/package.json").version as string;
  return {
    urls,
    label: `workerd ${workerd} via Miniflare ${miniflare} API, unsafeDirectSockets (no wrangler dev proxy, no entry worker)`,
    secrets,
    workerdPid: childPids(process.pid, "workerd")[0],
    logs,
    purgeCache: () => mf.purgeCache(),
    dispose: () => mf.dispose(),
  };
}
