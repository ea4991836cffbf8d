/**
 * Chaos suite (issue 18, item 4): the bench runtime (the deployable bundle on workerd, pgbouncer, a fresh
 * Postgres database) under steady mixed load (catalogue reads, checkouts, payments, signed webhooks), with
 * one fault at a time injected, then the invariants checked after each:
 *
 *   orders-once    every order a client was told was accepted (201) exists exactly once, and no other order
 *                  of the run's customers exists (clients retry with the same Idempotency-Key until an answer)
 *   stock          stock + units sold = the initial stock, per product of the run
 *   webhooks       every payment webhook the API accepted (2xx) ends processed (not RECEIVED/FAILED) once the fault is
 *                  gone, and its order PAID
 *   retry-after    no 5xx without Retry-After
 *   catalogue      every catalogue read during the fault answered 200/304 (stale when the database is away)
 *   checkout       orders kept being placed during the fault (required where the fault leaves Postgres up: do-throw)
 *
 * Faults: db-refuse (a TCP proxy between the worker and pgbouncer drops every connection and refuses new
 * ones), kill-backends (pg_terminate_backend on every backend of the database, repeatedly), db-slow (the
 * proxy adds latency to every packet), provider (the sandbox payment provider fails and times out),
 * do-throw (every call to the RateLimiter and IdempotencyStore Durable Objects throws: the runtime loads
 * the bundle through a wrapper module that subclasses both with a switch; the deployable code has no hook).
 * Half the buyers send a client_token with their Idempotency-Key, half only the key.
 *
 *   npm run chaos                 # full: 20 s outage, 10 s per other fault
 *   npm run chaos -- --short      # CI: 8 s outage, 5 s per other fault
 * Exit 1 when an invariant fails. DATABASE_URL picks the Postgres server (default postgres://postgres:postgres@127.0.0.1:5432).
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { createFreshDatabase, dropDatabase, runMigrations, withClient } from "../scripts/lib/db.ts";
import { seedCatalog } from "../scripts/lib/seed.ts";
import { configSchema } from "../src/config.ts";
import { issueAccessToken } from "../src/lib/tokens.ts";
import { signStandardWebhook } from "../src/payments/signatures.ts";
import { clientIp } from "./lib/load.ts";
import { startPooler } from "./lib/pgbouncer.ts";
import { buildBundle, readWorkerConfig, startRuntime } from "./lib/runtime.ts";
import { sleep } from "./lib/util.ts";

const { values: args } = parseArgs({ options: { short: { type: "boolean", default: false } } });
const SHORT = args.short ?? false;
const OUTAGE_S = SHORT ? 8 : 20;
const FAULT_S = SHORT ? 5 : 10;
const log = (m: string) => console.log(`[chaos] ${m}`);

/** A TCP proxy that can be cut (close live sockets, refuse new ones) or slowed (latency per chunk). */
async function startProxy(targetHost: string, targetPort: number) {
  const live = new Set<Socket>();
  let refusing = false;
  let latencyMs = 0;
  const pipe = (from: Socket, to: Socket) =>
    from.on("data", (chunk) => {
      if (latencyMs > 0) setTimeout(() => to.write(chunk), latencyMs);
      else to.write(chunk);
    });
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(targetPort, targetHost);
    live.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      refusing = true;
      for (const s of live) s.destroy();
      live.clear();
    },
    restore() {
      refusing = false;
      latencyMs = 0;
    },
    slow(ms: number) {
      latencyMs = ms;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of live) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Stats {
  requests: number;
  byStatus: Record<string, number>;
  fiveXxWithoutRetryAfter: number;
  catalogueFailuresDuringFault: number;
  staleServed: number;
  accepted: Set<string>;
  /** Orders placed (201/200) while the fault was on. */
  acceptedDuringFault: number;
  webhooksAccepted: Set<string>;
  /** Orders whose payment.succeeded webhook the API accepted: each must end PAID. */
  paidByWebhook: Set<string>;
}
const newStats = (): Stats => ({
  requests: 0,
  byStatus: {},
  fiveXxWithoutRetryAfter: 0,
  catalogueFailuresDuringFault: 0,
  staleServed: 0,
  accepted: new Set(),
  acceptedDuringFault: 0,
  webhooksAccepted: new Set(),
  paidByWebhook: new Set(),
});

/**
 * The bundle behind a wrapper module for fault (e): the RateLimiter and IdempotencyStore classes are
 * subclassed so that every call throws while the switch is on; `GET /__chaos/durable-objects?down=1|0`
 * flips it (module state: in workerd a Durable Object runs in its worker's isolate, and the switch's
 * effect is checked by durableObjectsDown). Everything else is the bundle, unchanged.
 */
function writeFaultEntry(bundlePath: string): string {
  const path = join(dirname(bundlePath), "chaos-entry.js");
  writeFileSync(
    path,
    `import worker, * as app from "./${basename(bundlePath)}";
export * from "./${basename(bundlePath)}";
let down = false;
const fault = (what) => { if (down) throw new Error("chaos: " + what + " is down"); };
export class RateLimiter extends app.RateLimiter {
  async hit(...a) { fault("rate limiter"); return super.hit(...a); }
}
export class IdempotencyStore extends app.IdempotencyStore {
  async begin(...a) { fault("idempotency store"); return super.begin(...a); }
  async complete(...a) { fault("idempotency store"); return super.complete(...a); }
  async release(...a) { fault("idempotency store"); return super.release(...a); }
}
export default {
  fetch(req, env, ctx) {
    const url = new URL(req.url);
    if (url.pathname === "/__chaos/durable-objects") {
      down = url.searchParams.get("down") === "1";
      return new Response(String(down));
    }
    return worker.fetch(req, env, ctx);
  },
  queue: (batch, env, ctx) => worker.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => worker.scheduled(controller, env, ctx),
};
`,
  );
  return path;
}

const cleanups: (() => Promise<unknown>)[] = [];
let failed = false;
try {
  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
  const dbUrl = await createFreshDatabase(serverUrl, "toko_chaos");
  cleanups.push(() => dropDatabase(dbUrl));
  await runMigrations(dbUrl);
  await seedCatalog(dbUrl, { products: 200 });
  const [bundle, config] = await Promise.all([buildBundle(), readWorkerConfig()]);
  const entry = writeFaultEntry(bundle.path);
  Object.assign(config.vars, {
    // Limits on (so every guarded request calls the RateLimiter object) but out of the load's way.
    RATE_LIMIT_OVERRIDES: "order-create=1000000/60,webhook-intake=1000000/60,payment-create=1000000/60",
    PUBLIC_READ_LIMITER: "durable-object",
    MAX_OPEN_ORDERS_PER_USER: "1000",
    MAX_RESERVED_UNITS_PER_SKU: "1000000",
    CATALOG_CACHE_TTL_SEC: "2",
    CATALOG_CACHE_SWR_SEC: "0",
    DB_QUERY_TIMEOUT_MS: "3000",
    LOG_LEVEL: "warn",
  });
  const pooler = await startPooler(dbUrl, log);
  cleanups.push(() => pooler.stop());
  const pooled = new URL(pooler.url);
  const proxy = await startProxy(pooled.hostname, Number(pooled.port || 5432));
  cleanups.push(() => proxy.close());
  const viaProxy = new URL(pooler.url);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  const runtime = await startRuntime({
    bundlePath: entry,
    extraModules: [bundle.path],
    config,
    dbUrl: viaProxy.toString(),
    cursorSecret: randomUUID() + randomUUID(),
    variants: [],
  });
  cleanups.push(() => runtime.dispose());
  const base = runtime.urls.get("app") as URL;
  const dbName = new URL(dbUrl).pathname.slice(1);

  // The run's products (no shipping needed) and customers.
  const INITIAL = 100_000;
  const run = randomUUID().slice(0, 8);
  const skus = Array.from({ length: 5 }, (_, i) => `CHAOS-${run}-${i}`.toUpperCase());
  await withClient(dbUrl, (c) =>
    c.query(
      `INSERT INTO products (sku, name, slug, price_cents, currency, stock, requires_shipping)
       SELECT s, s, lower(s), 1000, 'USD', $2, false FROM unnest($1::text[]) AS s`,
      [skus, INITIAL],
    ),
  );
  const cfg = configSchema.parse({ ENVIRONMENT: "development", ...runtime.secrets });
  const userIds = await withClient(dbUrl, async (c) =>
    (
      await c.query<{ id: string }>("INSERT INTO users (email, password_hash, role) SELECT unnest($1::text[]), 'x', 'USER' RETURNING id", [
        Array.from({ length: 20 }, () => `chaos-${randomUUID()}@example.com`),
      ])
    ).rows.map((r) => r.id),
  );
  const tokens = await Promise.all(userIds.map(async (id) => (await issueAccessToken(cfg, { userId: id, role: "USER" })).token));
  const secret = (runtime.secrets.SANDBOX_WEBHOOK_SECRETS ?? "").split(",")[0] ?? "";
  const READS = ["/api/v1/products?limit=5", "/api/v1/categories", "/api/v1/products?limit=10&sort=price_asc", "/api/v1/search?q=lamp"];

  // Prime the catalogue.
  for (const p of READS) for (let i = 0; i < 3; i++) await (await fetch(new URL(p, base))).arrayBuffer();

  const allAccepted: string[] = [];
  /** Orders waiting for a payer. */
  const toPay: { orderId: string; auth: Record<string, string>; total: number }[] = [];
  let faultActive = false;
  let stopping = false;
  let stats = newStats();
  /** What a request was, for the per-phase answer counts ("orders 201", "webhooks 202", "reads 200"…). */
  const labelOf = (path: string) => /^\/api\/v1\/(orders|payments|webhooks)/.exec(path)?.[1] ?? "reads";
  const record = (res: Response, kind: "read" | "write", path: string) => {
    stats.requests++;
    const key = `${labelOf(path)} ${res.status}`;
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
    if (res.status >= 500 && !res.headers.get("retry-after")) stats.fiveXxWithoutRetryAfter++;
    if (kind === "read") {
      if (res.headers.get("x-cache") === "STALE-IF-ERROR") stats.staleServed++;
      if (faultActive && res.status !== 200 && res.status !== 304) stats.catalogueFailuresDuringFault++;
    }
  };
  const send = async (path: string, init: RequestInit, kind: "read" | "write"): Promise<Response> => {
    try {
      const res = await fetch(new URL(path, base), { ...init, signal: AbortSignal.timeout(15_000) });
      record(res, kind, path);
      return res;
    } catch (err) {
      stats.requests++;
      const key = `${labelOf(path)} network`;
      stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
      if (kind === "read" && faultActive) stats.catalogueFailuresDuringFault++;
      throw err;
    }
  };
  const retryable = (s: number) => s >= 500 || s === 409 || s === 429;

  /** One checkout, retried with the same key until it is answered for good. */
  async function buyer(n: number, provider: boolean) {
    let i = 0;
    while (!stopping) {
      const u = (n + i++) % tokens.length;
      const auth = { authorization: `Bearer ${tokens[u]}`, "content-type": "application/json" };
      const key = `chaos-${randomUUID()}`;
      // Even buyers send only the Idempotency-Key (the route makes it the order's client_token), odd ones a
      // client_token too, as docs/orders-payments.md advises: either way Postgres' unique constraint dedupes
      // a retry whose first COMMIT's acknowledgement was lost (docs/reliability.md).
      const items = [{ sku: skus[i % skus.length], qty: 1 + (i % 3) }];
      const body = JSON.stringify(n % 2 === 0 ? { items } : { items, client_token: key });
      for (let attempt = 0; attempt < 200; attempt++) {
        let res: Response;
        try {
          res = await send("/api/v1/orders", { method: "POST", body, headers: { ...auth, "idempotency-key": key } }, "write");
        } catch {
          await sleep(250);
          continue;
        }
        const text = await res.text();
        // 201: placed; 200: the order this client_token already placed (its acknowledgement was lost before).
        if (res.status === 201 || res.status === 200) {
          const order = JSON.parse(text) as { id: string; total_cents: number };
          stats.accepted.add(order.id);
          if (faultActive) stats.acceptedDuringFault++;
          // Every other order is paid by a payer (payment, then the provider's signed webhook).
          if ((!provider || i % 2 === 0) && toPay.length < 50) toPay.push({ orderId: order.id, auth, total: order.total_cents });
          else if (provider) {
            const payBody = JSON.stringify({ order_id: order.id, test_outcome: i % 2 ? "provider_error" : "provider_timeout" });
            const pay = await send(
              "/api/v1/payments",
              { method: "POST", body: payBody, headers: { ...auth, "idempotency-key": `pay-${key}` } },
              "write",
            ).catch(() => undefined);
            await pay?.arrayBuffer();
          }
          break;
        }
        if (!retryable(res.status)) break;
        await sleep(Math.min(2000, 1000 * Number(res.headers.get("retry-after") ?? 1)));
      }
    }
  }

  async function reader(n: number) {
    let i = n;
    while (!stopping) {
      // 64 client IPs per reader: each stays far below the per-IP public-read limit (not what this suite measures).
      const headers = { "cf-connecting-ip": clientIp(n * 1000 + (i % 64)) };
      const res = await send(READS[i++ % READS.length] as string, { headers }, "read").catch(() => undefined);
      await res?.arrayBuffer();
      await sleep(20);
    }
  }

  /**
   * Pays orders the buyers placed, as a customer and a provider would: POST /payments (the sandbox
   * "succeeds"), retried with one Idempotency-Key until answered, then the provider's signed
   * `payment.succeeded` webhook, retried until accepted (2xx), as providers do. Each accepted webhook
   * must end applied: stored, processed, and its order PAID.
   */
  async function payer(n: number) {
    let i = 0;
    while (!stopping) {
      const o = toPay.shift();
      if (!o) {
        await sleep(50);
        continue;
      }
      let paymentId: string | undefined;
      const payBody = JSON.stringify({ order_id: o.orderId, test_outcome: "succeeded" });
      for (let attempt = 0; attempt < 200 && !stopping && !paymentId; attempt++) {
        const res = await send(
          "/api/v1/payments",
          { method: "POST", body: payBody, headers: { ...o.auth, "idempotency-key": `chaos-pay-${o.orderId}` } },
          "write",
        ).catch(() => undefined);
        const text = (await res?.text()) ?? "";
        if (res && (res.status === 200 || res.status === 201)) paymentId = (JSON.parse(text) as { payment_id: string }).payment_id;
        else if (res && !retryable(res.status)) break;
        else await sleep(Math.min(2000, 1000 * Number(res?.headers.get("retry-after") ?? 0.25)));
      }
      if (!paymentId) continue;
      // Unique across phases too (payers restart with each fault): a reused id would be a duplicate delivery.
      const id = `evt_chaos_${run}_${randomUUID().slice(0, 8)}_${n}_${i++}`;
      const data = {
        payment_id: paymentId,
        provider_ref: `sbx_pi_${paymentId.replaceAll("-", "")}`,
        order_id: o.orderId,
        amount_cents: o.total,
        currency: "USD",
      };
      for (let attempt = 0; attempt < 200 && !stopping; attempt++) {
        const ts = Math.floor(Date.now() / 1000);
        const payload = JSON.stringify({ id, type: "payment.succeeded", created: ts, data });
        const headers = {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(ts),
          "webhook-signature": await signStandardWebhook(secret, id, ts, payload),
        };
        const res = await send("/api/v1/webhooks/payments/sandbox", { method: "POST", body: payload, headers }, "write").catch(
          () => undefined,
        );
        await res?.arrayBuffer();
        if (res && res.status < 300) {
          stats.webhooksAccepted.add(id);
          stats.paidByWebhook.add(o.orderId);
          break;
        }
        await sleep(500);
      }
    }
  }

  interface Fault {
    name: string;
    start(): Promise<void> | void;
    stop(): Promise<void> | void;
    seconds: number;
    provider?: boolean;
    catalogue?: boolean;
    /** Checkout must keep placing orders through this fault (the guards degrade, they do not fail). */
    checkout?: boolean;
  }
  let killer: ReturnType<typeof setInterval> | undefined;
  const killAll = () =>
    withClient(serverUrl, (c) =>
      c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]),
    ).catch(() => {});
  const faults: Fault[] = [
    { name: "db-refuse", seconds: OUTAGE_S, start: () => proxy.cut(), stop: () => proxy.restore(), catalogue: true },
    {
      name: "kill-backends",
      seconds: FAULT_S,
      start: () => {
        killer = setInterval(killAll, 700);
      },
      stop: () => clearInterval(killer),
    },
    { name: "db-slow", seconds: FAULT_S, start: () => proxy.slow(400), stop: () => proxy.restore() },
    { name: "do-throw", seconds: FAULT_S, start: () => durableObjectsDown(true), stop: () => durableObjectsDown(false), checkout: true },
    // Last: the failing provider opens its circuit breaker (BREAKER_OPEN_SEC), which then refuses every payment
    // for a while, as it should; a phase after it would measure the breaker, not its own fault.
    { name: "provider", seconds: FAULT_S, start: () => {}, stop: () => {}, provider: true },
  ];
  /** Switches the wrapper's fault on or off and proves it took: a login (fail-closed limit) answers 503 while it is on. */
  async function durableObjectsDown(down: boolean) {
    const res = await fetch(new URL(`/__chaos/durable-objects?down=${down ? 1 : 0}`, base));
    if ((await res.text()) !== String(down)) throw new Error("the chaos entry did not take the switch");
    const login = await fetch(new URL("/api/v1/auth/login", base), {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": clientIp(9_999_999) },
      body: JSON.stringify({ email: "nobody@example.com", password: "not-a-password-at-all" }),
    });
    await login.arrayBuffer();
    if (down ? login.status !== 503 : login.status === 503)
      throw new Error(`do-throw ${down ? "on" : "off"}: login answered ${login.status}`);
  }

  const results: { fault: string; checks: Record<string, string>; ok: boolean; summary: string }[] = [];
  for (const f of faults) {
    stats = newStats();
    stopping = false;
    log(`${f.name}: load for 2 s, fault for ${f.seconds} s, then recovery`);
    const load = [
      ...Array.from({ length: 4 }, (_, n) => buyer(n, f.provider ?? false)),
      ...Array.from({ length: 4 }, (_, n) => reader(n)),
      ...Array.from({ length: 2 }, (_, n) => payer(n)),
    ];
    await sleep(2000);
    faultActive = true;
    await f.start();
    await sleep(f.seconds * 1000);
    await f.stop();
    faultActive = false;
    await sleep(2000);
    stopping = true;
    await Promise.all(load);

    // Invariants.
    const checks: Record<string, string> = {};
    const inDb = await withClient(dbUrl, async (c) => {
      const orders = (await c.query<{ id: string }>("SELECT id FROM orders WHERE user_id = ANY($1)", [userIds])).rows.map((r) => r.id);
      const stock = (
        await c.query<{ sku: string; stock: number; sold: number }>(
          `SELECT p.sku, p.stock, coalesce((SELECT sum(i.qty)::int FROM order_items i WHERE i.product_id = p.id), 0) AS sold
           FROM products p WHERE p.sku = ANY($1)`,
          [skus],
        )
      ).rows;
      return { orders, stock };
    });
    // Cumulative across faults: orders of earlier phases were accepted then.
    allAccepted.push(...stats.accepted);
    const acc = new Set(allAccepted);
    const missing = [...acc].filter((id) => !inDb.orders.includes(id));
    const extra = inDb.orders.filter((id) => !acc.has(id));
    checks["orders-once"] =
      missing.length === 0 && extra.length === 0 ? `ok (${acc.size})` : `FAIL missing ${missing.length} extra ${extra.length}`;
    const badStock = inDb.stock.filter((r) => r.stock + r.sold !== INITIAL);
    checks.stock = badStock.length === 0 ? "ok" : `FAIL ${badStock.map((r) => `${r.sku}: ${r.stock}+${r.sold}`).join(", ")}`;
    const ids = [...stats.webhooksAccepted];
    let pending = ids.length;
    const t0 = Date.now();
    while (pending > 0 && Date.now() - t0 < (SHORT ? 45_000 : 90_000)) {
      pending = await withClient(dbUrl, async (c) =>
        Number(
          (await c.query("SELECT count(*) FROM webhook_events WHERE event_id = ANY($1) AND status IN ('RECEIVED', 'FAILED')", [ids]))
            .rows[0].count,
        ),
      );
      if (pending > 0) await sleep(1000);
    }
    const stored = await withClient(dbUrl, async (c) =>
      Number((await c.query("SELECT count(*) FROM webhook_events WHERE event_id = ANY($1)", [ids])).rows[0].count),
    );
    const paid = [...stats.paidByWebhook];
    const unpaid = await withClient(dbUrl, async (c) =>
      Number((await c.query("SELECT count(*) FROM orders WHERE id = ANY($1) AND status <> 'PAID'", [paid])).rows[0].count),
    );
    if (unpaid > 0) {
      // The failing cases, whole: each unpaid order, its payments and every payment event about it.
      const detail = await withClient(
        dbUrl,
        async (c) =>
          (
            await c.query(
              `SELECT o.id, o.status::text AS status, o.total_cents,
                    (SELECT json_agg(json_build_object('id', p.id, 'status', p.status, 'ref', p.provider_ref, 'amount', p.amount_cents))
                       FROM payments p WHERE p.order_id = o.id) AS payments,
                    (SELECT json_agg(json_build_object('event', e.event_id, 'type', e.type, 'status', e.status, 'error', e.last_error,
                            'payment', e.payload->'data'->>'payment_id'))
                       FROM webhook_events e WHERE e.payload->'data'->>'order_id' = o.id::text) AS events
             FROM orders o WHERE o.id = ANY($1) AND o.status <> 'PAID' LIMIT 3`,
              [paid],
            )
          ).rows,
      );
      for (const d of detail) log(`${f.name}: not PAID after an accepted payment.succeeded: ${JSON.stringify(d)}`);
    }
    checks.webhooks =
      pending === 0 && stored === ids.length && unpaid === 0
        ? `ok (${ids.length}, ${paid.length} paid)`
        : `FAIL ${pending} unprocessed, ${ids.length - stored} lost, ${unpaid} orders not PAID`;
    checks["retry-after"] = stats.fiveXxWithoutRetryAfter === 0 ? "ok" : `FAIL ${stats.fiveXxWithoutRetryAfter}`;
    checks.catalogue =
      stats.catalogueFailuresDuringFault === 0
        ? `ok (${stats.staleServed} stale)`
        : `${f.catalogue ? "FAIL" : "n/a"} ${stats.catalogueFailuresDuringFault} failed`;
    checks.checkout =
      stats.acceptedDuringFault > 0 ? `ok (${stats.acceptedDuringFault} placed)` : `${f.checkout ? "FAIL" : "n/a"} 0 placed`;
    const ok = Object.entries(checks).every(
      ([k, v]) => !v.startsWith("FAIL") || (k === "catalogue" && !f.catalogue) || (k === "checkout" && !f.checkout),
    );
    if (!ok) failed = true;
    const summary = `${stats.requests} requests, ${JSON.stringify(stats.byStatus)}`;
    results.push({ fault: f.name, checks, ok, summary });
    log(`${f.name}: ${ok ? "ok" : "FAILED"}; ${summary}`);
  }

  const cols = ["orders-once", "stock", "webhooks", "retry-after", "catalogue", "checkout"];
  const lines = [
    `| fault | ${cols.join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    ...results.map((r) => `| ${r.fault} | ${cols.map((c) => r.checks[c]).join(" | ")} |`),
  ];
  console.log(`\nChaos (${SHORT ? "short" : "full"}): faults × invariants\n\n${lines.join("\n")}\n`);
  for (const r of results) console.log(`${r.fault}: ${r.summary}`);
} catch (err) {
  failed = true;
  console.error("[chaos] error:", err);
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
}
process.exit(failed ? 1 : 0);
