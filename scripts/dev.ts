/**
 * `npm run dev`: serves the worker on http://127.0.0.1:8787 (wrangler dev, the real
 * workerd runtime) against Postgres with demo data.
 *  - DATABASE_URL set → that database (created, migrated and seeded when empty).
 *  - otherwise → an embedded Postgres (PGlite over TCP) persisted in .data/pglite.
 * Extra arguments go to `wrangler dev` (e.g. `npm run dev -- --port 9000`).
 * DEV_VARS_FILE=path uses that file instead of .dev.vars (created the same way, passed to wrangler
 * with --env-file), e.g. to keep a Stripe setup next to the default one; dev:check uses a temp file.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDatabase, redact, runMigrations } from "./lib/db.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { startEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { catalogIsEmpty, seedAdmin, seedCatalog } from "./lib/seed.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`Node ${process.versions.node} is too old: wrangler needs >= 22.12 (npm install provides it on linux-x64).`);
  process.exit(1);
}

// wrangler reads .dev.vars itself; another file is handed over with --env-file (same filtering: only names in
// [vars] or [secrets] required are loaded; optional secrets are declared empty in [vars] for that reason).
const devVarsFile = process.env.DEV_VARS_FILE ? resolve(process.env.DEV_VARS_FILE) : undefined;
const created = ensureDevVars(devVarsFile ?? `${root}.dev.vars`);
if (created.length) console.log(`[dev] wrote local secrets to ${devVarsFile ?? ".dev.vars"}: ${created.join(", ")}`);

let stopDb = async () => {};
let url = process.env.DATABASE_URL;
if (url) {
  await ensureDatabase(url);
} else {
  const dataDir = process.env.EMBEDDED_PG_DATA ?? `${root}.data/pglite`;
  mkdirSync(dataDir, { recursive: true });
  const started = Date.now();
  const pg = await startEmbeddedPostgres({ dataDir, port: Number(process.env.EMBEDDED_PG_PORT ?? 54329) });
  url = pg.url;
  stopDb = () => pg.stop();
  console.log(
    `[dev] embedded Postgres (PGlite) on ${pg.host}:${pg.port}, data in ${dataDir.replace(root, "")} (${Date.now() - started} ms)`,
  );
}
await runMigrations(url);
if (await catalogIsEmpty(url)) {
  const res = await seedCatalog(url);
  console.log(`[dev] seeded demo catalogue: ${res.categories} categories, ${res.products} products`);
}
const adminEmail = process.env.ADMIN_EMAIL ?? "admin@toko.local";
const admin = await seedAdmin(url, adminEmail, process.env.ADMIN_PASSWORD || undefined);
if (admin.generatedPassword) {
  console.log(
    `[dev] created ADMIN ${adminEmail} with password ${admin.generatedPassword}  (printed once; set ADMIN_PASSWORD to choose it)`,
  );
}
console.log(`[dev] database ${redact(url)} ready`);
console.log(`[dev] admin console: http://localhost:${process.env.PORT ?? "8787"}/admin/ (sign in as ${adminEmail}); API reference: /docs`);

const wrangler = spawn(
  process.execPath,
  [
    `${root}node_modules/wrangler/bin/wrangler.js`,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    process.env.PORT ?? "8787",
    ...(devVarsFile ? ["--env-file", devVarsFile] : []),
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE_FRESH: url,
      // Local Hyperdrive does not cache: report reads are fresh under `npm run dev`.
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE_CACHED: url,
    },
  },
);

let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  wrangler.kill("SIGTERM");
  await stopDb().catch(() => {});
  process.exit(code);
};
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
wrangler.on("exit", (code) => void shutdown(code ?? 0));
