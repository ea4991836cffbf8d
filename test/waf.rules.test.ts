/**
 * Issue 16, item 6: the edge rules of deploy/cloudflare/waf.json parse against the small grammar of the
 * fields they use (scripts/lib/rules-grammar.ts), and every path they name is served: it is in
 * /openapi.json (a renamed route cannot leave a rule guarding nothing).
 */
import { describe, expect, it } from "vitest";
import waf from "../deploy/cloudflare/waf.json";
import { parseExpression, pathsIn } from "../scripts/lib/rules-grammar.ts";
import { api } from "./helpers.ts";

const RULES = [...waf.custom_rules, ...waf.rate_limits] as { ref: string; expression: string; action: string; optional?: string }[];
const doc = (await (await api("/openapi.json")).json()) as { paths: Record<string, unknown> };
const served = Object.keys(doc.paths);

describe("deploy/cloudflare/waf.json", () => {
  it("has the rules the issue asks for: rate limits on cached reads, login, signup and checkout; bots; Turnstile", () => {
    expect(waf.rate_limits.map((r) => r.ref)).toEqual(["toko_rl_catalogue_reads", "toko_rl_login", "toko_rl_signup", "toko_rl_checkout"]);
    expect(RULES.map((r) => r.ref)).toEqual(expect.arrayContaining(["toko_bots_storefront_only", "toko_turnstile_auth"]));
    for (const r of RULES) expect(r.ref).toMatch(/^toko_[a-z_]+$/);
    expect(new Set(RULES.map((r) => r.ref)).size).toBe(RULES.length);
    for (const r of waf.rate_limits) expect(r.ratelimit.characteristics).toEqual(["cf.colo.id", "ip.src"]);
    const named = RULES.flatMap((r) => Object.values(pathsIn(parseExpression(r.expression))).flat());
    expect(new Set(named).size).toBeGreaterThanOrEqual(9);
  });

  it.each(RULES.map((r) => ({ ref: r.ref, r })))("$ref parses against the grammar, alone and scoped to a host", ({ r }) => {
    expect(() => parseExpression(r.expression)).not.toThrow();
    expect(() => parseExpression(`http.host eq "api.shop.example.com" and (${r.expression})`)).not.toThrow();
  });

  it.each(RULES.map((r) => ({ ref: r.ref, r })))("every path $ref names is in /openapi.json", ({ r }) => {
    const { exact, prefixes } = pathsIn(parseExpression(r.expression));
    // A rule on every path (the method rule) names none: nothing to check.
    for (const p of exact) expect(served, `${r.ref}: ${p}`).toContain(p);
    for (const p of prefixes)
      expect(
        served.some((s) => s.startsWith(p) && s !== p),
        `${r.ref}: nothing under ${p}`,
      ).toBe(true);
  });
});

describe("the grammar refuses what it does not know (so the tests above can fail)", () => {
  it.each([
    ["an unknown field", 'http.request.uri.pth eq "/api/v1/products"'],
    ["an operator that does not fit the field", 'http.request.uri.path lt "/x"'],
    ["a number where a string is expected", "http.request.method eq 42"],
    ["a string where a number is expected", 'cf.bot_management.score lt "10"'],
    ["a list on a string field", "http.request.uri.path in $paths"],
    ["an unbalanced parenthesis", '(http.request.method eq "GET"'],
    ["an empty set", "http.request.method in {}"],
    ["trailing input", 'http.request.method eq "GET" "POST"'],
    ["an unknown function", 'lower(http.request.uri.path) eq "/x"'],
    ["a dangling operator", 'http.request.method eq "GET" and'],
  ])("%s", (_what, expression) => {
    expect(() => parseExpression(expression)).toThrow();
  });

  it("reads the paths of eq, in, starts_with and wildcard, and ignores other fields' strings", () => {
    const node = parseExpression(
      'http.host eq "api.example.com" and (http.request.uri.path eq "/a" or http.request.uri.path in {"/b" "/c"} or starts_with(http.request.uri.path, "/d/") or http.request.uri.path wildcard "/e/*/f") and not http.request.method eq "POST"',
    );
    expect(pathsIn(node)).toEqual({ exact: ["/a", "/b", "/c"], prefixes: ["/d/", "/e/"] });
    expect(parseExpression("cf.client.bot and not ip.src in $toko_prometheus")).toMatchObject({ kind: "and" });
  });

  it("a rule naming a route that does not exist is caught", () => {
    const { exact } = pathsIn(parseExpression('http.request.uri.path eq "/api/v1/login"'));
    expect(served).not.toContain(exact[0]);
  });
});
