/**
 * Traffic spike on public reads: baseline → ×SPIKE_FACTOR within seconds → hold → back.
 * The read SLO must hold through the spike (edge cache + Hyperdrive pooling absorb it).
 *
 *   k6 run -e BASE_URL=https://staging.example.com -e BASE_RATE=20 -e SPIKE_FACTOR=10 perf/k6/spike.ts
 *
 * Requests follow a Zipf popularity over the first page of products plus the home and
 * category lists: a spike is usually "everyone opens the same few pages" (a campaign).
 */
import { check } from "k6";
import http from "k6/http";
import type { Options } from "k6/options";
import { BASE_URL, jsonOf, num, READ_SLO, tagged, zipf } from "./common.ts";

const BASE_RATE = num("BASE_RATE", 20);
const PEAK = BASE_RATE * num("SPIKE_FACTOR", 10);

export const options: Options = {
  scenarios: {
    spike: {
      executor: "ramping-arrival-rate",
      startRate: BASE_RATE,
      timeUnit: "1s",
      preAllocatedVUs: num("PRE_VUS", Math.max(20, PEAK / 2)),
      maxVUs: num("MAX_VUS", PEAK * 3),
      stages: [
        { target: BASE_RATE, duration: __ENV.WARM || "1m" },
        { target: PEAK, duration: __ENV.RAMP || "10s" },
        { target: PEAK, duration: __ENV.HOLD || "2m" },
        { target: BASE_RATE, duration: "10s" },
        { target: BASE_RATE, duration: __ENV.COOL || "1m" },
      ],
    },
  },
  thresholds: {
    http_req_failed: READ_SLO.failed,
    http_req_duration: READ_SLO.duration,
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

export function setup(): { skus: string[] } {
  const body = jsonOf<{ data: { sku: string }[] }>(http.get(`${BASE_URL}/api/v1/products?limit=100`, tagged("read", "setup")));
  if (!body?.data.length) throw new Error(`no products at ${BASE_URL}/api/v1/products`);
  return { skus: body.data.map((p) => p.sku) };
}

let pickSku: (() => number) | undefined;

export default function spike(data: { skus: string[] }): void {
  pickSku ??= zipf(data.skus.length, 1.2);
  const r = Math.random();
  const res =
    r < 0.7
      ? http.get(`${BASE_URL}/api/v1/products/${data.skus[pickSku()]}`, tagged("read", "product detail"))
      : r < 0.9
        ? http.get(`${BASE_URL}/api/v1/products`, tagged("read", "home"))
        : http.get(`${BASE_URL}/api/v1/categories`, tagged("read", "categories"));
  check(res, { "status 200": (x) => x.status === 200 });
}
