/**
 * The admin console (/admin/) and the API reference (/docs): static files built by `npm run build:admin`
 * into build/assets and served by Workers Static Assets (`[assets]` in wrangler.toml, binding ASSETS).
 * A request that matches a file never reaches the worker. These routes answer what does:
 *  - a deep link into the console (/admin/orders/…): the console's index.html (SPA fallback, only under /admin/);
 *  - /docs when the worker is called directly (tests call the entry, not the asset router).
 * A missing file (a name with an extension) is a 404 problem, never the HTML shell.
 * docs/admin.md explains the routing; the same headers are in build/assets/_headers (scripts/build-admin.ts).
 */

import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError, problemResponse } from "../lib/problem.ts";

/** Same origin only, no inline script or style, no framing: the console and /docs load nothing from elsewhere. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Headers of every HTML page of the console and /docs (also written to the assets' _headers file). */
export const PAGE_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

async function page(c: Context<AppEnv>, assetPath: string): Promise<Response> {
  // No ASSETS binding (a runtime started without [assets], e.g. the bench harness): the same answer as "not built", never a 500.
  const res = c.env.ASSETS ? await c.env.ASSETS.fetch(new URL(assetPath, c.req.url)) : new Response(null, { status: 404 });
  if (res.status !== 200) {
    c.get("log").error("static asset missing: run npm run build:admin", { component: "assets", path: assetPath, status: res.status });
    return problemResponse(
      new ApiError("service_unavailable", "The admin console is not built on this deployment."),
      c.get("requestId"),
      c.req.path,
    );
  }
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(PAGE_HEADERS)) out.headers.set(k, v);
  out.headers.set("Cache-Control", "no-cache");
  return out;
}

const missing = (c: Context<AppEnv>) =>
  problemResponse(new ApiError("not_found", `Nothing is served at ${c.req.path}.`), c.get("requestId"), c.req.path);

export const adminUiRouter = new Hono<AppEnv>()
  .get("/docs", (c) => page(c, "/docs"))
  .get("/admin", (c) => c.redirect("/admin/", 308))
  .get("/admin/*", (c) => (/\.[A-Za-z0-9]+$/.test(c.req.path) ? missing(c) : page(c, "/admin/")));
