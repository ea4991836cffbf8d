/** The provider interface, and the resilient call path every provider goes through. */
import type { Config } from "../config.ts";
import { outboundRetryDelay } from "../lib/backoff.ts";
import type { Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { sleep, withTimeout } from "../lib/timeout.ts";

export interface CreatePaymentInput {
  paymentId: string;
  orderId: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
  /** Sandbox only: what the simulated customer does. */
  testOutcome?: SandboxOutcome | undefined;
}

export type SandboxOutcome = "succeeded" | "failed" | "delayed_success" | "provider_error" | "provider_timeout";

export interface CreatePaymentResult {
  providerRef: string;
  redirectUrl?: string;
  clientSecret?: string;
}

/** What cancelling an intent found: closed without capture, or too late (captured or being captured). */
export type CancelOutcome = "canceled" | "captured";

/**
 * A payment provider. One intent per order: `createPayment` is idempotent per `paymentId` (the
 * provider's own idempotency key is derived from it), `resumePayment` starts a new attempt on the
 * same intent, `cancelPayment` closes it, `refund` is idempotent per `idempotencyKey`.
 */
export interface PaymentProvider {
  readonly name: "sandbox" | "stripe";
  createPayment(input: CreatePaymentInput): Promise<CreatePaymentResult>;
  resumePayment(providerRef: string, input: CreatePaymentInput): Promise<CreatePaymentResult>;
  cancelPayment(providerRef: string, paymentId: string): Promise<CancelOutcome>;
  refund(input: { providerRef: string; paymentId: string; amountCents: number; idempotencyKey: string }): Promise<{ refundRef: string }>;
}

/** A failure worth retrying (network, timeout, 429, 5xx) vs. one that will not get better. */
export class ProviderError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = "ProviderError";
    this.retryable = retryable;
  }
}

/**
 * Breaker (shared per provider, a Durable Object) → timeout per attempt → up to
 * PROVIDER_MAX_ATTEMPTS on retryable failures, spaced by the outbound schedule of src/lib/backoff.ts
 * (100 ms, 400 ms, … with jitter; the shipping carriers use the same helper).
 * An open breaker answers at once with 503 + Retry-After. Every provider operation goes through here;
 * operations that change state at the provider must be idempotent (they are: idempotency keys).
 */
export async function callProvider<T>(
  env: Env,
  cfg: Config,
  log: Logger,
  provider: PaymentProvider,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  const breaker = env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(`payments:${provider.name}`));
  let lastError: unknown;
  for (let attempt = 1; attempt <= cfg.PROVIDER_MAX_ATTEMPTS; attempt++) {
    const gate = await breaker.acquire(cfg.BREAKER_OPEN_SEC * 1000);
    if (!gate.allowed) {
      throw new ApiError("provider_unavailable", `The ${provider.name} payment provider is unavailable; retry later.`, {
        headers: { "Retry-After": String(gate.retryAfterSec) },
        extra: { breaker: gate.state },
      });
    }
    try {
      const result = await withTimeout(call(), cfg.PROVIDER_TIMEOUT_MS, `${provider.name} provider`);
      await breaker.record(true, cfg.BREAKER_FAILURE_THRESHOLD);
      return result;
    } catch (err) {
      lastError = err;
      const retryable = !(err instanceof ProviderError) || err.retryable;
      const state = await breaker.record(false, cfg.BREAKER_FAILURE_THRESHOLD);
      log.warn("payment provider call failed", {
        component: "payments",
        provider: provider.name,
        operation,
        attempt,
        retryable,
        breaker: state,
        error: err instanceof Error ? err.message.slice(0, 200) : "error",
      });
      if (!retryable || state === "open") break;
      if (attempt < cfg.PROVIDER_MAX_ATTEMPTS) await sleep(outboundRetryDelay(attempt, cfg.PROVIDER_RETRY_BASE_MS));
    }
  }
  const detail =
    lastError instanceof ProviderError && !lastError.retryable
      ? "The payment provider refused the request."
      : "The payment provider did not answer; retry later.";
  throw new ApiError("provider_failed", detail, { headers: { "Retry-After": "5" } });
}
