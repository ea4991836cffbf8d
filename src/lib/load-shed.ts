/**
 * Load shedding: a per-isolate concurrency gate on origin work (a request that needs the database),
 * with priority classes. Module state: one gate per isolate, shared by its requests.
 *
 *  - `critical`: payment webhooks, payments and checkout (and shipping quotes): admitted up to the whole
 *    limit, and when it is full they wait (at most `waitMs`) for the next free slot, ahead of everyone;
 *  - `auth`: other authenticated requests: admitted while fewer than `authPct` % of the limit are in use;
 *  - `anon`: anonymous origin work (catalogue misses, login…): admitted while fewer than `anonPct` %.
 *
 * So when the isolate fills up, anonymous reads are refused first (503 + Retry-After; a catalogue read
 * with a last good copy is then served stale by the edge cache), authenticated ones next, and only
 * then do payments wait. A slow database tightens the gate: while the p95 time a slot is held exceeds
 * the threshold here, or another isolate anywhere said so (the shared signal, kept by a CircuitBreaker
 * Durable Object), the limit is multiplied by `slowPct` %. Cache hits never reach the gate (they need no database).
 */
export type ShedClass = "critical" | "auth" | "anon";

export interface GateSettings {
  /** Slots per isolate (0 = no gate). */
  max: number;
  anonPct: number;
  authPct: number;
  /** How much of the limit stays open while the database is slow. */
  slowPct: number;
  /** Longest wait of a critical request for a slot. */
  waitMs: number;
}

export class ShedError extends Error {
  readonly shedClass: ShedClass;
  readonly retryAfterSec: number;
  constructor(cls: ShedClass, retryAfterSec: number) {
    super(`shed: ${cls}`);
    this.name = "ShedError";
    this.shedClass = cls;
    this.retryAfterSec = retryAfterSec;
  }
}

let inflight = 0;
const waiting: { grant: () => void }[] = [];

/** Origin-work durations (ms) of the last requests, for the p95 (ring buffer). */
const SAMPLES = 200;
const samples: number[] = [];
let next = 0;
let localSlowUntil = 0;
let sharedSlowUntil = 0;

const PRIORITY_PATHS = ["/api/v1/webhooks/", "/api/v1/payments", "/api/v1/shipping/rates"];

/** The class of a request: by route first (payments, webhooks, checkout), then by whether it is authenticated. */
export function classify(method: string, path: string, authorization: string | undefined): ShedClass {
  if (PRIORITY_PATHS.some((p) => path.startsWith(p))) return "critical";
  if (method === "POST" && (path === "/api/v1/orders" || path === "/api/v1/orders/bulk")) return "critical";
  return authorization ? "auth" : "anon";
}

/** Whether the database counts as slow now (this isolate's p95, or the shared signal). */
export function databaseSlow(now = Date.now()): boolean {
  return now < localSlowUntil || now < sharedSlowUntil;
}

/** The shared signal, as synced from its Durable Object: slow until `until` (ms). */
export function noteSharedSlow(until: number): void {
  sharedSlowUntil = Math.max(sharedSlowUntil, until);
}

function limitOf(cls: ShedClass, s: GateSettings, now: number): number {
  const max = databaseSlow(now) ? Math.max(1, Math.floor((s.max * s.slowPct) / 100)) : s.max;
  if (cls === "critical") return max;
  return Math.max(1, Math.floor((max * (cls === "auth" ? s.authPct : s.anonPct)) / 100));
}

/**
 * Takes a slot for `cls`, or throws ShedError. Returns the release function (call it once, when the
 * request's origin work is over); `onSample` gets the slot's duration for the p95.
 */
export async function admit(cls: ShedClass, s: GateSettings, now = Date.now()): Promise<() => number> {
  if (s.max <= 0) return () => 0;
  if (inflight < limitOf(cls, s, now) && (cls !== "critical" || waiting.length === 0)) {
    inflight++;
    return releaser(Date.now());
  }
  if (cls !== "critical" || s.waitMs <= 0) throw new ShedError(cls, 1);
  // Critical: wait for the next released slot, first come first served, ahead of every other class.
  await new Promise<void>((resolve, reject) => {
    const entry = {
      grant: () => {
        clearTimeout(timer);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      const i = waiting.indexOf(entry);
      if (i >= 0) waiting.splice(i, 1);
      reject(new ShedError(cls, 1));
    }, s.waitMs);
    waiting.push(entry);
  });
  // The slot was handed over by the releaser (inflight unchanged).
  return releaser(Date.now());
}

function releaser(start: number): () => number {
  let done = false;
  return () => {
    if (done) return 0;
    done = true;
    const took = Date.now() - start;
    record(took);
    const w = waiting.shift();
    if (w) w.grant();
    else inflight--;
    return took;
  };
}

function record(ms: number): void {
  if (samples.length < SAMPLES) samples.push(ms);
  else samples[next] = ms;
  next = (next + 1) % SAMPLES;
}

/** The p95 of the recent origin-work durations (ms), or 0 with fewer than 20 samples. */
export function originP95(): number {
  if (samples.length < 20) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] as number;
}

/** Marks the database slow in this isolate for `forMs` when the p95 exceeds `thresholdMs`; true if it does. */
export function checkSlow(thresholdMs: number, forMs: number, now = Date.now()): boolean {
  if (thresholdMs <= 0) return false;
  if (originP95() > thresholdMs) {
    localSlowUntil = now + forMs;
    return true;
  }
  return false;
}

/** How long a slow-database signal lasts (ms) once raised. */
export const SLOW_SIGNAL_MS = 10_000;
/** The CircuitBreaker object that carries the signal (durable-objects/circuit-breaker.ts `slowSignal`). */
export const SIGNAL_OBJECT = "shed:database";

/** What keeps the shared signal: raises it (`raiseUntil` > 0) and answers the latest "slow until" (ms). */
export interface SlowSignalStore {
  slowSignal(raiseUntil: number): Promise<number>;
}

let syncedAt = 0;
let publishedUntil = 0;

/**
 * Syncs this isolate with the shared slow-database signal (one Durable Object for every location, so a
 * slow database tightens the gate everywhere): sends the local signal when this isolate raised a new one,
 * and takes the shared one. At most once every `everyMs` per isolate, or at once when a local raise
 * extends the published one by `everyMs` or more.
 * Returns undefined when there is nothing to do, else a promise the caller hands to `waitUntil`: the
 * request never waits for it (the gate reads the last value synced).
 */
export function syncSharedSignal(store: () => SlowSignalStore, everyMs: number, now = Date.now()): Promise<void> | undefined {
  // A raise is sent when it extends what was published by a sync interval or more (not on every slow request).
  const raise = localSlowUntil - publishedUntil >= everyMs ? localSlowUntil : 0;
  if (!raise && now - syncedAt < everyMs) return undefined;
  syncedAt = now;
  if (raise) publishedUntil = raise;
  return (
    store()
      .slowSignal(raise)
      // The signal is advisory: without its object each isolate still tightens on its own p95.
      .then(noteSharedSlow, () => {})
  );
}

/** Slots in use and critical requests waiting (tests, logs). */
export function gateStats(): { inflight: number; waiting: number; p95: number; slow: boolean } {
  return { inflight, waiting: waiting.length, p95: originP95(), slow: databaseSlow() };
}

/** Forgets everything (tests). */
export function resetGate(): void {
  inflight = 0;
  waiting.length = 0;
  samples.length = 0;
  next = 0;
  localSlowUntil = 0;
  sharedSlowUntil = 0;
  syncedAt = 0;
  publishedUntil = 0;
}
