/**
 * Proves the layer rules in biome.json bite: each fixture is written for a moment into the
 * folder whose rule it breaks, linted, and removed. A violation that Biome lets through (or a
 * clean control that it refuses) fails this script, so a loosened rule cannot go unnoticed.
 */
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const FIXTURES: { path: string; source: string; violates: boolean; why: string }[] = [
  {
    path: "src/routes/__layer_fixture__.routes.ts",
    source: 'import { getOrder } from "../db/orders.repo.ts";\n\nexport const fixture = getOrder;\n',
    violates: true,
    why: "routes → db",
  },
  {
    path: "src/routes/__layer_fixture__.routes.ts",
    source: 'import { readOrder } from "../services/orders.service.ts";\n\nexport const fixture = readOrder;\n',
    violates: false,
    why: "routes → services (allowed)",
  },
  {
    path: "queues/__layer_fixture__.consumer.ts",
    source: 'import { lockWebhookEvent } from "../src/db/payments.repo.ts";\n\nexport const fixture = lockWebhookEvent;\n',
    violates: true,
    why: "queues → repositories",
  },
  {
    path: "src/lib/__layer_fixture__.ts",
    source: 'import type { Config } from "../config.ts";\n\nexport type Fixture = Config;\n',
    violates: true,
    why: "lib → anything above it",
  },
  {
    path: "src/guards/__layer_fixture__.ts",
    source: 'import { rateLimit } from "../middleware/rate-limit.ts";\n\nexport const fixture = rateLimit;\n',
    violates: true,
    why: "guards → middleware (the old cycle)",
  },
  {
    path: "src/db/__layer_fixture__.ts",
    source: 'import { readOrder } from "../services/orders.service.ts";\n\nexport const fixture = readOrder;\n',
    violates: true,
    why: "db → services",
  },
];

let failed = 0;
for (const f of FIXTURES) {
  const file = `${root}${f.path}`;
  writeFileSync(file, f.source);
  let output = "";
  let refused = false;
  try {
    execFileSync("npx", ["biome", "lint", "--max-diagnostics=5", f.path], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    refused = true;
    const e = err as { stdout?: string; stderr?: string };
    output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
  } finally {
    rmSync(file, { force: true });
  }
  const ok = f.violates ? refused && output.includes("noRestrictedImports") : !refused;
  console.log(`${ok ? "ok  " : "FAIL"} ${f.why}: ${f.violates ? "refused" : "allowed"} as expected${ok ? "" : " — it was not"}`);
  if (!ok) failed++;
}
if (failed) {
  console.error(`${failed} layer rule(s) do not hold: see biome.json overrides.`);
  process.exit(1);
}
