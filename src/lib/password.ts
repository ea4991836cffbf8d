/**
 * Password hashing with PBKDF2-SHA256 (WebCrypto: runs in Workers and Node alike).
 * The parameters are stored with the hash, so the cost can be raised later and old
 * hashes still verify (and are upgraded at the next login). workerd caps PBKDF2 at
 * 100,000 iterations, which is what we use.
 */
import { timingSafeEqual } from "./crypto.ts";
import { b64url, fromB64url } from "./encoding.ts";

const enc = new TextEncoder();
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(password.normalize("NFKC")), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS));
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return `pbkdf2-sha256$${iterations}$${b64url(salt)}$${b64url(await derive(password, salt, iterations))}`;
}

export interface VerifyResult {
  ok: boolean;
  /** True when the stored hash uses weaker parameters than today's: rehash it. */
  needsRehash: boolean;
}

export async function verifyPassword(password: string, stored: string): Promise<VerifyResult> {
  const [scheme, iter, saltText, hashText] = stored.split("$");
  const iterations = Number(iter);
  if (scheme !== "pbkdf2-sha256" || !Number.isInteger(iterations) || iterations < 1 || !saltText || !hashText) {
    return { ok: false, needsRehash: false };
  }
  const actual = await derive(password, fromB64url(saltText), Math.min(iterations, PBKDF2_ITERATIONS));
  return { ok: timingSafeEqual(actual, fromB64url(hashText)), needsRehash: iterations < PBKDF2_ITERATIONS };
}

/** A hash of a random password: verified against when the email is unknown, so both cases cost the same. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomUUID());
  return dummy;
}
