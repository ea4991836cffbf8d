/**
 * `npm run dev:check`: the two-command promise, checked end to end. Starts `npm run dev`
 * (embedded Postgres unless DATABASE_URL is set), waits for the API, fires 50 concurrent
 * requests that all reach the database, and fails on any error. Used by CI.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = process.env.PORT ?? "8799";
const base = `http://127.0.0.1:${port}`;
// A throwaway data dir: exercises the first run (migrate + seed) and never touches .data/.
const dataDir = mkdtempSync(`${tmpdir()}/toko-dev-check-`);
const dataPort = String(55000 + Math.floor(Math.random() * 1000));
const dev = spawn(process.execPath, [`${root}scripts/dev.ts`], {
  cwd: root,
  env: { ...process.env, PORT: port, EMBEDDED_PG_PORT: dataPort, EMBEDDED_PG_DATA: dataDir },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
let output = "";
dev.stdout.on("data", (d) => (output += d));
dev.stderr.on("data", (d) => (output += d));

const stop = () => {
  try {
    process.kill(-(dev.pid ?? 0), "SIGTERM");
  } catch {}
  setTimeout(() => rmSync(dataDir, { recursive: true, force: true }), 1000).unref();
};

async function main(): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (Date.now() - started > 120_000) throw new Error("dev server did not answer within 120 s");
    if (dev.exitCode !== null) throw new Error(`npm run dev exited with ${dev.exitCode}`);
    try {
      if ((await fetch(`${base}/health/ready`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`[dev:check] ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const list = await fetch(`${base}/api/v1/products`);
  const body = (await list.json()) as { data: unknown[] };
  if (list.status !== 200 || body.data.length !== 20) throw new Error(`GET /api/v1/products → ${list.status}`);
  const terms = ["lapt", "kettle", "pro", "sneak", "tea"];
  const paths = Array.from({ length: 50 }, (_, i) =>
    i % 2 ? `/api/v1/products?limit=${i + 1}&min_price=${i}` : `/api/v1/search?q=${terms[i % 5]}&limit=${i + 1}`,
  );
  const t0 = Date.now();
  const statuses = await Promise.all(paths.map(async (p) => (await fetch(`${base}${p}`)).status));
  const errors = statuses.filter((s) => s !== 200).length;
  console.log(`[dev:check] 50 concurrent DB requests: ${errors} errors in ${Date.now() - t0} ms`);
  if (errors) throw new Error(`statuses: ${statuses.join(",")}`);
}

main()
  .then(() => {
    stop();
    setTimeout(() => process.exit(0), 1500);
  })
  .catch((err) => {
    console.error(`[dev:check] FAILED: ${err instanceof Error ? err.message : err}\n--- dev output ---\n${output}`);
    stop();
    setTimeout(() => process.exit(1), 1500);
  });
