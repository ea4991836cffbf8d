/**
 * The one call path to a carrier, whatever the adapter: breaker (the shared CircuitBreaker Durable
 * Object, one per carrier) → token (src/shipping/token-cache.ts) → the call, under a timeout per attempt.
 * - a 401 to the call: the token is invalidated and the call retried once with a fresh one;
 * - network errors, timeouts, 429 and 5xx: retried at the outbound schedule of src/lib/backoff.ts
 *   (100 ms, 400 ms, 1,600 ms, jittered; the payment client's helper), each failure counted by the breaker;
 * - any other 4xx: the carrier refused this request; not retried, and not a breaker failure (it answered).
 * When the breaker is open, the credentials are refused or every attempt failed, it throws
 * CarrierUnavailable: the caller serves its fallback.
 */
import type { BreakerDecision, BreakerState } from "../../durable-objects/circuit-breaker.ts";
import { outboundRetryDelay } from "../lib/backoff.ts";
import type { Logger } from "../lib/logger.ts";
import { sleep as realSleep, withTimeout } from "../lib/timeout.ts";
import { type Carrier, CarrierError } from "./carrier.ts";
import { type TokenSource, TokenWaitError } from "./token-cache.ts";

export type UnavailableReason = "breaker_open" | "carrier_failed" | "auth_failed";

export class CarrierUnavailable extends Error {
  readonly reason: UnavailableReason;
  constructor(reason: UnavailableReason, message: string) {
    super(message);
    this.name = "CarrierUnavailable";
    this.reason = reason;
  }
}

/** The carrier answered that it cannot do this (a 4xx other than 401 and 429). */
export class CarrierRefused extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = "CarrierRefused";
    this.status = status;
  }
}

export interface CarrierBreaker {
  acquire(openMs: number): Promise<BreakerDecision>;
  record(success: boolean, threshold: number): Promise<BreakerState>;
}

export interface CarrierCallPolicy {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  breakerThreshold: number;
  breakerOpenMs: number;
}

export interface CarrierCallDeps {
  carrier: Carrier;
  tokens: TokenSource;
  breaker: CarrierBreaker;
  policy: CarrierCallPolicy;
  log: Logger;
  /** Injected in tests to record the delays instead of waiting them out; and the jitter's random source. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const asCarrierError = (err: unknown): CarrierError =>
  err instanceof CarrierError ? err : new CarrierError(err instanceof Error ? err.message : "carrier call failed", null);

/** One attempt: a token, the call; on a 401, a fresh token and the call once more. */
async function attempt<T>(d: CarrierCallDeps, call: (token: string) => Promise<T>): Promise<T> {
  const what = `${d.carrier.name} carrier`;
  const first = await d.tokens.get();
  try {
    return await withTimeout(call(first.token), d.policy.timeoutMs, what);
  } catch (err) {
    if (!(err instanceof CarrierError && err.status === 401)) throw err;
    // Refused before its time (revoked, rotated keys, clock skew): forget it everywhere, refresh once, retry once.
    d.log.info("carrier refused its token: refreshing", { component: "shipping", carrier: d.carrier.name, generation: first.generation });
    await d.tokens.invalidate(first.generation);
    const fresh = await d.tokens.get();
    return await withTimeout(call(fresh.token), d.policy.timeoutMs, what);
  }
}

/**
 * The breaker itself unreachable (its Durable Object erroring) must not turn a quote into a 500: calls go
 * ahead as if it were closed (each still has its timeout and the retry budget), and the outage is logged.
 */
function failOpen(d: CarrierCallDeps): CarrierBreaker {
  const warn = (err: unknown) =>
    d.log.warn("carrier breaker unavailable: failing open", {
      component: "shipping",
      carrier: d.carrier.name,
      error: err instanceof Error ? err.name : "error",
    });
  return {
    acquire: (openMs) =>
      d.breaker.acquire(openMs).catch((err: unknown): BreakerDecision => {
        warn(err);
        return { allowed: true, state: "closed", retryAfterSec: 0 };
      }),
    record: (success, threshold) =>
      d.breaker.record(success, threshold).catch((err: unknown): BreakerState => {
        warn(err);
        return "closed";
      }),
  };
}

export async function callCarrier<T>(d: CarrierCallDeps, operation: string, call: (token: string) => Promise<T>): Promise<T> {
  const { policy } = d;
  const pause = d.sleep ?? realSleep;
  const breaker = failOpen(d);
  for (let n = 1; n <= policy.maxAttempts; n++) {
    const gate = await breaker.acquire(policy.breakerOpenMs);
    if (!gate.allowed) {
      throw new CarrierUnavailable("breaker_open", `the ${d.carrier.name} breaker is ${gate.state} (retry in ${gate.retryAfterSec} s)`);
    }
    try {
      const result = await attempt(d, call);
      await breaker.record(true, policy.breakerThreshold);
      return result;
    } catch (err) {
      const e = asCarrierError(err);
      // Refused credentials (the token endpoint said no, or a fresh token got a 401 too): no retry will help.
      const authFailed = e.status === 401 || (e.stage === "token" && !e.retryable);
      if (!e.retryable && !authFailed) {
        await breaker.record(true, policy.breakerThreshold);
        throw new CarrierRefused(e.message, e.status);
      }
      // A request that only waited for another's token refresh did not call the carrier: nothing to count.
      const state = err instanceof TokenWaitError ? "not_counted" : await breaker.record(false, policy.breakerThreshold);
      d.log.warn("carrier call failed", {
        component: "shipping",
        carrier: d.carrier.name,
        operation,
        attempt: n,
        stage: e.stage,
        status: e.status,
        retryable: !authFailed,
        breaker: state,
        error: e.message.slice(0, 200),
      });
      if (authFailed) throw new CarrierUnavailable("auth_failed", e.message);
      if (state === "open") throw new CarrierUnavailable("breaker_open", `the ${d.carrier.name} breaker opened`);
      if (n < policy.maxAttempts) await pause(outboundRetryDelay(n, policy.retryBaseMs, d.random));
    }
  }
  throw new CarrierUnavailable("carrier_failed", `${d.carrier.name}: ${policy.maxAttempts} attempts failed`);
}
