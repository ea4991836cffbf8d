/**
 * Runs in Node before the workerd test pool starts: prepares a real Postgres.
 * TEST_DATABASE_URL or DATABASE_URL → a fresh database on that server (dropped afterwards);
 * neither → the embedded Postgres (PGlite over TCP), in memory.
 */
import type { TestProject } from "vitest/node";
import { buildAdmin } from "../scripts/build-admin.ts";
import { createFreshDatabase, dropDatabase, redact, runMigrations } from "../scripts/lib/db.ts";
import { startEmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";
import { seedCatalog } from "../scripts/lib/seed.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    pgKind: string;
  }
}

export default async function setup(project: TestProject) {
  // The console and /docs are static assets ([assets] in wrangler.toml): the worker's /docs and SPA-fallback routes read them.
  // ADMIN_PREBUILT=1: already built by the caller (.ci/run runs two suites at once, which must not rebuild it under each other).
  if (process.env.ADMIN_PREBUILT !== "1") await buildAdmin({ quiet: true });
  const server = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let url: string;
  let teardown: () => Promise<void>;
  if (server) {
    url = await createFreshDatabase(server, "toko_test");
    teardown = () => dropDatabase(url);
  } else {
    const pg = await startEmbeddedPostgres({});
    url = pg.url;
    teardown = () => pg.stop();
  }
  const started = Date.now();
  await runMigrations(url);
  await seedCatalog(url);
  console.log(`[test] ${server ? "postgres" : "embedded postgres"} ${redact(url)} ready in ${Date.now() - started} ms`);
  project.provide("pgUrl", url);
  project.provide("pgKind", server ? "postgres" : "embedded");
  return teardown;
}
