/**
 * Shared settings for the k6 scripts (operators run them against a deployed
 * environment; see perf/README.md). Everything comes from `__ENV` so one script
 * serves staging and production: nothing environment-specific is committed.
 */
import crypto from "k6/crypto";
import type { Params, RefinedResponse, ResponseType } from "k6/http";

/** Target origin, e.g. https://toko-edge-staging.example.workers.dev (no trailing slash needed). */
export const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");

/** Public-read SLO: 99.9 % success, p95 < 200 ms, p99 < 500 ms (measured at the client). */
export const READ_SLO = {
  failed: ["rate<0.001"],
  duration: ["p(95)<200", "p(99)<500"],
};

/**
 * Writes (login, orders, webhook intake) have no SLO yet: these limits are proposals,
 * kept separate so a slow write never hides a read regression (tag `kind`).
 */
export const WRITE_SLO = {
  failed: ["rate<0.001"],
  duration: ["p(95)<500", "p(99)<1000"],
};

/** Number from __ENV with a default, e.g. num("RATE", 50). */
export function num(name: string, fallback: number): number {
  const raw = __ENV[name];
  const n = raw === undefined || raw === "" ? Number.NaN : Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

export function required(name: string): string {
  const v = __ENV[name];
  if (!v) throw new Error(`set ${name} (k6 run -e ${name}=… script.ts)`);
  return v;
}

/** Request params tagged for per-kind thresholds and readable result names. */
export function tagged(kind: "read" | "write", name: string, extra: Params = {}): Params {
  return { ...extra, tags: { ...(extra.tags ?? {}), kind, name } };
}

/** Random v4 UUID from k6/crypto (Idempotency-Key, webhook-id). */
export function uuid(): string {
  const b = new Uint8Array(crypto.randomBytes(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Zipf(s) picker over n ranks (rank 0 most popular): real catalogues have a few hot items. */
export function zipf(n: number, s = 1.0): () => number {
  const cdf: number[] = [];
  let acc = 0;
  for (let k = 0; k < n; k++) {
    acc += 1 / (k + 1) ** s;
    cdf.push(acc);
  }
  return () => {
    const u = Math.random() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] ?? 0) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** JSON body of a response, or null when it is not JSON (checks then fail instead of throwing). */
export function jsonOf<T>(res: RefinedResponse<ResponseType | undefined>): T | null {
  try {
    return res.json() as T;
  } catch {
    return null;
  }
}
