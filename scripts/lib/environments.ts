/**
 * The deployable environments as wrangler itself reads them from wrangler.toml (its own config
 * reader, with inheritance and validation), for deploy:check, provision and waf:apply.
 */
import { fileURLToPath } from "node:url";
import { type Unstable_Config, unstable_readConfig } from "wrangler";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** wrangler.toml, or another file given with `--config PATH` (to try a change, or prove a check bites). */
export const WRANGLER_TOML = (() => {
  const i = process.argv.indexOf("--config");
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : `${ROOT}wrangler.toml`;
})();
/** `undefined` is the top level: local development and tests. */
export const ENVIRONMENTS = [undefined, "staging", "production"] as const;
export type EnvName = (typeof ENVIRONMENTS)[number];
export const DEPLOYED = ["staging", "production"] as const;

export type WranglerConfig = Unstable_Config;

export function readEnvironment(env: EnvName): WranglerConfig {
  return unstable_readConfig({ config: WRANGLER_TOML, env }, { hideWarnings: true });
}

export const label = (env: EnvName) => env ?? "top level (development)";

/** `--env NAME` (or `--env=NAME`) from argv; null when absent. */
export function envArg(argv: string[]): string | null {
  const i = argv.findIndex((a) => a === "--env" || a === "-e" || a.startsWith("--env="));
  if (i < 0) return null;
  const a = argv[i] as string;
  return a.includes("=") ? (a.split("=")[1] ?? null) : (argv[i + 1] ?? null);
}

/** Hostnames the environment serves (custom domains and route patterns, without path or wildcard). */
export function hostnames(cfg: WranglerConfig): string[] {
  return (cfg.routes ?? []).map((r) => {
    const pattern = typeof r === "string" ? r : r.pattern;
    return (
      pattern
        .replace(/^https?:\/\//, "")
        .split("/")[0]
        ?.replace(/^\*\.?/, "") ?? ""
    );
  });
}

/** Values still at the placeholders wrangler.toml ships with: each must be replaced before a real deploy. */
export function placeholders(cfg: WranglerConfig): string[] {
  const out: string[] = [];
  for (const h of cfg.hyperdrive ?? []) if (/^0+\d{0,2}$/.test(h.id)) out.push(`Hyperdrive ${h.binding}: id ${h.id} (npm run provision)`);
  for (const host of hostnames(cfg)) if (/(^|\.)example\.(com|org|net)$/.test(host)) out.push(`route ${host} (your custom domain)`);
  const vars = cfg.vars as Record<string, unknown>;
  if (vars.ANALYTICS_ACCOUNT_ID === "") out.push("ANALYTICS_ACCOUNT_ID (your account id: GET /metrics/edge)");
  if (vars.CLOUDFLARE_ZONE_ID === "") out.push("CLOUDFLARE_ZONE_ID (the API zone: cache purge by tag, npm run waf:apply)");
  if (typeof vars.CORS_ORIGINS === "string" && /example\.com/.test(vars.CORS_ORIGINS)) out.push(`CORS_ORIGINS ${vars.CORS_ORIGINS}`);
  return out;
}
