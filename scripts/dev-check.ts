/**
 * `npm run dev:check`: the two-command promise, checked end to end. Starts `npm run dev`
 * (embedded Postgres unless DATABASE_URL is set), waits for the API, fires 50 concurrent
 * requests that all reach the database, and fails on any error. Used by CI.
 *
 * It also proves that Stripe can be tried locally (issue 12, item 10): the dev server runs with a
 * throwaway vars file (DEV_VARS_FILE; the developer's .dev.vars is never read or written) holding
 * PAYMENT_PROVIDER=stripe, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS, and a Stripe event signed by
 * the official `stripe` library, as `stripe listen --forward-to` delivers it, must get a 202. Before
 * the fix wrangler dropped those names, so every request (health included) was a 503 naming them.
 * And it checks wrangler's own .dev.vars loader against wrangler.toml: every optional secret set in
 * a .dev.vars reaches the worker, a name declared nowhere does not. Finally, a shipping quote for a
 * seeded product: the sandbox carrier's OAuth token and rates, through the token cache's Durable Object.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import Stripe from "stripe";
import { OPTIONAL_LOCAL_SECRETS } from "./lib/dev-vars.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = process.env.PORT ?? "8799";
const base = `http://127.0.0.1:${port}`;
// A throwaway data dir: exercises the first run (migrate + seed) and never touches .data/.
const dataDir = mkdtempSync(`${tmpdir()}/toko-dev-check-`);
const dataPort = String(55000 + Math.floor(Math.random() * 1000));
// A throwaway vars file: Stripe test-mode settings; `npm run dev` adds the generated secrets to it.
const varsDir = mkdtempSync(`${tmpdir()}/toko-dev-check-vars-`);
const devVarsFile = `${varsDir}/dev.vars`;
const stripeWebhookSecret = `whsec_${randomBytes(24).toString("base64")}`;
writeFileSync(
  devVarsFile,
  `PAYMENT_PROVIDER=stripe\nSTRIPE_SECRET_KEY=sk_test_devcheck${randomBytes(12).toString("hex")}\nSTRIPE_WEBHOOK_SECRETS=${stripeWebhookSecret}\n`,
  { mode: 0o600 },
);
const dev = spawn(process.execPath, [`${root}scripts/dev.ts`], {
  cwd: root,
  env: { ...process.env, PORT: port, EMBEDDED_PG_PORT: dataPort, EMBEDDED_PG_DATA: dataDir, DEV_VARS_FILE: devVarsFile },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
let output = "";
dev.stdout.on("data", (d) => (output += d));
dev.stderr.on("data", (d) => (output += d));

const stop = () => {
  try {
    process.kill(-(dev.pid ?? 0), "SIGTERM");
  } catch {}
  setTimeout(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(varsDir, { recursive: true, force: true });
  }, 1000).unref();
};

/** wrangler's loader (the code `wrangler dev` runs) on a .dev.vars in a temp dir, with this repo's wrangler.toml. */
async function checkDevVarsLoader(): Promise<void> {
  const { unstable_readConfig, unstable_getVarsForDev } = await import("wrangler");
  const config = unstable_readConfig({ config: `${root}wrangler.toml` }, { hideWarnings: true });
  const dir = mkdtempSync(`${tmpdir()}/toko-dev-vars-`);
  try {
    const values = Object.fromEntries(OPTIONAL_LOCAL_SECRETS.map((n) => [n, `${n.toLowerCase()}-${randomBytes(4).toString("hex")}`]));
    const lines = [...Object.entries(values).map(([k, v]) => `${k}=${v}`), "PAYMENT_PROVIDER=stripe", "NOT_DECLARED_ANYWHERE=1"];
    writeFileSync(`${dir}/.dev.vars`, `${lines.join("\n")}\n`);
    const loaded = unstable_getVarsForDev(`${dir}/wrangler.toml`, undefined, config.vars, undefined, true, config.secrets) as Record<
      string,
      { value?: unknown }
    >;
    for (const [name, value] of [...Object.entries(values), ["PAYMENT_PROVIDER", "stripe"]]) {
      if (loaded[name as string]?.value !== value) throw new Error(`wrangler dev would ignore ${name} in .dev.vars`);
    }
    if ("NOT_DECLARED_ANYWHERE" in loaded) throw new Error("wrangler's .dev.vars filter changed: re-check the [vars] placeholders");
    console.log(`[dev:check] .dev.vars loader: ${[...OPTIONAL_LOCAL_SECRETS, "PAYMENT_PROVIDER"].join(", ")} reach the worker`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkStripeWebhook(): Promise<void> {
  const stripe = new Stripe("sk_test_unused");
  const event = {
    id: `evt_devcheck_${randomBytes(8).toString("hex")}`,
    object: "event",
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: `pi_devcheck_${randomBytes(8).toString("hex")}`,
        object: "payment_intent",
        amount: 1000,
        currency: "usd",
        metadata: {},
      },
    },
  };
  const payload = JSON.stringify(event);
  const post = (secret: string) =>
    fetch(`${base}/api/v1/webhooks/payments/stripe`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Stripe-Signature": stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });
  const forged = await post(`whsec_${randomBytes(24).toString("base64")}`);
  if (forged.status !== 401) throw new Error(`a Stripe event signed with another secret → ${forged.status}, expected 401`);
  const res = await post(stripeWebhookSecret);
  if (res.status !== 202) throw new Error(`a Stripe event signed with STRIPE_WEBHOOK_SECRETS → ${res.status} ${await res.text()}`);
  console.log("[dev:check] Stripe-signed event (stripe.webhooks.generateTestHeaderString) → 202; forged → 401");
}

async function checkShippingQuote(sku: string): Promise<void> {
  const address = { name: "Dev Check", line1: "1 Market St", city: "San Francisco", region: "CA", postal_code: "94105", country: "US" };
  const res = await fetch(`${base}/api/v1/shipping/rates`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ address, items: [{ sku, qty: 1 }] }),
  });
  const q = (await res.json()) as { estimated?: boolean; rates?: { carrier: string }[] };
  if (res.status !== 200 || !q.rates?.length || q.estimated)
    throw new Error(`POST /api/v1/shipping/rates → ${res.status} ${JSON.stringify(q)}`);
  console.log(`[dev:check] shipping quote from the ${q.rates[0]?.carrier} carrier: ${q.rates.length} rates`);
}

async function main(): Promise<void> {
  await checkDevVarsLoader();
  const started = Date.now();
  for (;;) {
    if (Date.now() - started > 120_000) throw new Error("dev server did not answer within 120 s");
    if (dev.exitCode !== null) throw new Error(`npm run dev exited with ${dev.exitCode}`);
    try {
      if ((await fetch(`${base}/health/ready`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`[dev:check] ready after ${((Date.now() - started) / 1000).toFixed(1)} s (PAYMENT_PROVIDER=stripe from ${devVarsFile})`);
  const list = await fetch(`${base}/api/v1/products`);
  const body = (await list.json()) as { data: { sku: string }[] };
  if (list.status !== 200 || body.data.length !== 20) throw new Error(`GET /api/v1/products → ${list.status}`);
  const terms = ["lapt", "kettle", "pro", "sneak", "tea"];
  const paths = Array.from({ length: 50 }, (_, i) =>
    i % 2 ? `/api/v1/products?limit=${i + 1}&min_price=${i}` : `/api/v1/search?q=${terms[i % 5]}&limit=${i + 1}`,
  );
  const t0 = Date.now();
  const statuses = await Promise.all(paths.map(async (p) => (await fetch(`${base}${p}`)).status));
  const errors = statuses.filter((s) => s !== 200).length;
  console.log(`[dev:check] 50 concurrent DB requests: ${errors} errors in ${Date.now() - t0} ms`);
  if (errors) throw new Error(`statuses: ${statuses.join(",")}`);
  await checkStripeWebhook();
  await checkShippingQuote(body.data[0]?.sku as string);
}

main()
  .then(() => {
    stop();
    setTimeout(() => process.exit(0), 1500);
  })
  .catch((err) => {
    console.error(`[dev:check] FAILED: ${err instanceof Error ? err.message : err}\n--- dev output ---\n${output}`);
    stop();
    setTimeout(() => process.exit(1), 1500);
  });
