/**
 * Writes the OpenAPI document that the worker serves at /openapi.json to
 * dist/openapi.json (for `redocly lint` in CI and for client generators).
 * The app is imported as-is; no request reaches a database.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createApp } from "../src/app.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const hyperdrive = { connectionString: "postgres://unused:unused@127.0.0.1:1/unused" };
const env = {
  ENVIRONMENT: "development",
  CURSOR_SECRET: "openapi-export-only-0000000000000000",
  JWT_SECRET: "openapi-export-only-0000000000000000",
  SHIPPING_RATE_SECRET: "openapi-export-only-0000000000000000",
  HYPERDRIVE_FRESH: hyperdrive,
  HYPERDRIVE_CACHED: hyperdrive,
} as unknown as Env;
const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
const res = await createApp().request("https://api.toko-edge.dev/openapi.json", {}, env, ctx);
if (!res.ok) throw new Error(`GET /openapi.json → ${res.status}: ${await res.text()}`);
const doc = await res.json();
mkdirSync(`${root}dist`, { recursive: true });
writeFileSync(`${root}dist/openapi.json`, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`wrote dist/openapi.json (${Object.keys((doc as { paths: object }).paths).length} paths)`);
