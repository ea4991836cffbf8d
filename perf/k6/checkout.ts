/**
 * Checkout: log in, look at a product, quote shipping for it, place the order with the cheapest rate
 * and an Idempotency-Key, and sometimes retry the same request (a client timeout) to check it is
 * replayed, not doubled.
 *
 * Written before `POST /api/v1/auth/login` and `POST /api/v1/orders` were served, against their
 * documented contract ({email,password} → {access_token}; {items:[{sku,qty}]} → 201, 409 when
 * short; Idempotency-Key replays with `Idempotent-Replayed: true`): re-check when they change.
 * Since shipping (docs/shipping.md): POST /api/v1/shipping/rates {address, items} → {rates:[{rate_id}]},
 * and the order carries `shipping_address` + `shipping_rate_id` (physical goods need them). Quotes for the
 * same address and cart are cached (X-Cache: HIT), so repeated SKUs do not all reach the carrier.
 * It creates real orders: staging only, ALLOW_WRITES=1 required. The order-create limit is
 * 10/min per user: use enough USERS (RATE × 60 / 10) or raise it on staging (RATE_LIMIT_OVERRIDES).
 *
 *   k6 run -e BASE_URL=https://staging.example.com -e ALLOW_WRITES=1 \
 *     -e USERS='buyer1@example.com:pw1,buyer2@example.com:pw2' -e RATE=5 perf/k6/checkout.ts
 *
 * Several accounts spread the per-account login limits; each VU logs in once and reuses its token.
 * SHIP_TO (JSON) overrides the address shipped to (default: a US address).
 */
import { check } from "k6";
import http from "k6/http";
import { Counter } from "k6/metrics";
import type { Options } from "k6/options";
import { BASE_URL, jsonOf, num, READ_SLO, required, tagged, uuid, WRITE_SLO } from "./common.ts";

const RATE = num("RATE", 5);

export const options: Options = {
  scenarios: {
    checkout: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: __ENV.DURATION || "2m",
      preAllocatedVUs: num("PRE_VUS", Math.max(5, RATE * 2)),
      maxVUs: num("MAX_VUS", RATE * 10),
    },
  },
  thresholds: {
    http_req_failed: READ_SLO.failed,
    "http_req_duration{kind:read}": READ_SLO.duration,
    "http_req_duration{kind:write}": WRITE_SLO.duration,
    "checks{check:replayed, not duplicated}": ["rate==1"],
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const ordersPlaced = new Counter("orders_placed");
const fallbackQuotes = new Counter("shipping_quotes_estimated");
const SHIP_TO = __ENV.SHIP_TO
  ? (JSON.parse(__ENV.SHIP_TO) as Record<string, string>)
  : { name: "k6 Buyer", line1: "1 Market St", city: "San Francisco", region: "CA", postal_code: "94105", country: "US" };
// 409 = out of stock / conflicting state: an expected business answer under load, not an error.
const orderStatuses = http.expectedStatuses(200, 201, 409);

interface Setup {
  users: { email: string; password: string }[];
  skus: string[];
}

export function setup(): Setup {
  if (__ENV.ALLOW_WRITES !== "1") throw new Error("checkout creates orders: run against staging with -e ALLOW_WRITES=1");
  const users = required("USERS")
    .split(",")
    .map((pair) => {
      const i = pair.indexOf(":");
      return { email: pair.slice(0, i).trim(), password: pair.slice(i + 1) };
    });
  const body = jsonOf<{ data: { sku: string }[] }>(
    http.get(`${BASE_URL}/api/v1/products?in_stock=true&limit=100`, tagged("read", "setup")),
  );
  if (!body?.data.length) throw new Error(`no in-stock products at ${BASE_URL}`);
  return { users, skus: body.data.map((p) => p.sku) };
}

let token: string | undefined;

function login(data: Setup): string {
  const user = data.users[(__VU - 1) % data.users.length] as Setup["users"][number];
  const res = http.post(
    `${BASE_URL}/api/v1/auth/login`,
    JSON.stringify(user),
    tagged("write", "login", { headers: { "Content-Type": "application/json" } }),
  );
  const body = jsonOf<{ access_token?: string; token?: string }>(res);
  check(res, { "login 200": (x) => x.status === 200 });
  const t = body?.access_token ?? body?.token;
  if (!t) throw new Error(`login failed for ${user.email}: HTTP ${res.status}`);
  return t;
}

export default function checkout(data: Setup): void {
  token ??= login(data);
  const sku = data.skus[Math.floor(Math.random() * data.skus.length)] as string;
  const detail = http.get(`${BASE_URL}/api/v1/products/${sku}`, tagged("read", "product detail"));
  check(detail, { "product 200": (x) => x.status === 200 });

  const items = [{ sku, qty: 1 + Math.floor(Math.random() * 2) }];
  const quoted = http.post(
    `${BASE_URL}/api/v1/shipping/rates`,
    JSON.stringify({ address: SHIP_TO, items }),
    tagged("write", "shipping quote", { headers: { "Content-Type": "application/json" } }),
  );
  check(quoted, { "quote 200": (x) => x.status === 200 });
  const q = jsonOf<{ estimated?: boolean; rates?: { rate_id: string }[] }>(quoted);
  if (q?.estimated) fallbackQuotes.add(1);
  const rate = q?.rates?.[0]?.rate_id;
  if (!rate) return;

  const key = uuid();
  const payload = JSON.stringify({ items, shipping_address: SHIP_TO, shipping_rate_id: rate });
  const params = () =>
    tagged("write", "order create", {
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, "Idempotency-Key": key },
      responseCallback: orderStatuses,
    });
  let res = http.post(`${BASE_URL}/api/v1/orders`, payload, params());
  if (res.status === 401) {
    token = login(data); // token expired (JWT_TTL_SEC): log in again and retry once
    res = http.post(`${BASE_URL}/api/v1/orders`, payload, params());
  }
  if (res.status === 201) ordersPlaced.add(1);
  check(res, { "order 201 or 409": (x) => x.status === 201 || x.status === 409 });

  if (Math.random() < num("REPLAY_RATIO", 0.1)) {
    const again = http.post(`${BASE_URL}/api/v1/orders`, payload, params());
    check(again, {
      "replayed, not duplicated": (x) =>
        x.status === res.status && (res.status !== 201 || (x.headers["Idempotent-Replayed"] === "true" && x.body === res.body)),
    });
  }
}
