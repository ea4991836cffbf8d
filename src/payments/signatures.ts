/**
 * Webhook signature verification on the raw body, before any parsing.
 * - Stripe: `Stripe-Signature: t=<unix>,v1=<hex hmac>[,v1=…]`, HMAC-SHA256 over `${t}.${body}`.
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> [v1,<b64>…]`,
 *   HMAC-SHA256 over `${id}.${timestamp}.${body}` with the base64 key after `whsec_`.
 * Several active secrets (rotation); constant-time comparison; |now − t| ≤ tolerance.
 */
import { hmacSha256, timingSafeEqual } from "../lib/crypto.ts";
import { b64, fromB64 } from "../lib/encoding.ts";

export class SignatureError extends Error {
  readonly status: 400 | 401;
  constructor(status: 400 | 401, message: string) {
    super(message);
    this.name = "SignatureError";
    this.status = status;
  }
}

function fromHex(hex: string): Uint8Array | null {
  if (!/^([0-9a-f]{2})+$/i.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

/** Standard Webhooks secrets are `whsec_` + base64 of the key bytes (the prefix is optional). */
export function webhookKeyBytes(secret: string): Uint8Array | null {
  return fromB64OrNull(secret.startsWith("whsec_") ? secret.slice(6) : secret);
}

function fromB64OrNull(text: string): Uint8Array | null {
  try {
    return fromB64(text);
  } catch {
    return null;
  }
}

function checkTimestamp(t: number, nowSec: number, toleranceSec: number): void {
  if (!Number.isFinite(t)) throw new SignatureError(400, "The signature timestamp is not a number.");
  if (Math.abs(nowSec - t) > toleranceSec) throw new SignatureError(401, "The signature timestamp is outside the tolerance window.");
}

export async function verifyStripe(
  body: string,
  header: string | undefined,
  secrets: string[],
  toleranceSec = 300,
  nowSec = Date.now() / 1000,
): Promise<void> {
  if (!header) throw new SignatureError(400, "Missing Stripe-Signature header.");
  const parts = header.split(",").map((p) => p.trim().split("="));
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  const v1 = parts.filter(([k, v]) => k === "v1" && v).map(([, v]) => fromHex(v as string));
  if (!parts.some(([k]) => k === "t") || v1.length === 0) throw new SignatureError(400, "Malformed Stripe-Signature header.");
  checkTimestamp(t, nowSec, toleranceSec);
  for (const secret of secrets) {
    const expected = await hmacSha256(secret, `${t}.${body}`);
    if (v1.some((sig) => sig && timingSafeEqual(sig, expected))) return;
  }
  throw new SignatureError(401, "No signature matches a configured secret.");
}

export async function verifyStandardWebhook(
  body: string,
  headers: { id?: string | undefined; timestamp?: string | undefined; signature?: string | undefined },
  secrets: string[],
  toleranceSec = 300,
  nowSec = Date.now() / 1000,
): Promise<void> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) throw new SignatureError(400, "Missing webhook-id, webhook-timestamp or webhook-signature header.");
  if (!/^\d+$/.test(timestamp)) throw new SignatureError(400, "webhook-timestamp must be unix seconds.");
  checkTimestamp(Number(timestamp), nowSec, toleranceSec);
  const given = signature
    .split(" ")
    .map((s) => s.split(","))
    .filter(([v, sig]) => v === "v1" && sig)
    .map(([, sig]) => fromB64OrNull(sig as string));
  if (given.length === 0) throw new SignatureError(400, "webhook-signature has no v1 signature.");
  for (const secret of secrets) {
    const key = webhookKeyBytes(secret);
    if (!key) continue;
    const expected = await hmacSha256(key, `${id}.${timestamp}.${body}`);
    if (given.some((sig) => sig && timingSafeEqual(sig, expected))) return;
  }
  throw new SignatureError(401, "No signature matches a configured secret.");
}

/** Signs like a Standard Webhooks sender (used by the sandbox provider). */
export async function signStandardWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = webhookKeyBytes(secret);
  if (!key) throw new Error("invalid webhook secret");
  return `v1,${b64(await hmacSha256(key, `${id}.${timestamp}.${body}`))}`;
}
