/**
 * Harness side of the floors (perf/floors/): builds the floor workers and turns a scenario's
 * recorded SQL into the statement table a floor worker runs (perf/floors/common.ts).
 *
 * Built with esbuild (the one wrangler itself bundles with, resolved through wrangler), the way
 * wrangler bundles for workerd: ESM, `workerd`/`worker`/`browser` export conditions, Node built-ins
 * as external `node:` imports (nodejs_compat provides them), minified like the app. ~0.1 s, offline.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import type * as Esbuild from "esbuild";
import type pg from "pg";
import type { FloorStatement, FloorTable } from "../floors/common.ts";
import { ROOT } from "./runtime.ts";
import type { RecordedQuery } from "./sql.ts";

const require = createRequire(import.meta.url);
const OUT_DIR = `${ROOT}dist/bench-floors`;

/** The drivers a floor exists for, by worker name suffix (`floor-pg`, `floor-postgres`). */
export const FLOOR_DRIVERS = ["pg", "postgres"] as const;
export type FloorDriver = (typeof FLOOR_DRIVERS)[number];
export const DRIVER_LABEL: Record<FloorDriver, string> = { pg: "pg", postgres: "postgres.js" };

export interface FloorBundles {
  paths: Record<FloorDriver, string>;
  /** Driver versions, for the report. */
  versions: Record<FloorDriver, string>;
  buildMs: number;
}

export async function buildFloors(): Promise<FloorBundles> {
  const started = Date.now();
  const esbuild = createRequire(require.resolve("wrangler/package.json"))("esbuild") as typeof Esbuild;
  const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")));
  // As wrangler does with nodejs_compat: Node built-ins are external `node:` imports, and a CommonJS
  // `require` of one (pg is CommonJS) goes through a tiny ES module, since workerd has no `require`.
  const nodeBuiltins: Esbuild.Plugin = {
    name: "node-builtins",
    setup(b) {
      b.onResolve({ filter: /^[a-z]/ }, (a) => {
        const name = a.path.replace(/^node:/, "");
        if (!a.path.startsWith("node:") && !builtins.has(name.split("/")[0] as string)) return undefined;
        return a.kind === "require-call" ? { path: `node:${name}`, namespace: "node-require" } : { path: `node:${name}`, external: true };
      });
      b.onLoad({ filter: /.*/, namespace: "node-require" }, (a) => ({
        contents: `import m from ${JSON.stringify(a.path)}; module.exports = m;`,
        loader: "js",
      }));
    },
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const paths = Object.fromEntries(FLOOR_DRIVERS.map((d) => [d, `${OUT_DIR}/${d}.js`])) as Record<FloorDriver, string>;
  await Promise.all(
    FLOOR_DRIVERS.map((d) =>
      esbuild.build({
        entryPoints: [`${ROOT}perf/floors/${d}.ts`],
        outfile: paths[d],
        bundle: true,
        format: "esm",
        platform: "neutral",
        target: "es2022",
        mainFields: ["browser", "module", "main"],
        conditions: ["workerd", "worker", "browser"],
        // pg-native: pg's optional libpq binding, only required when asked for (never here).
        external: ["cloudflare:*", "pg-native"],
        plugins: [nodeBuiltins],
        minify: true,
        logLevel: "silent",
      }),
    ),
  );
  const version = (pkg: string) =>
    (JSON.parse(readFileSync(`${ROOT}node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
  return { paths, versions: { pg: version("pg"), postgres: version("postgres") }, buildMs: Date.now() - started };
}

/** pg's own text form of a parameter (what goes on the wire), so both drivers get the same values. */
const prepareValue = (require("pg/lib/utils.js") as { prepareValue(v: unknown): unknown }).prepareValue;

function toFloor(q: RecordedQuery): FloorStatement {
  const values = q.values.map((v) => {
    const p = prepareValue(v);
    if (p !== null && typeof p !== "string")
      throw new Error(`floor: a parameter pg sends in binary form is not supported (${q.config.text})`);
    return p;
  });
  return {
    text: q.config.text,
    values,
    ...((q.config as pg.QueryArrayConfig).rowMode === "array" ? { array: true } : {}),
    ...(q.refs?.length ? { refs: q.refs } : {}),
  };
}

/**
 * The statement table of requests 0 … n-1 of a scenario's raw-SQL plan. Requests the plan returns
 * as the same array (the recorded SQL of one catalogue entry, one checkout template) are sent once.
 */
export function floorTable(sql: (i: number) => RecordedQuery[], n: number): FloorTable {
  const seen = new Map<RecordedQuery[], number>();
  const requests: FloorStatement[][] = [];
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const qs = sql(i);
    let idx = seen.get(qs);
    if (idx === undefined) {
      idx = requests.push(qs.map(toFloor)) - 1;
      seen.set(qs, idx);
    }
    order.push(idx);
  }
  return { requests, order };
}

/** Loads a statement table into a floor worker (untimed, before the scenario's slices). */
export async function loadFloor(base: URL, table: FloorTable): Promise<void> {
  const res = await fetch(new URL("/", base), {
    method: "POST",
    body: JSON.stringify(table),
    headers: { "content-type": "application/json" },
  });
  const text = await res.text();
  if (!res.ok || Number(text) !== table.order.length)
    throw new Error(`loading the floor at ${base}: HTTP ${res.status} ${text.slice(0, 200)}`);
}
