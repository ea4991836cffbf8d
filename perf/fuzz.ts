/**
 * Fuzzer (issue 18, item 5): from the worker's own /openapi.json, invalid and hostile requests for every
 * operation, against the bench runtime (the deployable bundle on workerd, pgbouncer, a fresh database).
 * Every answer must be a 2xx, or a 4xx as problem+json, with no stack, SQL or file path in it (a 503 with
 * Retry-After is allowed only as a rate of load, never a 500), and the server must stay healthy.
 *
 *   npm run fuzz                       # 100,000 cases
 *   npm run fuzz -- --cases 10000      # CI
 *   npm run fuzz -- --seed 1234        # reproduce a run (the seed is printed; a failing case is printed whole)
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { createFreshDatabase, dropDatabase, runMigrations } from "../scripts/lib/db.ts";
import { prng, seedCatalog } from "../scripts/lib/seed.ts";
import { configSchema } from "../src/config.ts";
import { issueAccessToken } from "../src/lib/tokens.ts";
import { startPooler } from "./lib/pgbouncer.ts";
import { buildBundle, readWorkerConfig, startRuntime } from "./lib/runtime.ts";

const { values: args } = parseArgs({
  options: { cases: { type: "string", default: "100000" }, seed: { type: "string" }, concurrency: { type: "string", default: "16" } },
});
const CASES = Number(args.cases);
const SEED = args.seed ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);
const CONCURRENCY = Number(args.concurrency);
console.log(`[fuzz] seed ${SEED}, ${CASES} cases (reproduce: npm run fuzz -- --seed ${SEED} --cases ${CASES})`);

const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) });
const HOSTILE_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\r\nX-Injected: 1",
  "%0d%0aSet-Cookie:x=1",
  "../../../../etc/passwd",
  "..%2f..%2f..%2fetc%2fpasswd",
  "%2e%2e%2f",
  "' OR 1=1 --",
  "'; DROP TABLE users; --",
  '"><script>alert(1)</script>',
  "\u202e\u0645\u0631\u062d\u0628\u0627",
  "\ud800",
  "\udfff\ud800",
  "🧨".repeat(50),
  "ｌａｐｔｏｐ",
  "A".repeat(10_000),
  "x".repeat(300),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style probe, meant literally
  "${jndi:ldap://x}",
  "{{7*7}}",
  "NaN",
  "Infinity",
  "-0",
  "1e309",
  "9007199254740993",
  "-9223372036854775809",
  "0x10",
  "true",
  "null",
  "[]",
  "{}",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffffff",
  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
  "Bearer ",
];
const NUMBERS = [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, 1.5, -0.0001, 1e308, Number.MAX_SAFE_INTEGER];

function hostileValue(r: () => number): unknown {
  const k = Math.floor(r() * 9);
  switch (k) {
    case 0:
      return HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)];
    case 1:
      return NUMBERS[Math.floor(r() * NUMBERS.length)];
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
      return [hostileValue(r), hostileValue(r)];
    case 5:
      return { nested: hostileValue(r), __proto__x: 1 };
    case 6:
      return deep(5 + Math.floor(r() * 40));
    case 7:
      return Array.from({ length: Math.floor(r() * 2000) }, () => 1);
    default:
      return randomUUID();
  }
}

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string }[];
  bodyProps: string[];
}

function operationsOf(doc: {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
}): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const body = op.requestBody as
        | { content?: Record<string, { schema?: { properties?: Record<string, unknown>; $ref?: string } }> }
        | undefined;
      const schema = body?.content?.["application/json"]?.schema;
      let props = Object.keys(schema?.properties ?? {});
      if (schema?.$ref) {
        const name = schema.$ref.split("/").pop() as string;
        props = Object.keys(
          ((doc as unknown as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } }).components.schemas[
            name
          ]?.properties ?? {}) as object,
        );
      }
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], bodyProps: props });
    }
  }
  return ops;
}

/** What fetch accepts as a header value: printable ASCII only (the runtime refuses the rest before sending). */
const headerSafe = (v: string) => [...v].filter((ch) => ch >= " " && ch <= "~").join("");

interface Case {
  n: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

function makeCase(n: number, op: Operation, r: () => number, tokens: { user: string; admin: string }): Case {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T;
  const str = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));
  let path = op.path.replace(/\{(\w+)\}/g, () => {
    const v = pick([...HOSTILE_STRINGS, randomUUID(), "a".repeat(2000), "%", "%zz", "..", "."]);
    // Lone surrogates cannot be percent-encoded: they go as U+FFFD (a body keeps them, as fetch sends it).
    const wellFormed = str(v).replace(/[\ud800-\udfff]/g, "\ufffd");
    return r() < 0.7 ? encodeURIComponent(wellFormed) : wellFormed.replace(/[\s#?]/g, "");
  });
  if (r() < 0.05) path = `${path}/../../${pick(["etc/passwd", "admin", "%2e%2e"])}`;
  const qs = new URLSearchParams();
  for (const p of op.params.filter((p) => p.in === "query")) if (r() < 0.6) qs.append(p.name, str(hostileValue(r)));
  if (r() < 0.2) qs.append(pick(["cursor", "limit", "x", "__proto__", "constructor"]), str(hostileValue(r)));
  if (r() < 0.1) {
    const first = op.params.find((p) => p.in === "query");
    if (first) qs.append(first.name, "dup");
  }
  const headers: Record<string, string> = {};
  const auth = r();
  if (auth < 0.3) headers.authorization = `Bearer ${tokens.user}`;
  else if (auth < 0.45) headers.authorization = `Bearer ${tokens.admin}`;
  else if (auth < 0.6)
    headers.authorization = pick(["Bearer x.y.z", "Bearer", "Basic YTpi", `Bearer ${tokens.user}x`, "Bearer eyJhbGciOiJub25lIn0.e30."]);
  if (r() < 0.4) headers["idempotency-key"] = pick(["k", "a".repeat(300), randomUUID(), "\u00e9", ""]);
  if (r() < 0.2) headers["x-request-id"] = pick(["x", "a".repeat(500), "\u00ff\u00fe"]);
  if (r() < 0.1) headers["if-none-match"] = pick(['"x"', "*", "W/", ","]);
  for (const h of op.params.filter((p) => p.in === "header"))
    if (r() < 0.5) headers[h.name.toLowerCase()] = headerSafe(str(hostileValue(r)));
  let body: string | undefined;
  if (op.method !== "GET" && op.method !== "DELETE") {
    headers["content-type"] =
      r() < 0.85
        ? "application/json"
        : pick(["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data", ""]);
    const k = r();
    if (k < 0.5) {
      const o: Record<string, unknown> = {};
      for (const p of op.bodyProps) if (r() < 0.7) o[p] = hostileValue(r);
      body = JSON.stringify(o);
    } else if (k < 0.6) {
      const depth = 1000 + Math.floor(r() * 5000);
      body = `${"[".repeat(depth)}${"]".repeat(depth)}`; // as text: JSON.stringify would overflow the stack here
    } else if (k < 0.7)
      body = `{"a":1,"a":2,${op.bodyProps.map((p) => `"${p}":1,"${p}":"x"`).join(",")}${op.bodyProps.length ? "," : ""}"z":0}`;
    else if (k < 0.78) body = `{"x":"${"y".repeat(200_000 + Math.floor(r() * 200_000))}"}`;
    else if (k < 0.86) body = pick(["{", "[", "nul", "\u0000", "{'a':1}", '{"a":1}garbage', "1", '"s"', "[1,2", "\ufeff{}"]);
    else body = JSON.stringify(hostileValue(r));
  }
  return {
    n,
    method: r() < 0.03 ? pick(["PUT", "PATCH", "DELETE", "OPTIONS"]) : op.method,
    url: `${path}${qs.size ? `?${qs}` : ""}`,
    headers,
    ...(body !== undefined ? { body } : {}),
  };
}

const LEAKS = [
  /\bat .+\.(ts|js):\d+/,
  /node_modules/,
  /\/work\//,
  /\bSELECT\b.+\bFROM\b/i,
  /\bINSERT INTO\b/i,
  /\bpg_/,
  /ECONNREFUSED/,
  /postgres:\/\//,
  /stack/i,
  /SQLSTATE/,
];

const cleanups: (() => Promise<unknown>)[] = [];
let failures = 0;
try {
  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
  const dbUrl = await createFreshDatabase(serverUrl, "toko_fuzz");
  cleanups.push(() => dropDatabase(dbUrl));
  await runMigrations(dbUrl);
  await seedCatalog(dbUrl, { products: 100 });
  const [bundle, config] = await Promise.all([buildBundle(), readWorkerConfig()]);
  config.vars.LOG_LEVEL = "error";
  const pooler = await startPooler(dbUrl, (m) => console.log(`[fuzz] ${m}`));
  cleanups.push(() => pooler.stop());
  const runtime = await startRuntime({
    bundlePath: bundle.path,
    config,
    dbUrl: pooler.url,
    cursorSecret: randomUUID() + randomUUID(),
    variants: [],
  });
  cleanups.push(() => runtime.dispose());
  const base = runtime.urls.get("app") as URL;
  const cfg = configSchema.parse({ ENVIRONMENT: "development", ...runtime.secrets });
  const { withClient } = await import("../scripts/lib/db.ts");
  const [u, a] = await withClient(dbUrl, async (c) =>
    (
      await c.query<{ id: string }>(
        "INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'USER'), ($2, 'x', 'ADMIN') RETURNING id",
        [`fuzz-${randomUUID()}@example.com`, `fuzz-admin-${randomUUID()}@example.com`],
      )
    ).rows.map((r) => r.id),
  );
  const tokens = {
    user: (await issueAccessToken(cfg, { userId: u as string, role: "USER" })).token,
    admin: (await issueAccessToken(cfg, { userId: a as string, role: "ADMIN" })).token,
  };
  const doc = (await (await fetch(new URL("/openapi.json", base))).json()) as Parameters<typeof operationsOf>[0];
  const ops = operationsOf(doc);
  console.log(`[fuzz] ${ops.length} operations`);
  const byStatus: Record<number, number> = {};
  let skipped = 0;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const n = next++;
      if (n >= CASES || failures >= 5) return;
      const r = prng(SEED ^ Math.imul(n + 1, 0x9e3779b1));
      const op = ops[Math.floor(r() * ops.length)] as Operation;
      let c: Case;
      try {
        c = makeCase(n, op, r, tokens);
      } catch (err) {
        // A generator bug is the fuzzer's, not the server's: say so, and go on.
        console.log(`[fuzz] case ${n}: generator error ${String(err)}`);
        continue;
      }
      let problem: string | undefined;
      // The bench runtime serves no static assets ([assets] is left out, perf/lib/runtime.ts): the console
      // pages answer 503 "not built" there. A traversal that lands on them is not what is tested.
      const landed = new URL(c.url, base).pathname;
      if (landed === "/admin" || landed.startsWith("/admin/") || landed === "/docs") {
        skipped++;
        continue;
      }
      try {
        const res = await fetch(new URL(c.url, base), {
          method: c.method,
          headers: c.headers,
          ...(c.body !== undefined ? { body: c.body } : {}),
          signal: AbortSignal.timeout(20_000),
        });
        const text = await res.text();
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        const ct = res.headers.get("content-type") ?? "";
        if (res.status >= 500 && !(res.status === 503 && res.headers.get("retry-after"))) problem = `status ${res.status}`;
        else if (res.status >= 400 && !ct.startsWith("application/problem+json")) problem = `${res.status} not problem+json (${ct})`;
        else {
          const leak = LEAKS.find((re) => re.test(text));
          if (leak && res.status >= 400) problem = `leak ${leak}`;
        }
        if (problem) problem += `: ${text.slice(0, 300)}`;
      } catch (err) {
        problem = `no answer: ${String(err)} ${String((err as { cause?: unknown }).cause ?? "")}`;
      }
      if (problem) {
        failures++;
        console.log(
          `[fuzz] FAIL case ${c.n} (${op.method} ${op.path}): ${problem}\n${JSON.stringify({ ...c, url: c.url.slice(0, 1000), body: c.body?.slice(0, 500) })}`,
        );
      }
      if (n > 0 && n % 10_000 === 0) console.log(`[fuzz] ${n} cases`);
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ready = await fetch(new URL("/health/ready", base));
  const live = await fetch(new URL("/health/live", base));
  if (ready.status !== 200 || live.status !== 200) {
    failures++;
    console.log(`[fuzz] FAIL server unhealthy after the run: ready ${ready.status}, live ${live.status}`);
  }
  console.log(
    `\nFuzz: seed ${SEED}, ${Math.min(next, CASES)} cases over ${ops.length} operations in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${failures} failures, ${skipped} skipped (landed on the console pages, which the bench runtime does not serve)`,
  );
  console.log(
    `| status | answers |\n| --- | --- |\n${Object.entries(byStatus)
      .map(([s, k]) => `| ${s} | ${k} |`)
      .join("\n")}`,
  );
} catch (err) {
  failures++;
  console.error("[fuzz] error:", err);
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
}
process.exit(failures ? 1 : 0);
