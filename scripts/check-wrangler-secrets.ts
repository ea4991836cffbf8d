/**
 * wrangler.toml rules for secrets and dead letters (`npm run lint`):
 * - an optional secret is declared empty in the top-level [vars] (so `wrangler dev` loads it from
 *   .dev.vars: it loads only names in [vars] or [secrets] required) and nowhere else: a secret's
 *   name in [env.*.vars] would deploy a plain-text var over the real secret;
 * - the top-level [secrets] required are the ones `npm run dev` generates (scripts/lib/dev-vars.ts);
 * - every dead-letter queue consumer keeps messages through the Queues maximum of 100 retries.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SECRET_NAMES } from "../src/config.ts";
import { LOCAL_SECRETS, OPTIONAL_LOCAL_SECRETS } from "./lib/dev-vars.ts";

const toml = readFileSync(fileURLToPath(new URL("../wrangler.toml", import.meta.url)), "utf8");

/** Every table (`[x]` or `[[x]]`) in file order, with its `key = value` lines (values as written). */
const tables: { name: string; entries: Map<string, string> }[] = [];
for (const line of toml.split("\n")) {
  const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
  if (header) {
    tables.push({ name: (header[1] as string).trim(), entries: new Map() });
    continue;
  }
  const kv = /^\s*([A-Za-z0-9_-]+)\s*=\s*(.+?)\s*(#.*)?$/.exec(line);
  if (kv && tables.length) tables[tables.length - 1]?.entries.set(kv[1] as string, kv[2] as string);
}

const problems: string[] = [];
for (const t of tables.filter((t) => /^(env\.[a-z0-9-]+\.)?vars$/.test(t.name))) {
  const topLevel = t.name === "vars";
  for (const [key, value] of t.entries) {
    if (!SECRET_NAMES.has(key)) continue;
    if (!topLevel)
      problems.push(`[${t.name}] declares the secret ${key}: deploying it would replace the real secret; use \`wrangler secret put\``);
    else if (value !== '""') problems.push(`[vars] gives the secret ${key} a value: secrets are never committed (keep it "")`);
  }
}
const topVars = tables.find((t) => t.name === "vars")?.entries ?? new Map<string, string>();
for (const name of OPTIONAL_LOCAL_SECRETS) {
  if (topVars.get(name) !== '""') problems.push(`[vars] must declare ${name} = "" or wrangler dev ignores it in .dev.vars`);
}
const required = tables.find((t) => t.name === "secrets")?.entries.get("required") ?? "[]";
const requiredNames = [...required.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string).sort();
if (JSON.stringify(requiredNames) !== JSON.stringify([...LOCAL_SECRETS].sort())) {
  problems.push(`[secrets] required ${JSON.stringify(requiredNames)} differs from LOCAL_SECRETS in scripts/lib/dev-vars.ts`);
}
for (const t of tables.filter((t) => /queues\.consumers$/.test(t.name) && /-dlq"$/.test(t.entries.get("queue") ?? ""))) {
  if (t.entries.get("max_retries") !== "100")
    problems.push(`${t.entries.get("queue")?.replaceAll('"', "")}: max_retries must be 100 (the Queues maximum)`);
}

for (const p of problems) console.log(`FAIL ${p}`);
if (problems.length) process.exit(1);
console.log(
  `ok   wrangler.toml: secrets only as empty top-level placeholders (${OPTIONAL_LOCAL_SECRETS.join(", ")}); DLQ consumers at 100 retries`,
);
