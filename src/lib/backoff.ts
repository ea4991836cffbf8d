/**
 * The one retry delay formula (outbound calls, cache purges, queue redelivery): exponential
 * with "equal jitter" — half of base·factor^(attempt−1) fixed, half random — capped. The fixed half
 * keeps retries spaced out; the random half stops many clients retrying in lockstep.
 * `random` is injectable so tests can pin the jitter (0 → the lower bound, 1 → the nominal delay).
 */
export function backoffDelay(
  attempt: number,
  base: number,
  cap = Number.POSITIVE_INFINITY,
  opts: { factor?: number; random?: () => number } = {},
): number {
  if (base <= 0) return 0;
  const exp = Math.min(cap, base * (opts.factor ?? 2) ** Math.max(0, attempt - 1));
  return exp / 2 + (opts.random ?? Math.random)() * (exp / 2);
}

/**
 * The schedule of every outbound HTTP client (payment provider, shipping carriers): before retry n,
 * base·4^(n−1) — 100 ms, 400 ms, 1,600 ms with the default base of 100 — each jittered as above.
 */
export const OUTBOUND_RETRY_FACTOR = 4;

export function outboundRetryDelay(attempt: number, baseMs: number, random?: () => number): number {
  return backoffDelay(attempt, baseMs, Number.POSITIVE_INFINITY, { factor: OUTBOUND_RETRY_FACTOR, ...(random ? { random } : {}) });
}
