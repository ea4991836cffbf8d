/**
 * Opaque, signed pagination cursors. The payload is base64url JSON; an
 * HMAC-SHA256 over (scope, payload) makes it tamper-evident, and the scope
 * (route + filters) stops a cursor from one query being replayed on another.
 */
import { ApiError } from "./problem.ts";

const enc = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, k);
  }
  return k;
}

export function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromB64url(s: string): Uint8Array {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

const SIG_BYTES = 16;

export async function encodeCursor(secret: string, scope: string, position: readonly (string | number)[]): Promise<string> {
  const body = b64url(enc.encode(JSON.stringify(position)));
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), enc.encode(`${scope}\n${body}`)));
  return `${body}.${b64url(sig.slice(0, SIG_BYTES))}`;
}

const invalid = () =>
  new ApiError("invalid_cursor", "The cursor is malformed, was altered, or belongs to a different query.", {
    errors: [{ field: "cursor", in: "query", code: "invalid_cursor", message: "not a cursor issued for this query" }],
  });

/** Verifies and decodes a cursor; any tampering or scope mismatch is a 400. */
export async function decodeCursor(secret: string, scope: string, cursor: string): Promise<unknown[]> {
  const m = /^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{22})$/.exec(cursor);
  if (!m) throw invalid();
  const [, body = "", sigText = ""] = m;
  const key = await hmacKey(secret);
  const full = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(`${scope}\n${body}`)));
  let given: Uint8Array;
  try {
    given = fromB64url(sigText);
  } catch {
    throw invalid();
  }
  if (given.length !== SIG_BYTES || !crypto.subtle.timingSafeEqual(given, full.slice(0, SIG_BYTES))) throw invalid();
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromB64url(body)));
    if (!Array.isArray(value)) throw new Error("not an array");
    return value;
  } catch {
    throw invalid();
  }
}
