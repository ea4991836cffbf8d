/**
 * Two load generators with identical accounting (fixed concurrency, exact percentiles
 * from every response time), both adding into a `Tally` so that several short slices
 * of one measurement can be interleaved with its baselines and merged afterwards:
 *  - runHttp: autocannon against a direct workerd socket; request i comes from the
 *    scenario (a shared counter across connections), X-Cache is tallied per response.
 *  - runSql: `connections` async loops replaying the scenario's recorded SQL on a pg.Pool.
 */
import autocannon from "autocannon";
import type pg from "pg";
import type { RequestSpec } from "../scenarios.ts";
import { type RecordedQuery, replay } from "./sql.ts";
import { Latencies, processCpuSeconds } from "./util.ts";

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** HTTP status >= 400 plus socket errors/timeouts (HTTP), or failed queries (SQL). */
  errors: number;
  statuses: Record<string, number>;
  /** X-Cache tallies (HIT / MISS / STALE / none). */
  cache: Record<string, number>;
  /** workerd CPU seconds over the measurement divided by responses (ms), when the pid is known. */
  cpuMsPerReq?: number | undefined;
  firstError?: string | undefined;
}

/** Running totals of one measurement (possibly made of several slices). */
export class Tally {
  lat = new Latencies();
  seconds = 0;
  errors = 0;
  statuses: Record<string, number> = {};
  cache: Record<string, number> = {};
  cpuSeconds: number | undefined = 0;
  firstError: string | undefined;
  /** Request counter shared by every slice, so "miss" URLs never repeat across slices. */
  next = 0;

  /** Adds another tally's samples (e.g. every paired hello slice into the overall hello row). */
  absorb(o: Tally): void {
    for (let i = 0; i < o.lat.count; i++) this.lat.add(o.lat.at(i));
    this.seconds += o.seconds;
    this.errors += o.errors;
    for (const [k, v] of Object.entries(o.statuses)) this.statuses[k] = (this.statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(o.cache)) this.cache[k] = (this.cache[k] ?? 0) + v;
    this.cpuSeconds = this.cpuSeconds === undefined || o.cpuSeconds === undefined ? undefined : this.cpuSeconds + o.cpuSeconds;
    this.firstError ??= o.firstError;
  }

  result(): LoadResult {
    const [p50 = Number.NaN, p95 = Number.NaN, p99 = Number.NaN] = this.lat.percentiles([50, 95, 99]);
    const n = this.lat.count;
    return {
      requests: n,
      seconds: this.seconds,
      rps: this.seconds ? n / this.seconds : 0,
      p50,
      p95,
      p99,
      errors: this.errors,
      statuses: this.statuses,
      cache: this.cache,
      cpuMsPerReq: this.cpuSeconds !== undefined && this.cpuSeconds > 0 && n ? (this.cpuSeconds * 1000) / n : undefined,
      firstError: this.firstError,
    };
  }
}

export interface HttpRunOptions {
  base: URL;
  connections: number;
  seconds: number;
  next: (i: number) => RequestSpec;
  workerdPid?: number | undefined;
  /** Spread requests over this many simulated clients (CF-Connecting-IP), as the edge would see them. */
  clients?: number | undefined;
}

const BURST = 8;

/** Client n → a private IPv4 address, stable per n. */
export const clientIp = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

export async function runHttp(o: HttpRunOptions, t: Tally): Promise<void> {
  const cpu0 = o.workerdPid ? processCpuSeconds(o.workerdPid) : null;
  const started = performance.now();
  const opts: autocannon.Options = {
    url: o.base.origin,
    connections: o.connections,
    duration: o.seconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (req) => {
          const i = t.next++;
          const spec = o.next(i);
          req.method = spec.method ?? "GET";
          req.path = spec.path;
          // Without distinct client IPs every request would share one per-IP rate-limit bucket (and one
          // Durable Object): production traffic comes from many clients. Each simulated client sends a
          // burst of BURST consecutive requests (the API calls of one page view), then the next one does.
          const client = o.clients ? clientIp(Math.floor(i / BURST) % o.clients) : undefined;
          req.headers = { ...(client ? { "cf-connecting-ip": client } : {}), ...spec.headers };
          req.body = spec.body ?? "";
          return req;
        },
        onResponse: (status, body, _ctx, headers) => {
          const h = headers as Record<string, string | string[] | undefined>;
          const xc = h["x-cache"] ?? h["X-Cache"];
          const tag = (Array.isArray(xc) ? xc[0] : xc) ?? "none";
          t.cache[tag] = (t.cache[tag] ?? 0) + 1;
          if (status >= 400) {
            t.errors++;
            t.firstError ??= `${status} ${body.slice(0, 300)}`;
          }
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      t.lat.add(responseTime);
      t.statuses[statusCode] = (t.statuses[statusCode] ?? 0) + 1;
    });
    instance.on("reqError", (err) => {
      t.firstError ??= `socket: ${err.message}`;
    });
  });
  t.seconds += (performance.now() - started) / 1000;
  t.errors += result.errors; // socket errors and timeouts (HTTP >= 400 was counted per response)
  const cpu1 = o.workerdPid ? processCpuSeconds(o.workerdPid) : null;
  t.cpuSeconds = cpu0 !== null && cpu1 !== null && t.cpuSeconds !== undefined ? t.cpuSeconds + (cpu1 - cpu0) : undefined;
}

export interface SqlRunOptions {
  pool: pg.Pool;
  connections: number;
  seconds: number;
  next: (i: number) => RecordedQuery[];
}

export async function runSql(o: SqlRunOptions, t: Tally): Promise<void> {
  // Open the connections before the clock starts: the worker side's keep-alive sockets are open too.
  const warm = await Promise.all(Array.from({ length: o.connections }, () => o.pool.connect()));
  for (const c of warm) c.release();
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const queries = o.next(t.next++);
      const t0 = performance.now();
      try {
        await replay(o.pool, queries);
        t.lat.add(performance.now() - t0);
      } catch (err) {
        t.errors++;
        t.firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, loop));
  t.seconds += (performance.now() - started) / 1000;
}
