/**
 * `npm run build:admin`: the admin console (/admin/) and the API reference (/docs) as static files for
 * Workers Static Assets, in build/assets (the `[assets]` directory of wrangler.toml). esbuild bundles
 * admin/src/main.tsx and admin/docs/main.tsx (Preact, TypeScript) with a shared chunk; every script and
 * stylesheet gets a content hash and lives under /assets/ (cached for a year); the HTML pages reference
 * them with <script type="module" src> and <link>: no inline script or style, so the CSP needs neither
 * 'unsafe-inline' nor hashes. _headers gives every page the CSP of src/routes/admin-ui.routes.ts.
 * Fails when the console's first load is over its budget (150 KB gzip). `--watch` rebuilds on change.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { PAGE_HEADERS } from "../src/routes/admin-ui.routes.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
export const OUT_DIR = `${root}build/assets`;
const BUDGET_GZIP = 150 * 1024;
const watch = process.argv.includes("--watch");

function page(title: string, entry: { js: string; css: string[]; preload: string[] }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
${entry.css.map((c) => `<link rel="stylesheet" href="/${c}">`).join("\n")}
${entry.preload.map((p) => `<link rel="modulepreload" href="/${p}">`).join("\n")}
<script type="module" src="/${entry.js}"></script>
</head>
<body>
<div id="app"><noscript>This page needs JavaScript.</noscript></div>
</body>
</html>
`;
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#14213d"/><path d="M9 10h14v3h-5.5v11h-3V13H9z" fill="#fff"/></svg>\n`;

const headersFile = () => {
  const page = Object.entries(PAGE_HEADERS)
    .map(([k, v]) => `  ${k}: ${v}`)
    .join("\n");
  return `# Written by scripts/build-admin.ts from src/routes/admin-ui.routes.ts (PAGE_HEADERS): edit it there.
/admin/*
${page}
  Cache-Control: no-cache
/docs
${page}
  Cache-Control: no-cache
/assets/*
  X-Content-Type-Options: nosniff
  Cache-Control: public, max-age=31536000, immutable
`;
};

/** Entry → its JS file, the chunks it imports (preloaded) and its CSS, from esbuild's metafile. */
function entries(meta: esbuild.Metafile) {
  const out = new Map<string, { js: string; css: string[]; preload: string[] }>();
  const rel = (p: string) => relative(OUT_DIR, `${root}${p}`).replaceAll("\\", "/");
  for (const [file, o] of Object.entries(meta.outputs)) {
    if (!o.entryPoint || !file.endsWith(".js")) continue;
    const preload = o.imports.filter((i) => i.kind === "import-statement" && i.path.endsWith(".js")).map((i) => rel(i.path));
    const css = o.cssBundle ? [rel(o.cssBundle)] : [];
    out.set(o.entryPoint, { js: rel(file), css, preload });
  }
  return out;
}

function gz(path: string): number {
  return gzipSync(readFileSync(`${OUT_DIR}/${path}`), { level: 9 }).length;
}

async function writePages(meta: esbuild.Metafile, quiet = false): Promise<void> {
  const e = entries(meta);
  const admin = e.get("admin/src/main.tsx");
  const docs = e.get("admin/docs/main.tsx");
  if (!admin || !docs) throw new Error(`entry points missing from the build: ${[...e.keys()].join(", ")}`);
  mkdirSync(`${OUT_DIR}/admin`, { recursive: true });
  writeFileSync(`${OUT_DIR}/admin/index.html`, page("Toko Admin", admin));
  // docs.html: served at /docs itself (html_handling auto-trailing-slash), not /docs/.
  writeFileSync(`${OUT_DIR}/docs.html`, page("Toko Edge API reference", docs));
  writeFileSync(`${OUT_DIR}/assets/favicon.svg`, FAVICON);
  writeFileSync(`${OUT_DIR}/_headers`, headersFile());
  const firstLoad = (x: typeof admin, html: string) =>
    [x.js, ...x.preload, ...x.css].reduce((n, f) => n + gz(f), 0) + gzipSync(readFileSync(`${OUT_DIR}/${html}`)).length;
  const adminKb = firstLoad(admin, "admin/index.html");
  const docsKb = firstLoad(docs, "docs.html");
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  if (!quiet)
    console.log(
      `[build:admin] build/assets: console first load ${kib(adminKb)} gzip, /docs ${kib(docsKb)} gzip (budget ${kib(BUDGET_GZIP)})`,
    );
  if (adminKb > BUDGET_GZIP) throw new Error(`the console's first load is ${kib(adminKb)} gzip, over the ${kib(BUDGET_GZIP)} budget`);
}

export async function buildAdmin(opts: { quiet?: boolean } = {}): Promise<void> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const options: esbuild.BuildOptions = {
    absWorkingDir: root,
    entryPoints: { admin: "admin/src/main.tsx", docs: "admin/docs/main.tsx" },
    outdir: `${OUT_DIR}/assets`,
    entryNames: "[name]-[hash]",
    chunkNames: "shared-[hash]",
    assetNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    tsconfig: "admin/tsconfig.json",
    minify: true,
    sourcemap: false,
    metafile: true,
    legalComments: "none",
    logLevel: opts.quiet ? "error" : "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  };
  if (watch) {
    const ctx = await esbuild.context({
      ...options,
      plugins: [
        {
          name: "pages",
          setup(b) {
            b.onEnd((r) => (r.metafile && !r.errors.length ? writePages(r.metafile).catch((e) => console.error(e)) : undefined));
          },
        },
      ],
    });
    await ctx.watch();
    console.log("[build:admin] watching admin/ …");
    return;
  }
  const result = await esbuild.build(options);
  if (!result.metafile) throw new Error("esbuild returned no metafile");
  await writePages(result.metafile, opts.quiet);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAdmin().catch((err) => {
    console.error(`[build:admin] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
