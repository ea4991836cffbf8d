/**
 * A quoted rate travels to checkout as a signed, self-contained `rate_id`: no row is written per quote,
 * and checkout verifies it with one HMAC (no round trip). Everything checkout charges is inside the
 * signed part (carrier, service, amount, currency, estimated) with what it is valid for: an expiry, the
 * destination and the cart (hashes of src/shipping/address.ts). A client that edits any byte of it,
 * sends it after `exp`, or for another address or cart is refused with a 409.
 *
 *   rt1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(SHIPPING_RATE_SECRET, "rt1." + claims))>
 */
import { hmacSha256, timingSafeEqual } from "../lib/crypto.ts";
import { b64url, fromB64url } from "../lib/encoding.ts";

const VERSION = "rt1";

export interface RateClaims {
  /** Carrier (`sandbox`, `fedex`, or `flat` for a fallback rate), service code and its display name. */
  carrier: string;
  service: string;
  service_name: string;
  /** Minor units of `currency`. */
  amount_cents: number;
  currency: string;
  estimated_days: number | null;
  /** A configured flat rate served while the carrier was unavailable. */
  estimated: boolean;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** SHA-256 of destinationKey(address) and of itemsKey(items). */
  dst: string;
  items: string;
}

/** The claims, in this order, are the signed payload. */
const FIELDS = [
  "carrier",
  "service",
  "service_name",
  "amount_cents",
  "currency",
  "estimated_days",
  "estimated",
  "exp",
  "dst",
  "items",
] as const;

export async function signRate(secret: string, claims: RateClaims): Promise<string> {
  const payload = b64url(new TextEncoder().encode(JSON.stringify(FIELDS.map((f) => claims[f]))));
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${b64url(await hmacSha256(secret, signed))}`;
}

export type RateCheck = { ok: true; claims: RateClaims } | { ok: false; reason: "malformed" | "signature" };

/** The claims if `rateId` was signed with `secret` and is well formed; the signature is compared in constant time. */
export async function verifyRate(secret: string, rateId: string): Promise<RateCheck> {
  const parts = rateId.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: "malformed" };
  const [, payload, signature] = parts as [string, string, string];
  let given: Uint8Array;
  try {
    given = fromB64url(signature);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!timingSafeEqual(given, await hmacSha256(secret, `${VERSION}.${payload}`))) return { ok: false, reason: "signature" };
  // Signed by us, so well formed by construction; parsed defensively all the same.
  try {
    const values = JSON.parse(new TextDecoder().decode(fromB64url(payload))) as unknown[];
    if (!Array.isArray(values) || values.length !== FIELDS.length) return { ok: false, reason: "malformed" };
    return { ok: true, claims: Object.fromEntries(FIELDS.map((f, i) => [f, values[i]])) as unknown as RateClaims };
  } catch {
    return { ok: false, reason: "malformed" };
  }
}
