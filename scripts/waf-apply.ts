/**
 * Edge security as code: applies deploy/cloudflare/waf.json to an environment's zone through the
 * Cloudflare Rulesets API (custom rules, rate-limiting rules) and the bot management settings.
 *
 *   npm run waf:apply -- --env production                  dry run: the diff against the zone
 *   npm run waf:apply -- --env production --apply          writes it
 *   npm run waf:apply -- --env staging --with turnstile    also the optional rules named (comma-separated)
 *
 * Token from the environment: CLOUDFLARE_API_TOKEN with Zone → WAF: Edit and Zone → Bot Management:
 * Edit (read is enough for a dry run); without one, the dry run prints the rules it would apply.
 * Zone: the environment's CLOUDFLARE_ZONE_ID in wrangler.toml (or --zone ID). Only rules whose `ref`
 * starts with toko_ are ours: they are replaced, every other rule of the zone is kept, after ours.
 * Every expression is parsed by scripts/lib/rules-grammar.ts before anything is sent.
 */
import { readFileSync } from "node:fs";
import { envArg, hostnames, ROOT, readEnvironment } from "./lib/environments.ts";
import { parseExpression } from "./lib/rules-grammar.ts";

interface RuleSpec {
  ref: string;
  description: string;
  expression: string;
  action: string;
  optional?: string;
  action_parameters?: Record<string, unknown>;
  logging?: Record<string, unknown>;
  ratelimit?: Record<string, unknown>;
}
interface WafFile {
  custom_rules: RuleSpec[];
  rate_limits: RuleSpec[];
  bot_management: Record<string, unknown>;
  environments: Record<string, { optional: string[] }>;
}
type Rule = Record<string, unknown> & { ref?: string; id?: string };

const OURS = /^toko_/;
const PHASES = { custom_rules: "http_request_firewall_custom", rate_limits: "http_ratelimit" } as const;
/** What a rule is, without the fields the API adds (id, version, last_updated…). */
const FIELDS = ["ref", "description", "expression", "action", "action_parameters", "ratelimit", "logging", "enabled"];

export function loadWaf(): WafFile {
  return JSON.parse(readFileSync(`${ROOT}deploy/cloudflare/waf.json`, "utf8")) as WafFile;
}

/** The rules of one phase for a host, optional ones included only when enabled; every expression parsed. */
export function desiredRules(specs: RuleSpec[], host: string, enabled: Set<string>): Rule[] {
  return specs
    .filter((r) => !r.optional || enabled.has(r.optional))
    .map((r) => {
      const expression = `http.host eq ${JSON.stringify(host)} and (${r.expression})`;
      parseExpression(r.expression);
      parseExpression(expression);
      const { optional: _o, ...rule } = r;
      return { ...rule, expression, enabled: true };
    });
}

const pick = (r: Rule) => Object.fromEntries(FIELDS.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]));
const same = (a: Rule, b: Rule) =>
  JSON.stringify(pick(a), Object.keys(pick(a)).sort()) === JSON.stringify(pick(b), Object.keys(pick(b)).sort());

async function api(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const base = process.env.CLOUDFLARE_API_BASE ?? "https://api.cloudflare.com/client/v4";
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.errors ?? json)}`);
  return { status: res.status, json };
}

async function main() {
  const argv = process.argv.slice(2);
  const env = envArg(argv);
  if (env !== "staging" && env !== "production") {
    console.error(
      "usage: npm run waf:apply -- --env staging|production [--apply] [--with turnstile,metrics_allowlist,bot_score] [--zone ID]",
    );
    process.exit(2);
  }
  const apply = argv.includes("--apply");
  const withIdx = argv.indexOf("--with");
  const cfg = readEnvironment(env);
  const waf = loadWaf();
  const enabled = new Set([...(waf.environments[env]?.optional ?? []), ...(withIdx >= 0 ? (argv[withIdx + 1] ?? "").split(",") : [])]);
  const host = hostnames(cfg)[0];
  if (!host) throw new Error(`[env.${env}] has no route or custom domain in wrangler.toml`);
  const zoneIdx = argv.indexOf("--zone");
  const zone = zoneIdx >= 0 ? argv[zoneIdx + 1] : String((cfg.vars as Record<string, unknown>).CLOUDFLARE_ZONE_ID ?? "");
  const desired = {
    custom_rules: desiredRules(waf.custom_rules, host, enabled),
    rate_limits: desiredRules(waf.rate_limits, host, enabled),
  };
  const { $comment: _c, ...bots } = waf.bot_management;
  console.log(`${env}: ${host}, zone ${zone || "(CLOUDFLARE_ZONE_ID not set)"}, optional rules on: ${[...enabled].join(", ") || "none"}`);

  const token = process.env.CLOUDFLARE_API_TOKEN;
  if (!token || !zone) {
    if (apply) throw new Error("--apply needs CLOUDFLARE_API_TOKEN in the environment and the zone (CLOUDFLARE_ZONE_ID or --zone)");
    console.log("No token or zone: the rules that would be applied (dry run, nothing compared or sent):");
    console.log(JSON.stringify({ ...desired, bot_management: bots }, null, 2));
    return;
  }

  let changes = 0;
  for (const kind of ["custom_rules", "rate_limits"] as const) {
    const path = `/zones/${zone}/rulesets/phases/${PHASES[kind]}/entrypoint`;
    const current = await api("GET", path, token);
    const existing = (current.status === 404 ? [] : ((current.json.result as { rules?: Rule[] })?.rules ?? [])) as Rule[];
    const theirs = existing.filter((r) => !OURS.test(String(r.ref ?? "")));
    const mine = new Map(existing.filter((r) => OURS.test(String(r.ref ?? ""))).map((r) => [String(r.ref), r]));
    console.log(`\n${PHASES[kind]} (${theirs.length} rules of others kept, after ours):`);
    const next: Rule[] = [];
    for (const r of desired[kind]) {
      const was = mine.get(String(r.ref));
      mine.delete(String(r.ref));
      const mark = !was ? "+" : same(was, r) ? "=" : "~";
      if (mark !== "=") changes++;
      console.log(`  ${mark} ${r.ref}: ${r.action} — ${r.description}`);
      if (mark === "~") console.log(`      was: ${was?.expression}\n      now: ${r.expression}`);
      next.push(was?.id ? { ...r, id: was.id } : r);
    }
    for (const ref of mine.keys()) {
      changes++;
      console.log(`  - ${ref} (no longer in deploy/cloudflare/waf.json)`);
    }
    if (apply) await api("PUT", path, token, { rules: [...next, ...theirs].map((r) => ({ ...pick(r), ...(r.id ? { id: r.id } : {}) })) });
  }

  const botPath = `/zones/${zone}/bot_management`;
  const currentBots = ((await api("GET", botPath, token)).json.result ?? {}) as Record<string, unknown>;
  const botDiff = Object.entries(bots).filter(([k, v]) => currentBots[k] !== v);
  console.log(
    `\nbot management: ${botDiff.length ? botDiff.map(([k, v]) => `${k} ${String(currentBots[k])} → ${String(v)}`).join(", ") : "unchanged"}`,
  );
  changes += botDiff.length;
  if (apply && botDiff.length) await api("PUT", botPath, token, { ...currentBots, ...bots });

  console.log(`\n${changes} change(s)${apply ? " applied" : "; dry run: add --apply to write them"}.`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
