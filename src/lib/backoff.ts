/**
 * The one retry delay formula (provider calls, cache purges, queue redelivery): exponential
 * with "equal jitter" — half of base·2^(attempt−1) fixed, half random — capped. The fixed half
 * keeps retries spaced out; the random half stops many clients retrying in lockstep.
 */
export function backoffDelay(attempt: number, base: number, cap = Number.POSITIVE_INFINITY): number {
  if (base <= 0) return 0;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + Math.random() * (exp / 2);
}
