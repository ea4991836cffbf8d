/** Small helpers shared by the harness: ports, sleeping, deterministic randomness, percentiles. */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Asks the kernel for a free TCP port (tiny race window; fine for a local harness). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Stateless hash of (seed, i) → [0, 1). Request i gets the same "random" choice no
 * matter which autocannon connection asks for it, so runs are reproducible.
 */
export function rand(seed: number, i: number): number {
  let t = (Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seed, 0xc2b2ae35)) >>> 0;
  t = Math.imul(t ^ (t >>> 16), 0x7feb352d);
  t = Math.imul(t ^ (t >>> 15), 0x846ca68b);
  return ((t ^ (t >>> 16)) >>> 0) / 4294967296;
}

/** Zipf(s) sampler over n ranks: rank 0 is the most popular. */
export function zipf(n: number, s = 1.0): (u: number) => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) {
    acc += 1 / (k + 1) ** s;
    cdf[k] = acc;
  }
  for (let k = 0; k < n; k++) cdf[k] = (cdf[k] as number) / acc;
  return (u) => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Growable list of latencies (ms) with exact percentiles: the same method for HTTP and SQL runs. */
export class Latencies {
  #buf = new Float64Array(1 << 14);
  count = 0;
  add(ms: number) {
    if (this.count === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.count++] = ms;
  }
  at(i: number): number {
    return this.#buf[i] as number;
  }
  percentiles(ps: number[]): number[] {
    const sorted = this.#buf.slice(0, this.count).sort();
    return ps.map((p) => (this.count ? (sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)] as number) : Number.NaN));
  }
}

/** CPU seconds (user + system, all threads) of a process, from /proc; null when unreadable. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15 → indexes 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Direct children of `ppid` whose command name is `comm` (to find the workerd Miniflare spawned). */
export function childPids(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === ppid && name === comm) out.push(Number(d));
    } catch {
      // process vanished while scanning
    }
  }
  return out;
}

export const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
