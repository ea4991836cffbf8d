/**
 * End-to-end harness: `npm run dev` (scripts/dev.ts: migrations, demo catalogue, an ADMIN with a known
 * password, wrangler dev with the built console) on a FRESH database, Debian's Chromium driven by
 * playwright-core (no browser download), axe-core injected for accessibility checks.
 * Database: a new database on E2E_DATABASE_URL's server (dropped afterwards), else an embedded Postgres
 * (PGlite) in a temp directory. Artefacts (screenshots, the dev server's log) go to dist/e2e/.
 * E2E_PORT picks the port; E2E_DEV_ARGS adds arguments for `wrangler dev` (e.g. "--var NAME:value");
 * CHROMIUM_PATH another browser binary.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createFreshDatabase, dropDatabase } from "../scripts/lib/db.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ARTEFACTS = `${ROOT}dist/e2e`;
const require = createRequire(import.meta.url);

export interface Server {
  base: string;
  adminEmail: string;
  adminPassword: string;
  dbUrl: string;
  stop(): Promise<void>;
}

function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) return given;
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) if (existsSync(p)) return p;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)");
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** Starts the dev server on a fresh database and waits until it is ready (at most 3 minutes). */
export async function startServer(): Promise<Server> {
  mkdirSync(ARTEFACTS, { recursive: true });
  const port = Number(process.env.E2E_PORT ?? 8800 + Math.floor(Math.random() * 100));
  const base = `http://127.0.0.1:${port}`;
  const adminEmail = "staff@toko.local";
  const adminPassword = `E2e-${randomBytes(9).toString("base64url")}-pw`;
  const tmp = mkdtempSync(`${tmpdir()}/toko-e2e-`);
  const server = process.env.E2E_DATABASE_URL;
  const dbUrl = server ? await createFreshDatabase(server, "toko_e2e") : "";
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    ADMIN_EMAIL: adminEmail,
    ADMIN_PASSWORD: adminPassword,
    DEV_VARS_FILE: `${tmp}/dev.vars`,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
  if (server) env.DATABASE_URL = dbUrl;
  else {
    delete env.DATABASE_URL;
    env.EMBEDDED_PG_DATA = `${tmp}/pglite`;
    env.EMBEDDED_PG_PORT = String(56000 + Math.floor(Math.random() * 1000));
  }
  const extra = process.env.E2E_DEV_ARGS?.split(" ").filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [`${ROOT}scripts/dev.ts`, "--persist-to", `${tmp}/wrangler`, ...extra], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  child.stdout?.on("data", (d) => (log += d));
  child.stderr?.on("data", (d) => (log += d));
  let exited = false;
  child.on("exit", () => (exited = true));

  const stop = async () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {}
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(`${ARTEFACTS}/dev-server.log`, log);
    if (dbUrl) await dropDatabase(dbUrl).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  };

  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`the dev server exited:\n${log.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${base}/health/ready`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the dev server did not get ready in 3 minutes:\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const pgUrl = server ? dbUrl : `postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres`;
  return { base, adminEmail, adminPassword, dbUrl: pgUrl, stop };
}

/** One SQL statement against the server's database (fixtures the API cannot make, e.g. a dead letter). */
export async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {});
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

/** The API as a client would call it (fixtures through the front door). */
export async function call<T>(base: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function login(base: string, email: string, password: string): Promise<string> {
  return (await call<{ access_token: string }>(base, "/api/v1/auth/login", { method: "POST", body: { email, password } })).access_token;
}

// ---- browser side ----------------------------------------------------------------------------

/**
 * Every request the browser makes (the CSP test reads them at the end). CSP violations are collected in the
 * page by a listener added through the DevTools protocol, which the page's CSP does not govern (`cspViolations`).
 */
export interface Watch {
  requests: string[];
}

export async function newContext(browser: Browser, watch: Watch, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true, locale: "en-GB", timezoneId: "Europe/Berlin" });
  ctx.on("request", (r) => watch.requests.push(r.url()));
  await ctx.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const w = window as unknown as { __csp?: string[] };
      w.__csp ??= [];
      w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return ctx;
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
}

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** axe-core (WCAG 2.0/2.1 A and AA, best practices) on the page as it is; returns serious and critical findings. */
export async function axe(page: Page): Promise<AxeFinding[]> {
  // Evaluated through the DevTools protocol: an inline <script> would be (rightly) refused by the CSP.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const a = (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
            opts: unknown,
          ) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const r = await a.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(`${ARTEFACTS}/screenshots`, { recursive: true });
  await page.screenshot({ path: `${ARTEFACTS}/screenshots/${name}.png`, fullPage });
}
