/**
 * The Cron Triggers of every environment in wrangler.toml must be exactly the cron expressions
 * that src/services/jobs.service.ts maps to jobs: a cron with no job would fail every run, and
 * a job whose cron is missing would never run. The report refresh runs at each environment's
 * MV_REFRESH_SCHEDULE var (its default when unset), so that cron is expected too.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_MV_REFRESH_SCHEDULE } from "../src/config.ts";
import { scheduleFor } from "../src/services/jobs.service.ts";

const toml = readFileSync(fileURLToPath(new URL("../wrangler.toml", import.meta.url)), "utf8");
/** The value of a var in [vars] (top level) or [env.<name>.vars], up to the next section. */
function varOf(env: string, name: string): string | undefined {
  const header = env === "(top level)" ? "[vars]" : `[env.${env}.vars]`;
  const start = toml.split("\n").findIndex((line) => line.trim() === header);
  if (start < 0) return undefined;
  const lines = toml.split("\n").slice(start + 1);
  const end = lines.findIndex((line) => line.startsWith("["));
  const body = lines.slice(0, end < 0 ? undefined : end).join("\n");
  return body.match(new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m"))?.[1];
}
let failed = false;
// [triggers] / [env.<name>.triggers] followed by crons = [ ... ]
const sections = [...toml.matchAll(/^\[(?:env\.([a-z0-9-]+)\.)?triggers\]\s*\ncrons\s*=\s*\[([^\]]*)\]/gm)];
const envs = new Set(["(top level)", ...[...toml.matchAll(/^\[env\.([a-z0-9-]+)\]/gm)].map((m) => m[1] as string)]);
for (const env of envs) {
  const section = sections.find((m) => (m[1] ?? "(top level)") === env);
  const crons = section ? [...(section[2] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1] as string).sort() : [];
  const expected = Object.keys(
    scheduleFor({ MV_REFRESH_SCHEDULE: varOf(env, "MV_REFRESH_SCHEDULE") || DEFAULT_MV_REFRESH_SCHEDULE }),
  ).sort();
  const same = crons.length === expected.length && crons.every((c, i) => c === expected[i]);
  console.log(`${same ? "ok  " : "FAIL"} ${env}: crons ${JSON.stringify(crons)}${same ? "" : `, jobs expect ${JSON.stringify(expected)}`}`);
  if (!same) failed = true;
}
if (failed) process.exit(1);
