/**
 * The Cron Triggers of every environment in wrangler.toml must be exactly the cron expressions
 * that src/services/jobs.service.ts maps to jobs: a cron with no job would fail every run, and
 * a job whose cron is missing would never run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SCHEDULE } from "../src/services/jobs.service.ts";

const toml = readFileSync(fileURLToPath(new URL("../wrangler.toml", import.meta.url)), "utf8");
const expected = Object.keys(SCHEDULE).sort();
let failed = false;
// [triggers] / [env.<name>.triggers] followed by crons = [ ... ]
const sections = [...toml.matchAll(/^\[(?:env\.([a-z0-9-]+)\.)?triggers\]\s*\ncrons\s*=\s*\[([^\]]*)\]/gm)];
const envs = new Set(["(top level)", ...[...toml.matchAll(/^\[env\.([a-z0-9-]+)\]/gm)].map((m) => m[1] as string)]);
for (const env of envs) {
  const section = sections.find((m) => (m[1] ?? "(top level)") === env);
  const crons = section ? [...(section[2] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1] as string).sort() : [];
  const same = crons.length === expected.length && crons.every((c, i) => c === expected[i]);
  console.log(`${same ? "ok  " : "FAIL"} ${env}: crons ${JSON.stringify(crons)}${same ? "" : `, jobs expect ${JSON.stringify(expected)}`}`);
  if (!same) failed = true;
}
if (failed) process.exit(1);
