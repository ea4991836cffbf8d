/**
 * The one place for HMAC-SHA256 and constant-time comparison (passwords, cursors, webhook
 * signatures). Keys are imported once per secret and kept per isolate: importKey is not free,
 * and the same few secrets sign every request. Runs in Workers and Node alike.
 */
import { b64 } from "./encoding.ts";

const enc = new TextEncoder();
const MAX_KEYS = 64;
const keys = new Map<string, Promise<CryptoKey>>();

/** An HMAC-SHA256 key for `secret` (text is UTF-8 encoded), imported once per isolate. */
export function hmacKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const id = typeof secret === "string" ? `s:${secret}` : `b:${b64(secret)}`;
  let key = keys.get(id);
  if (!key) {
    // A handful of configured secrets in practice; the bound only stops unbounded growth.
    if (keys.size >= MAX_KEYS) keys.clear();
    const raw = typeof secret === "string" ? enc.encode(secret) : secret;
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(id, key);
  }
  return key;
}

export async function hmacSha256(secret: string | Uint8Array, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), enc.encode(message)));
}

/** Constant-time equality of two byte arrays (the length is not secret). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
